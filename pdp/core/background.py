"""A value computed in a forked process while this one does something else.

`pdp diff` is CPU-bound Python from end to end, and the machines it runs on
have two cores or more: the second version of a policy is read and compiled
in a forked process while this one does the first (`pdp.policyci.parallel`),
and the review findings of a change are computed while this one computes the
symbolic diff (`pdp.policyci.diff.diff_with_findings`), themselves split over
two processes (`pdp.analysis.review.review_changes`).

`Background(func, fork=True)` forks at once; the child computes `func()` and
streams it pickled through a pipe, which `result()` unpickles as it arrives.
When there is no child (`fork=False`, or the system refused it), or it
sends nothing or a cut stream (it failed or was killed), `result()` calls
`func()` here, so the value, and any error, are exactly those of calling it.
The child ends with `os._exit`, never returning into the caller's code.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from pdp.core.gcpause import paused_gc

T = TypeVar("T")
U = TypeVar("U")
PIPE_BUFFER = 1 << 16  # pickle protocol 5 writes frames of 64 KiB


class Background(Generic[T]):
    """`func()` computed in a forked process, started now when `fork` is true."""

    def __init__(self, func: Callable[[], T], fork: bool) -> None:
        self.func = func
        self._pid: int | None = None
        self._reading: BinaryIO | None = None
        if fork:
            self._start()

    def _start(self) -> None:
        """Fork the worker; when the system refuses, `result()` computes the value here."""
        reading, writing = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no process to spare (EAGAIN, ENOMEM): do it here
            os.close(reading)
            os.close(writing)
            return
        if pid == 0:  # the worker: never returns
            os.close(reading)
            _work(self.func, writing)
        os.close(writing)
        self._pid = pid
        self._reading = os.fdopen(reading, "rb")  # closed by _end

    @property
    def forked(self) -> bool:
        """True while a forked process is computing (or sending) the value."""
        return self._pid is not None

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
        reading, pid = self._reading, self._pid
        self._reading = self._pid = None
        if reading is not None:
            reading.close()
        if pid is not None:
            if kill:  # not reaped yet, so the pid is still this worker's
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def alongside(there: Callable[[], T], here: Callable[[], U], fork: bool) -> tuple[T, U]:
    """`there()` in a forked process (when `fork`) while this one computes `here()`.

    The values are those of calling both here; an error in `here()` ends the
    forked process before it propagates.
    """
    background = Background(there, fork)
    try:
        value = here()
    except BaseException:
        background.cancel()
        raise
    return background.result(), value


def _work(func: Callable[[], Any], writing: int) -> None:
    """In the worker: compute the value, stream it pickled, and exit (0 when all was sent).

    `os._exit` skips freeing the worker's copy of the heap object by object,
    which would only keep the parent waiting, and any cleanup that belongs to
    the parent (its atexit handlers, its buffered output).
    """
    code = 1  # a cut stream: the parent computes the value itself and reports errors
    try:
        with os.fdopen(writing, "wb", buffering=PIPE_BUFFER) as out, paused_gc():
            pickle.dump(func(), out, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    finally:
        os._exit(code)


def can_fork() -> bool:
    """True where forking is safe and useful: Linux, one thread, two cores, not overloaded.

    Overloaded means more processes ready to run right now (this one
    included) than cores. A stricter test, a core left idle, refused the fork
    whenever one other process happened to be runnable at that instant (a
    database's background writer, say), and made `pdp diff` seconds slower
    at random; a worker that shares a busy core costs little more than doing
    its work here. The one-minute load average would count this process's
    own work of the last minute, and refuse exactly when a busy process
    (a CI job) needs it.
    """
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    cores = len(os.sched_getaffinity(0))
    return threading.active_count() == 1 and cores >= 2 and running() <= cores


def running() -> float:
    """The processes ready to run now (`/proc/loadavg`), else the one-minute load average."""
    try:
        return float(Path("/proc/loadavg").read_text("ascii").split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0]
