"""The disk spool: records the store cannot take wait on disk, in order, bounded, and come back.

The store is a real SQLite log behind a switch that makes it unreachable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import pdp.audit.thread_writer as thread_writer
from pdp.audit import LogSettings, read_records, verify_source
from pdp.audit.backend import open_store
from pdp.audit.record import LogRecord, canonical_json
from pdp.audit.spool import Spool
from pdp.audit.thread_writer import ThreadDecisionLog
from tests.audit.conftest import make_record


class Outage:
    """A switch: while `down`, opening or writing the store fails like an unreachable server."""

    def __init__(self) -> None:
        self.down = False


class FlakyStore:
    """A real store whose appends fail while the outage lasts (after storing, if `ambiguous`)."""

    def __init__(self, store: Any, outage: Outage) -> None:
        self._store = store
        self._outage = outage
        self.ambiguous = False

    def append(self, records: Sequence[LogRecord | str]) -> Any:
        if self._outage.down:
            if self.ambiguous:  # the commit went through, the answer was lost
                self.ambiguous = False
                self._store.append(records)
            raise OSError("connection refused")
        return self._store.append(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Outage:
    switch = Outage()
    stores: list[FlakyStore] = []

    def flaky_open(url: str, *, create: bool) -> FlakyStore:
        if switch.down:
            raise OSError("connection refused")
        store = FlakyStore(open_store(url, create=create), switch)
        stores.append(store)
        return store

    monkeypatch.setattr(thread_writer, "open_store", flaky_open)
    switch.stores = stores  # type: ignore[attr-defined]
    return switch


def wait_until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_an_outage_spools_in_order_and_the_return_flushes_once(
    log_path: Path, tmp_path: Path, outage: Outage
) -> None:
    spool = tmp_path / "spool"
    log = ThreadDecisionLog(
        str(log_path), LogSettings(batch_size=7, flush_interval=0.02, spool=spool)
    )
    for i in range(1, 11):
        log.append(make_record(i))
    log.flush()
    outage.down = True
    for i in range(11, 61):
        log.append(make_record(i))
    wait_until(lambda: log.spooled == 50)
    assert log.spooled == 50 and not log.healthy and log.accepting
    assert (spool / "spool.jsonl").stat().st_size > 0
    for i in range(61, 71):
        log.append(make_record(i))
    outage.down = False
    log.flush()
    wait_until(lambda: log.spooled == 0 and log.backlog == 0)
    log.close()
    assert [r.decision_id for r in read_records(str(log_path))] == [
        make_record(i).decision_id for i in range(1, 71)
    ]
    assert verify_source(str(log_path)).ok and log.dropped == 0
    assert (spool / "spool.jsonl").stat().st_size == 0


def test_a_batch_stored_before_the_failure_is_not_stored_twice(
    log_path: Path, tmp_path: Path, outage: Outage
) -> None:
    log = ThreadDecisionLog(
        str(log_path), LogSettings(batch_size=5, flush_interval=0.02, spool=tmp_path / "s")
    )
    log.append(make_record(1))
    log.flush()
    outage.stores[-1].ambiguous = True  # type: ignore[attr-defined]
    outage.down = True
    for i in range(2, 7):
        log.append(make_record(i))
    wait_until(lambda: log.spooled == 5)
    outage.down = False
    log.flush()
    wait_until(lambda: log.spooled == 0)
    log.close()
    ids = [r.decision_id for r in read_records(str(log_path))]
    assert ids == [make_record(i).decision_id for i in range(1, 7)]
    assert verify_source(str(log_path)).ok


def test_a_full_spool_stops_accepting_and_then_drops_and_alerts(
    log_path: Path, tmp_path: Path, outage: Outage
) -> None:
    one = len(canonical_json(make_record(1))) + 1
    settings = LogSettings(
        batch_size=5,
        flush_interval=0.02,
        max_pending=10,
        spool=tmp_path / "s",
        spool_max_bytes=one * 5,
    )
    log = ThreadDecisionLog(str(log_path), settings)
    outage.down = True
    for i in range(1, 10):
        log.append(make_record(i))
    wait_until(lambda: not log.accepting)
    assert 0 < log.spooled <= 5  # store down, spool full: `on_log_failure` applies now
    for i in range(6, 30):
        log.append(make_record(i))
    assert log.dropped > 0
    outage.down = False
    log.flush()
    wait_until(lambda: log.spooled == 0 and log.backlog == 0)
    assert log.accepting
    log.close()
    records = list(read_records(str(log_path)))
    assert records[-1].reasons == ("log_records_dropped",) or any(
        r.reasons == ("log_records_dropped",) for r in records
    )
    assert verify_source(str(log_path)).ok


def test_a_spool_left_by_a_crash_is_stored_by_the_next_writer(
    log_path: Path, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "s", 1 << 20)
    spool.put([canonical_json(make_record(i)) for i in range(1, 4)])
    spool.close()
    with (tmp_path / "s" / "spool.jsonl").open("ab") as f:
        f.write(b'{"cut short')  # a crash mid-line: not a record
    log = ThreadDecisionLog(str(log_path), LogSettings(flush_interval=0.02, spool=tmp_path / "s"))
    log.flush()
    wait_until(lambda: log.spooled == 0)
    log.close()
    assert [r.decision_id for r in read_records(str(log_path))] == [
        make_record(i).decision_id for i in range(1, 4)
    ]


def test_spool_consumes_in_order_and_resumes_from_its_position(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    assert spool.put(["a", "b", "c", "d"]) == 4
    assert spool.peek(2) == ["a", "b"]
    spool.consume(2)
    spool.close()
    again = Spool(tmp_path, 1 << 20)
    assert len(again) == 2 and again.peek(10) == ["c", "d"]
    again.consume(2)
    assert len(again) == 0 and again.size == 0
    again.close()
