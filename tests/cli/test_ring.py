"""The shared-memory ring between a forked report worker and this process."""

from __future__ import annotations

import random
import time

import pytest

from pdp.cli import ring as ring_module
from pdp.cli.jobs import Steps
from pdp.cli.ring import Ring


def _lines(count: int, seed: int) -> list[bytes]:
    """Lines of 0 to 300 bytes (some longer than the rings below)."""
    rng = random.Random(seed)
    return [
        bytes(rng.choice(b"abcxyz{}:,") for _ in range(rng.randrange(300))) for _ in range(count)
    ]


def _write(ring: Ring, lines: list[bytes], pause: float = 0.0, fail: bool = False) -> int:
    with ring.writer() as out:
        for line in lines:
            out.write(line + b"\n")
            if pause:
                out.flush()
                time.sleep(pause)
        if fail:
            out.flush()
            raise OSError("no space left on device")
    return len(lines)


@pytest.mark.parametrize(
    ("size", "take", "buffer"), [(64, 7, 5), (257, 64, 1000), (1 << 16, 1 << 10, 1 << 12)]
)
def test_lines_pass_whole_and_in_order(
    size: int, take: int, buffer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines longer than the ring, wrapped around it, read in pieces: the same bytes."""
    monkeypatch.setattr(ring_module, "TAKE", take)
    monkeypatch.setattr(ring_module, "BUFFER", buffer)
    lines = _lines(2000, size)
    ring = Ring(size)
    with Steps(2) as steps:
        job = steps.start_inherited(lambda: _write(ring, lines))
        reader = ring.reader()
        try:
            assert [reader.line(job) for _ in lines] == lines
        finally:
            ring.close()
        assert job.result() == len(lines)


def test_the_reader_waits_for_a_slow_worker() -> None:
    lines = _lines(20, 1)
    ring = Ring(128)
    with Steps(2) as steps:
        job = steps.start_inherited(lambda: _write(ring, lines, pause=0.01))
        reader = ring.reader()
        try:
            assert [reader.line(job) for _ in lines] == lines
        finally:
            ring.close()


@pytest.mark.parametrize(
    ("fail", "error", "message"),
    [(True, OSError, "no space left"), (False, RuntimeError, "ended before writing")],
)
def test_a_worker_that_fails_or_ends_early_is_an_error_to_the_waiting_reader(
    fail: bool, error: type[Exception], message: str
) -> None:
    """Its lines are read, then its error (or the lack of a line) is raised, not waited on."""
    lines = _lines(5, 2)
    ring = Ring(1 << 12)
    with Steps(2) as steps:
        job = steps.start_inherited(lambda: _write(ring, lines, fail=fail))
        reader = ring.reader()
        try:
            assert [reader.line(job) for _ in lines] == lines
            with pytest.raises(error, match=message):
                reader.line(job)
        finally:
            ring.close()


def test_a_worker_waiting_for_room_stops_when_the_reader_is_gone() -> None:
    """Closed without reading, the ring lets a worker waiting for room fail, not hang."""
    ring = Ring(64)
    with Steps(2) as steps:
        job = steps.start_inherited(lambda: _write(ring, _lines(100, 4)))
        ring.reader()
        ring.close()
        with pytest.raises(BrokenPipeError):
            job.result()
