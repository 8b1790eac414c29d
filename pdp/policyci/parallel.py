"""Doing the independent parts of a diff at once, in forked processes, when that pays.

Reading a bank-sized policy is CPU-bound Python, so two of them take twice as
long in one process. `compile_sources` reads every source's texts first, then,
when the texts are large and the machine has a core to spare, checks and
compiles the others in forked worker processes while it does the first
itself; a worker sends back its `CompiledPolicy` pickled. The answers, and the
error raised when a source is broken (the first broken one, in order), are
exactly those of calling `compile_source` on each source in turn.

`Background` is the one mechanism: a function computed in a forked process
that sends back its pickled value, or nothing on any failure, in which case
the caller computes it itself (and so reports any error as it would have).
`pdp diff` also uses it to compute the review findings of a change while it
computes the symbolic diff.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from functools import partial
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from pdp.core.compile import CompiledPolicy
from pdp.core.gcpause import paused_gc
from pdp.errors import PolicyError
from pdp.policyci.git import DEFAULT_PATH, RevisionError, compile_texts, source_texts

T = TypeVar("T")
Texts = list[tuple[str, str]]
PARALLEL_BYTES = 1_000_000  # below this much policy text, a process costs more than it saves
PIPE_BUFFER = 1 << 16  # pickle protocol 5 writes frames of 64 KiB


class Background(Generic[T]):
    """`func()` computed in a forked process, started now when `fork` is true.

    `result()` is its value, unpickled from a pipe while the process still
    pickles it (the two overlap); when the process sends nothing or a broken
    stream (it failed, was killed, or there was none), `result()` calls
    `func()` here, so an error is raised in this process exactly as without a
    fork. `cancel()` ends a process whose value is no longer wanted.
    """

    def __init__(self, func: Callable[[], T], fork: bool) -> None:
        self.func = func
        self._process: BaseProcess | None = None
        self._reading: BinaryIO | None = None
        if fork:
            self._start()

    def _start(self) -> None:
        """Fork the worker; when the system refuses, `result()` computes the value here."""
        reading, writing = os.pipe()
        process = multiprocessing.get_context("fork").Process(
            target=_work, args=(self.func, reading, writing), daemon=True
        )
        try:
            process.start()
        except OSError:  # no process to spare (EAGAIN, ENOMEM): do it here
            os.close(reading)
            return
        finally:
            os.close(writing)
        self._process = process
        self._reading = os.fdopen(reading, "rb")  # closed by _end

    @property
    def forked(self) -> bool:
        """True when a process was started for the value."""
        return self._process is not None

    def result(self) -> T:
        """The value: the forked process's, else `func()` computed here."""
        if self._reading is None:
            return self.func()
        try:
            with paused_gc():
                value: T = pickle.load(self._reading)
        except Exception:  # nothing or a cut stream: compute it here, errors included
            self._end(kill=True)
            return self.func()
        self._end(kill=False)
        return value

    def cancel(self) -> None:
        """End the process, if one still runs."""
        self._end(kill=True)

    def _end(self, kill: bool) -> None:
        reading, process = self._reading, self._process
        self._reading = self._process = None
        if reading is not None:
            reading.close()
        if process is not None:
            if kill:
                process.kill()
            process.join()


def _work(func: Callable[[], Any], reading: int, writing: int) -> None:
    """In the worker: compute the value and stream it pickled (nothing on any failure).

    The worker ends with `os._exit`: freeing the value's millions of objects
    one by one would only keep the parent waiting for the exit.
    """
    os.close(reading)
    code = 1  # a cut stream: the parent computes the value itself and reports errors
    try:
        with os.fdopen(writing, "wb", buffering=PIPE_BUFFER) as out, paused_gc():
            pickle.dump(func(), out, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    finally:
        os._exit(code)


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
