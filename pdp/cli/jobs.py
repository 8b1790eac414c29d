"""Running a command's independent steps at once, in worker processes (`--jobs N`).

The library is sequential; the `pdp` process owns its cores. A command that
has independent steps (`pdp diff` loads two versions, then computes the
symbolic diff and the findings of the change; `pdp ci` also checks the
format) starts some of them in a `concurrent.futures.ProcessPoolExecutor`
and does the others itself. With `--jobs 1` every step runs in this process,
in order; the output is the same either way.

A worker started with `start` gets its arguments and returns its value
pickled. `start_inherited` is for steps whose arguments are large (two
compiled bank-sized policies): where processes start by forking, the
worker inherits them from this process's memory, and only its answer is
pickled; elsewhere the step runs here.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from functools import cache
from itertools import count
from types import TracebackType
from typing import Annotated, Any, Generic, TypeVar

import typer

T = TypeVar("T")
MAX_DEFAULT_JOBS = 3  # no command has more independent steps than this at once

Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Processes for independent steps (1: all in this one; default: the cores, up to 3).",
    ),
]

_inherited: dict[int, Callable[[], Any]] = {}  # steps a forked worker finds in its memory
_ids = count()


def default_jobs() -> int:
    """The usable cores, at most `MAX_DEFAULT_JOBS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_JOBS))


class Steps:
    """Independent steps of one command: in up to `jobs - 1` workers, or here when `jobs` is 1.

    Use as a context manager; leaving it ends the workers.
    """

    def __init__(self, jobs: int | None) -> None:
        self.jobs = default_jobs() if jobs is None else jobs
        self._pool: Executor | None = None
        self._inheriting: list[Executor] = []

    def __enter__(self) -> Steps:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for pool in [*self._inheriting, *([self._pool] if self._pool else [])]:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pool, self._inheriting = None, []

    def start(self, func: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start `func(*args)` in a worker; the returned function waits for its value.

        With one job, the returned function computes the value here when called.
        """
        if self.jobs < 2:
            return lambda: func(*args)
        future: Future[T] = self._executor().submit(func, *args)
        return future.result

    @property
    def forks(self) -> bool:
        """True when `start_inherited` starts its steps in forked workers (not here)."""
        return self.jobs > 1 and "fork" in multiprocessing.get_all_start_methods()

    def start_inherited(self, func: Callable[[], T]) -> Started[T]:
        """Start `func()` in a worker that inherits it by forking (see the module docstring).

        Where it cannot (one job, no fork), the step runs here when its result is asked.
        """
        if not self.forks:
            return Started.here(func)
        key = next(_ids)
        _inherited[key] = func
        # A fresh pool, whose worker forks after `func` is in place.
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        self._inheriting.append(pool)
        future: Future[T] = pool.submit(_run_inherited, key)
        future.add_done_callback(lambda _: _inherited.pop(key, None))
        return Started(future.result, future.done)

    def _executor(self) -> Executor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.jobs - 1)
        return self._pool


class Started(Generic[T]):
    """A step started by `Steps.start_inherited`: `result()` (or a call) waits for its value
    and raises its error; `done()` is True when it would not wait."""

    def __init__(self, result: Callable[[], T], done: Callable[[], bool]) -> None:
        self.result = result
        self.done = done

    def __call__(self) -> T:
        return self.result()

    @classmethod
    def here(cls, func: Callable[[], T]) -> Started[T]:
        """A step run in this process when its result is first asked (once)."""
        return cls(cache(func), lambda: True)


def _run_inherited(key: int) -> Any:
    """In a forked worker: run the step this process inherited under `key`."""
    return _inherited[key]()
