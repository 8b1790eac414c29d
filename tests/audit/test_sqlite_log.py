"""The SQLite decision log: round trip, tampering with raw SQL, batching, failures, queries."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from pdp.audit import LogSettings, open_log, read_records, verify_source
from pdp.audit.chain import row_hash
from pdp.audit.record import canonical_json
from pdp.audit.thread_writer import ThreadDecisionLog
from tests.audit.conftest import make_record

Sql = Callable[..., list[tuple[object, ...]]]


def problem_at(path: Path, expect_head: str | None = None) -> tuple[int, str]:
    result = verify_source(str(path), expect_head)
    assert not result.ok and result.problem is not None, result
    return result.problem.seq, result.problem.kind


def test_records_round_trip_through_the_chain(filled: Path) -> None:
    log = open_log(str(filled))
    try:
        assert len(log) == 20
        assert log.query(limit=100) == [make_record(i) for i in range(1, 21)]
        result = log.verify()
        assert result.ok and result.checked == 20 and result.head.seq == 20
        assert log.head() == result.head
    finally:
        log.close()


def test_sqlite_url_form_and_appending_to_an_existing_log(filled: Path) -> None:
    log = open_log(f"sqlite:///{filled}")
    log.append(make_record(21))
    log.close()
    result = verify_source(str(filled))
    assert result.ok and result.checked == 21


def test_rows_hold_seq_and_both_hashes(filled: Path, sql: Sql) -> None:
    rows = sql("SELECT seq, prev_hash, hash, body FROM pdp_log ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, 21))
    assert rows[0][1] == "0" * 64
    for before, row in itertools.pairwise(rows):
        assert row[1] == before[2]
        assert row[2] == row_hash(row[0], row[1], row[3])  # type: ignore[arg-type]
    assert sql("SELECT seq, hash FROM pdp_log_head") == [(20, rows[-1][2])]


def test_an_edited_time_column_is_found(filled: Path, sql: Sql) -> None:
    sql("UPDATE pdp_log SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 7")
    assert problem_at(filled) == (7, "edited")


def test_an_edited_body_is_found(filled: Path, sql: Sql) -> None:
    sql("UPDATE pdp_log SET body = replace(body, '\"crm\"', '\"hr\"') WHERE seq = 9")
    assert problem_at(filled) == (9, "edited")


def test_a_deleted_middle_row_is_found(filled: Path, sql: Sql) -> None:
    sql("DELETE FROM pdp_log WHERE seq = 11")
    assert problem_at(filled) == (11, "deleted")


def test_a_deleted_row_hidden_by_renumbering_is_found(filled: Path, sql: Sql) -> None:
    sql("DELETE FROM pdp_log WHERE seq = 11")
    sql("UPDATE pdp_log SET seq = -seq WHERE seq > 11")
    sql("UPDATE pdp_log SET seq = -seq - 1 WHERE seq < 0")
    sql("UPDATE pdp_log_head SET seq = 19")
    assert problem_at(filled) == (11, "deleted")


@pytest.mark.parametrize(("a", "b"), [(4, 5), (3, 15)])
def test_swapped_rows_are_found(filled: Path, sql: Sql, a: int, b: int) -> None:
    sql("UPDATE pdp_log SET seq = -1 WHERE seq = ?", a)
    sql("UPDATE pdp_log SET seq = ? WHERE seq = ?", a, b)
    sql("UPDATE pdp_log SET seq = ? WHERE seq = -1", b)
    assert problem_at(filled) == (a, "reordered")


def test_a_forged_row_inserted_in_the_middle_is_found(filled: Path, sql: Sql) -> None:
    ((prev,),) = sql("SELECT hash FROM pdp_log WHERE seq = 4")
    sql("UPDATE pdp_log SET seq = -seq WHERE seq >= 5")
    sql("UPDATE pdp_log SET seq = -seq + 1 WHERE seq < 0")
    forged = make_record(500, subject="intruder", allowed=True)
    body = canonical_json(forged)
    sql(
        "INSERT INTO pdp_log (seq, prev_hash, hash, time, body) VALUES (?, ?, ?, ?, ?)",
        5,
        prev,
        row_hash(5, str(prev), body),
        forged.time,
        body,
    )
    sql("UPDATE pdp_log_head SET seq = 21")
    assert problem_at(filled) == (5, "inserted")


def test_a_truncated_tail_is_found_by_the_head_row(filled: Path, sql: Sql) -> None:
    sql("DELETE FROM pdp_log WHERE seq > 16")
    assert problem_at(filled) == (17, "deleted")


def test_a_truncated_tail_with_a_forged_head_row_needs_the_kept_head(
    filled: Path, sql: Sql
) -> None:
    kept = str(verify_source(str(filled)).head)
    sql("DELETE FROM pdp_log WHERE seq > 16")
    sql("UPDATE pdp_log_head SET seq = 16, hash = (SELECT hash FROM pdp_log WHERE seq = 16)")
    assert verify_source(str(filled)).ok  # the limit: the chain and head row agree
    assert problem_at(filled, expect_head=kept) == (17, "deleted")


def test_batches_and_a_clean_close_keep_every_record(log_path: Path) -> None:
    log = ThreadDecisionLog(str(log_path), LogSettings(batch_size=7, flush_interval=60.0))
    for i in range(1, 1001):
        log.append(make_record(i))
    log.close()
    log.close()  # idempotent
    result = verify_source(str(log_path))
    assert result.ok and result.checked == 1000
    log.append(make_record(1001))  # after close: dropped and counted, no exception
    assert log.dropped == 1


def test_flush_writes_what_was_queued(log_path: Path) -> None:
    log = open_log(str(log_path), batch_size=1000, flush_interval=60.0)
    try:
        for i in range(1, 51):
            log.append(make_record(i))
        log.flush()
        assert len(log) == 50 and log.healthy and log.write_failures == 0
    finally:
        log.close()


def test_an_unwritable_store_never_raises_and_turns_unhealthy(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    log = ThreadDecisionLog(
        str(blocker / "decisions.db"), LogSettings(batch_size=10, max_pending=25)
    )
    try:
        assert not log.healthy and log.write_failures >= 1
        for i in range(1, 41):
            log.append(make_record(i))
        log.flush(timeout=10)
        assert not log.healthy
        assert log.pending == 25 and log.dropped == 15  # bounded memory, drops counted
        blocker.unlink()  # the store becomes writable: queued records are retried
        for _ in range(100):
            log.flush(timeout=10)
            if log.healthy and log.pending == 0:
                break
        assert log.healthy
        log.flush()
        records = log.query(limit=100)
    finally:
        log.close()
    decisions = [r for r in records if r.kind == "decision"]
    assert decisions == [make_record(i) for i in range(1, 26)]
    (alert,) = (r for r in records if r.kind == "alert")
    assert alert.reasons == ("log_records_dropped",)
    assert alert.detail == {"dropped": 15}
    assert verify_source(str(blocker / "decisions.db")).ok


def test_a_record_whose_detail_cannot_be_encoded_is_still_logged(log_path: Path) -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    log = open_log(str(log_path))
    log.append(make_record(1, kind="alert", detail=loop))
    log.append(make_record(2, detail={"when": object()}))
    log.close()
    log = open_log(str(log_path))
    try:
        first, second = log.query()
        assert "encoding_error" in first.detail
        assert isinstance(second.detail["when"], str)
        assert log.verify().ok
    finally:
        log.close()


def test_query_filters(filled: Path) -> None:
    log = open_log(str(filled))
    try:
        everything = [make_record(i) for i in range(1, 21)]
        assert log.query(subject="teller") == [r for r in everything if r.subject == "teller"]
        assert log.query(subject_kind="user") == []
        assert log.query(info_class="identity.name", allowed=False) == [
            r for r in everything if r.info_class == "identity.name" and not r.allowed
        ]
        assert log.query(caller="crm", kind="decision") == [
            r for r in everything if r.caller == "crm"
        ]
        assert log.query(since="2026-11-05", until="2026-11-08") == [
            r for r in everything if "2026-11-05" <= r.time < "2026-11-08"
        ]
        assert log.query(limit=3) == everything[-3:]
        assert log.query(kind="alert") == []
    finally:
        log.close()


def test_verify_of_a_missing_log_raises_storage_error(tmp_path: Path) -> None:
    from pdp.errors import StorageError

    with pytest.raises(StorageError, match="no decision log"):
        verify_source(str(tmp_path / "missing.db"))
    (tmp_path / "junk.db").write_text("not sqlite")
    with pytest.raises(StorageError, match=r"junk\.db"):
        verify_source(str(tmp_path / "junk.db"))


def test_a_malformed_url_is_a_configuration_error() -> None:
    from pdp.errors import StorageError

    with pytest.raises(StorageError, match="unsupported"):
        open_log("mysql://localhost/x")


def test_awkward_text_round_trips(log_path: Path) -> None:
    texts = ("back\\slash", 'quo"te', "tab\there", "new\nline", "ünïcødé ✓", "\x00nul")
    wanted = [make_record(i, subject=t, time=t, detail={"n": t}) for i, t in enumerate(texts)]
    log = open_log(str(log_path))
    for record in wanted:
        log.append(record)
    log.close()
    assert list(read_records(str(log_path))) == wanted
    assert verify_source(str(log_path)).ok


def test_a_lone_surrogate_never_blocks_the_log(log_path: Path) -> None:
    log = open_log(str(log_path))
    log.append(make_record(1, subject="bad\ud800", time="bad\ud800"))
    log.append(make_record(2))
    log.close()
    assert log.write_failures == 0
    first, second = read_records(str(log_path))
    assert first.subject == "bad?" and second == make_record(2)
    assert verify_source(str(log_path)).ok


def test_bodies_and_records_share_one_chain(log_path: Path) -> None:
    log = open_log(str(log_path), batch_size=4, writer="thread")
    assert isinstance(log, ThreadDecisionLog)
    log.append(make_record(1))
    log.append_bodies([canonical_json(make_record(i)) for i in range(2, 10)])
    log.append(make_record(10))
    log.close()
    assert log.written == 10 and log.backlog == 0
    assert list(read_records(str(log_path))) == [make_record(i) for i in range(1, 11)]
    assert verify_source(str(log_path)).ok
    conn = sqlite3.connect(log_path)
    times = [t for (t,) in conn.execute("SELECT time FROM pdp_log ORDER BY seq")]
    conn.close()
    assert times == [make_record(i).time for i in range(1, 11)]  # indexed for time ranges


def test_bodies_beyond_the_queue_bound_are_dropped_and_counted(log_path: Path) -> None:
    log = ThreadDecisionLog(str(log_path), LogSettings(max_pending=5, flush_interval=60))
    log.append_bodies([canonical_json(make_record(i)) for i in range(1, 9)])
    assert log.dropped == 3
    log.close()
    *kept, alert = read_records(str(log_path))
    assert kept == [make_record(i) for i in range(1, 6)]
    assert alert.reasons == ("log_records_dropped",) and alert.detail == {"dropped": 3}
    log.append_bodies([canonical_json(make_record(9))])  # after close: dropped
    assert log.dropped == 4
