"""A value computed in a forked process is the value computed here, errors included."""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from typing import Any

import pytest

from pdp.core import background
from pdp.core.background import Background, alongside

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the workers fork")


def test_values_come_from_the_forked_process() -> None:
    forked = Background(os.getpid, fork=True)
    assert forked.forked
    assert forked.result() != os.getpid()
    assert not forked.forked  # reaped
    here = Background(os.getpid, fork=False)
    assert not here.forked and here.result() == os.getpid()


def test_a_large_value_streams_back_whole() -> None:
    value = {f"k{i}": (i, str(i) * 3) for i in range(200_000)}  # megabytes: many pipe buffers
    assert Background(lambda: value, fork=True).result() == value


def test_a_failing_function_raises_here_as_without_a_fork() -> None:
    with pytest.raises(ZeroDivisionError):
        Background(lambda: 1 // 0, fork=True).result()


def cut_stream(func: object, writing: int) -> None:
    """A worker that dies halfway through sending its value."""
    os.write(writing, pickle.dumps(list(range(10_000)), protocol=5)[:5_000])
    os._exit(1)


def test_a_worker_cut_off_mid_stream_is_replaced_by_computing_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(background, "_work", cut_stream)
    worker = Background(os.getpid, fork=True)
    assert worker.forked
    assert worker.result() == os.getpid()


def forever() -> None:
    while True:
        time.sleep(1)


def test_a_cancelled_worker_is_killed_and_reaped() -> None:
    worker = Background(forever, fork=True)
    pid = worker._pid
    assert pid is not None
    worker.cancel()
    assert not worker.forked
    with pytest.raises(ChildProcessError):  # reaped: no such child any more
        os.waitpid(pid, os.WNOHANG)


def test_a_refused_fork_computes_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    worker = Background(os.getpid, fork=True)
    assert not worker.forked and worker.result() == os.getpid()


def test_running_counts_this_process() -> None:
    """`/proc/loadavg` counts the caller among the processes ready to run."""
    assert background.running() >= 1


def test_an_overloaded_machine_is_not_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # other tests may leave threads
    monkeypatch.setattr(background, "running", lambda: float(cores + 1))
    assert not background.can_fork()
    monkeypatch.setattr(background, "running", lambda: float(cores))
    assert background.can_fork() == (cores >= 2)


def test_a_threaded_process_is_not_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not background.can_fork()


def test_alongside_gives_both_values() -> None:
    there, here = alongside(os.getpid, lambda: "here", fork=True)
    assert there != os.getpid() and here == "here"
    assert alongside(os.getpid, lambda: "here", fork=False) == (os.getpid(), "here")


def test_an_error_here_ends_the_forked_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Background[None]] = []
    original = Background

    def recorded(func: Any, fork: bool) -> Background[None]:
        started.append(original(func, fork))
        return started[-1]

    monkeypatch.setattr(background, "Background", recorded)
    with pytest.raises(ZeroDivisionError):
        alongside(forever, lambda: 1 // 0, fork=True)
    assert len(started) == 1 and not started[0].forked  # killed and reaped
