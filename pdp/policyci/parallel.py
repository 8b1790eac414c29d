"""Loading the two sides of a diff at once: the second in a forked process when that pays.

Reading a bank-sized policy is CPU-bound Python, so two of them take twice as
long in one process. `compile_sources` reads every source's texts first, then,
when the texts are large and the machine has a core to spare, parses the others
in forked worker processes while it parses and compiles the first itself; a
worker sends back its `CheckResult` pickled, and the compiling happens here. The answers,
and the error raised when a source is broken (the first broken one, in order),
are exactly those of calling `compile_source` on each source in turn; a worker
that fails for any reason is replaced by parsing its texts here.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Generator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.gcpause import paused_gc
from pdp.core.load import CheckResult, check_texts
from pdp.errors import PolicyError
from pdp.policyci.git import DEFAULT_PATH, RevisionError, source_texts

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
    compiled = []
    outcomes = _checked(read)
    try:
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
            if outcome.policy is None:
                raise PolicyError(outcome.problems)
            compiled.append(compile_policy(outcome.policy))
    finally:
        outcomes.close()
    return compiled


def can_fork() -> bool:
    """True where forking is safe and useful: Linux, one thread, a core to spare.

    A core is spared when, right now, the processes ready to run (this one
    included) leave one free. The one-minute load average would count this
    process's own work of the last minute, and refuse the fork exactly when a
    busy process (a CI job) needs it.
    """
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    cores = len(os.sched_getaffinity(0))
    return threading.active_count() == 1 and cores >= 2 and running() <= cores - 1


def running() -> float:
    """The processes ready to run now (`/proc/loadavg`), else the one-minute load average."""
    try:
        return float(Path("/proc/loadavg").read_text("ascii").split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0]


def _checked(read: list[Texts | Exception]) -> Generator[CheckResult | Exception, None, None]:
    """Each source's check result, in order, as soon as it is needed.

    The caller compiles the first policy while the workers still parse the
    others; a worker still running when the caller stops reading is ended.
    """
    jobs = {i: texts for i, texts in enumerate(read) if not isinstance(texts, Exception)}
    size = sum(len(text) for texts in jobs.values() for _, text in texts)
    workers: dict[int, tuple[BaseProcess, Connection]] = {}
    if len(jobs) > 1 and size >= PARALLEL_BYTES and can_fork():
        workers = {i: _start(texts) for i, texts in list(jobs.items())[1:]}
    try:
        for i, texts in enumerate(read):
            if isinstance(texts, Exception):
                yield texts
            elif i in workers:
                yield _join(*workers.pop(i), texts)
            else:
                yield check_texts(texts)
    finally:
        for process, receiving in workers.values():
            receiving.close()
            process.kill()
            process.join()


def _start(texts: Texts) -> tuple[BaseProcess, Connection]:
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(texts, sending), daemon=True)
    process.start()
    sending.close()
    return process, receiving


def _work(texts: Texts, sending: Connection) -> None:
    """In the worker: check the texts and send the pickled result (nothing on any failure)."""
    try:
        with paused_gc():
            data = pickle.dumps(check_texts(texts), protocol=pickle.HIGHEST_PROTOCOL)
        sending.send_bytes(data)
    except BaseException:  # the parent parses the texts itself and reports what goes wrong
        pass
    finally:
        sending.close()


def _join(process: BaseProcess, receiving: Connection, texts: Texts) -> CheckResult:
    try:
        data = receiving.recv_bytes()
    except (EOFError, OSError):
        data = b""
    finally:
        receiving.close()
        process.join()
    if not data:
        return check_texts(texts)
    with paused_gc():
        result: CheckResult = pickle.loads(data)
    return result
