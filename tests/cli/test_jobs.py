"""`--jobs`: independent steps in worker processes, or all here with one job."""

from __future__ import annotations

import os

from pdp.cli.jobs import Steps, default_jobs


def pid_plus(offset: int) -> int:
    """The worker's process id, plus an argument (which proves the argument arrived)."""
    return os.getpid() + offset


def test_one_job_runs_every_step_here_when_asked() -> None:
    with Steps(1) as steps:
        started = steps.start(pid_plus, 1)
        inherited = steps.start_inherited(lambda: os.getpid())
        assert started() == os.getpid() + 1
        assert inherited() == os.getpid()


def test_more_jobs_run_steps_in_other_processes() -> None:
    big = list(range(100_000))  # inherited by the forked worker, not sent to it
    with Steps(2) as steps:
        started = steps.start(pid_plus, 0)
        inherited = steps.start_inherited(lambda: (os.getpid(), sum(big)))
        assert started() != os.getpid()
        pid, total = inherited()
        assert pid != os.getpid() and total == sum(big)


def test_an_error_in_a_worker_reaches_the_caller() -> None:
    with Steps(2) as steps:
        failing = steps.start(int, "not a number")
        try:
            failing()
        except ValueError as exc:
            assert "not a number" in str(exc)
        else:
            raise AssertionError("the worker's error was lost")


def test_the_default_is_at_least_one_and_at_most_three() -> None:
    assert 1 <= default_jobs() <= 3
    assert Steps(None).jobs == default_jobs()
