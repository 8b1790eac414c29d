"""Loading the two sides of a diff at once: the second in a forked process when that pays.

Reading a bank-sized policy is CPU-bound Python, so two of them take twice as
long in one process. `compile_sources` reads every source's texts first, then,
when the texts are large and the machine has a core to spare, checks and
compiles the others in forked worker processes (`pdp.core.background`) while
it does the first itself; a worker sends back its `CompiledPolicy` pickled.
The answers, and the error raised when a source is broken (the first broken
one, in order), are exactly those of calling `compile_source` on each source
in turn: a worker that fails for any reason is replaced by doing its work here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from pdp.core.background import Background, can_fork
from pdp.core.compile import CompiledPolicy
from pdp.errors import PolicyError, RevisionError
from pdp.policyci.git import DEFAULT_PATH, compile_texts, source_texts

Texts = list[tuple[str, str]]
PARALLEL_BYTES = 1_000_000  # below this much policy text, a process costs more than it saves


def compile_sources(sources: Sequence[str], path: str = DEFAULT_PATH) -> list[CompiledPolicy]:
    """`compile_source` of every source, in order; raise its first `PolicyError`/`RevisionError`."""
    read: list[Texts | Exception] = []
    for source in sources:
        try:
            read.append(source_texts(source, path))
        except (PolicyError, RevisionError) as exc:
            read.append(exc)
    jobs = {i: texts for i, texts in enumerate(read) if not isinstance(texts, Exception)}
    size = sum(len(text) for texts in jobs.values() for _, text in texts)
    fork = len(jobs) > 1 and size >= PARALLEL_BYTES and can_fork()
    workers = {i: _start(texts) for i, texts in list(jobs.items())[1:]} if fork else {}
    compiled = []
    try:
        for i, texts in enumerate(read):
            if isinstance(texts, Exception):
                raise texts
            compiled.append(workers[i].result() if i in workers else compile_texts(texts))
    finally:
        for worker in workers.values():
            worker.cancel()
    return compiled


def _start(texts: Texts) -> Background[CompiledPolicy]:
    """Check and compile one source's texts in a forked worker."""
    return Background(partial(compile_texts, texts), fork=True)
