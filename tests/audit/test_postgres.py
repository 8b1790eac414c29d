"""The PostgreSQL decision log: the same chain, tampering checks and concurrency as SQLite.

Needs the server at 127.0.0.1:5432 (user postgres, database `test`); each test
uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from pdp.audit import open_log, read_records, verify_source
from pdp.audit.thread_writer import ThreadDecisionLog
from tests.audit.conftest import make_record
from tests.audit.test_concurrency import PER_PROCESS, run_writers

SERVER = "postgresql://postgres@127.0.0.1:5432/test"

Sql = Callable[..., list[tuple[object, ...]]]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A log url in a fresh schema of the test database; the schema is dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(SERVER, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable at {SERVER}: {exc}")
    schema = f"pdp_test_{uuid.uuid4().hex[:10]}"
    yield f"{SERVER}?schema={schema}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_filled(pg_url: str) -> str:
    log = open_log(pg_url, batch_size=6)
    for i in range(1, 21):
        log.append(make_record(i))
    log.close()
    assert log.write_failures == 0
    return pg_url


@pytest.fixture
def pg_sql(pg_filled: str) -> Iterator[Sql]:
    import psycopg

    schema = pg_filled.rsplit("=", 1)[1]
    conn = psycopg.connect(SERVER, autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')

    def run(statement: str, *params: object) -> list[tuple[object, ...]]:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []

    yield run
    conn.close()


def problem_at(url: str, expect_head: str | None = None) -> tuple[int, str]:
    result = verify_source(url, expect_head)
    assert not result.ok and result.problem is not None, result
    return result.problem.seq, result.problem.kind


@pytest.mark.postgres
def test_round_trip_and_queries(pg_filled: str) -> None:
    log = open_log(pg_filled)
    try:
        everything = [make_record(i) for i in range(1, 21)]
        assert len(log) == 20 and log.query() == everything
        assert log.query(subject="auditor", allowed=True) == [
            r for r in everything if r.subject == "auditor" and r.allowed
        ]
        assert log.query(since="2026-11-10", until="2026-11-12") == everything[8:10]
        result = log.verify()
        assert result.ok and result.checked == 20 and log.head() == result.head
    finally:
        log.close()
    assert list(read_records(pg_filled)) == everything


@pytest.mark.postgres
def test_an_edited_row_is_found(pg_filled: str, pg_sql: Sql) -> None:
    pg_sql("UPDATE pdp_log SET body = replace(body, 'true', 'false') WHERE seq = 7")
    assert problem_at(pg_filled) == (7, "edited")


@pytest.mark.postgres
def test_a_deleted_row_is_found(pg_filled: str, pg_sql: Sql) -> None:
    pg_sql("DELETE FROM pdp_log WHERE seq = 12")
    assert problem_at(pg_filled) == (12, "deleted")


@pytest.mark.postgres
def test_swapped_rows_are_found(pg_filled: str, pg_sql: Sql) -> None:
    pg_sql("UPDATE pdp_log SET seq = -1 WHERE seq = 5")
    pg_sql("UPDATE pdp_log SET seq = 5 WHERE seq = 9")
    pg_sql("UPDATE pdp_log SET seq = 9 WHERE seq = -1")
    assert problem_at(pg_filled) == (5, "reordered")


@pytest.mark.postgres
def test_a_truncated_tail_is_found(pg_filled: str, pg_sql: Sql) -> None:
    kept = str(verify_source(pg_filled).head)
    pg_sql("DELETE FROM pdp_log WHERE seq > 17")
    assert problem_at(pg_filled) == (18, "deleted")
    pg_sql("UPDATE pdp_log_head SET seq = 17, hash = (SELECT hash FROM pdp_log WHERE seq = 17)")
    assert verify_source(pg_filled).ok
    assert problem_at(pg_filled, expect_head=kept) == (18, "deleted")


@pytest.mark.postgres
def test_two_processes_append_to_one_postgres_log(pg_url: str) -> None:
    run_writers(pg_url)
    result = verify_source(pg_url)
    assert result.ok and result.checked == 2 * PER_PROCESS


def test_an_unreachable_server_never_raises_and_turns_unhealthy() -> None:
    log = ThreadDecisionLog("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    try:
        log.append(make_record(1))
        log.flush(timeout=10)
        assert not log.healthy and log.write_failures >= 1 and log.pending == 1
    finally:
        log.close()


AWKWARD = (
    "back\\slash",
    'quo"te',
    "nul\x00",
    "tab\there",
    "new\nline",
    "crlf\r\n",
    "ünïcødé ✓",
    "\\N",
)


@pytest.mark.postgres
def test_awkward_text_round_trips_through_copy(pg_url: str) -> None:
    wanted = [
        make_record(i, subject=text, time=text, detail={"note": text})
        for i, text in enumerate(AWKWARD)
    ]
    log = open_log(pg_url)
    for record in wanted:
        log.append(record)
    log.close()
    assert log.write_failures == 0
    assert list(read_records(pg_url)) == wanted
    assert verify_source(pg_url).ok


@pytest.mark.postgres
def test_the_log_table_is_partitioned_by_month(pg_url: str) -> None:
    import psycopg

    log = open_log(pg_url, writer="thread")
    for i, month in enumerate(("2026-11", "2026-12", "2027-01", "2026-12"), 1):
        log.append(make_record(i, time=f"{month}-15T10:00:00.000000Z"))
    log.append(make_record(5, time="not a time"))
    log.close()
    conn = psycopg.connect(SERVER, autocommit=True)
    conn.execute(f'SET search_path TO "{pg_url.rsplit("=", 1)[1]}"')

    def sql(statement: str) -> list[tuple[object, ...]]:
        return conn.execute(statement).fetchall()  # type: ignore[arg-type]

    parts = sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'pdp_log'::regclass"
        " ORDER BY c.relname"
    )
    names = [name for name, _ in parts]
    assert names == ["pdp_log_other", "pdp_log_y2026m11", "pdp_log_y2026m12", "pdp_log_y2027m01"]
    assert sql("SELECT count(*) FROM pdp_log_y2026m12") == [(2,)]
    assert sql("SELECT count(*) FROM pdp_log_other") == [(1,)]
    conn.close()
    assert verify_source(pg_url).ok
    records = open_log(pg_url, writer="thread")
    try:
        in_december = records.query(since="2026-12-01", until="2027-01-01")
        assert [r.decision_id for r in in_december] == [make_record(i).decision_id for i in (2, 4)]
    finally:
        records.close()


@pytest.mark.postgres
def test_an_emptied_time_is_found_and_verify_db_works(pg_filled: str, pg_sql: Sql) -> None:
    from typer.testing import CliRunner

    from pdp.cli.app import app as cli

    result = CliRunner().invoke(cli, ["log", "verify", "--db", pg_filled])
    assert result.exit_code == 0 and "20 records verified" in result.stdout
    pg_sql("UPDATE pdp_log SET time = '' WHERE seq = 7")
    result = CliRunner().invoke(cli, ["log", "verify", "--db", pg_filled])
    assert result.exit_code == 1 and "seq 7: edited" in result.stderr
    pg_sql("DROP TABLE pdp_log_head")
    result = CliRunner().invoke(cli, ["log", "verify", "--db", pg_filled])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "SELECT" not in result.stderr
