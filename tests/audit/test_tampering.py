"""Attacks on a stored SQLite log: each is found, named rightly, and unreadable logs exit 2.

Every column a record is read by is covered: the body and hashes by the chain,
`time` (time-range queries) by comparing it with the body's, the head row by
its own check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from pdp.audit import open_log, verify_source
from pdp.cli.app import app as cli
from tests.audit.conftest import make_record

Sql = Callable[..., list[tuple[object, ...]]]
runner = CliRunner()


def verify(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["log", "verify", *args])
    return result.exit_code, result.stdout, result.stderr


def problem_of(path: Path) -> tuple[int, str]:
    result = verify_source(str(path))
    assert not result.ok and result.problem is not None
    return result.problem.seq, result.problem.kind


def test_a_null_time_is_found(filled: Path, sql: Sql) -> None:
    sql("UPDATE pdp_log SET time = NULL WHERE seq IN (4, 9)")
    assert problem_of(filled) == (4, "edited")
    code, _, err = verify(str(filled))
    assert code == 1 and "time column of record 4" in err


def test_a_time_moved_out_of_every_range_is_found(filled: Path, sql: Sql) -> None:
    sql("UPDATE pdp_log SET time = '' WHERE seq = 6")
    assert problem_of(filled) == (6, "edited")


def test_a_swap_far_beyond_the_window_is_reordered_not_edited(log_path: Path) -> None:
    log = open_log(str(log_path), batch_size=1000, writer="thread")
    for i in range(1, 1201):
        log.append(make_record(i))
    log.close()
    with sqlite3.connect(log_path) as conn:
        far = 10 + 1100
        a, b = (
            conn.execute(
                "SELECT prev_hash, hash, time, body FROM pdp_log WHERE seq = ?", (s,)
            ).fetchone()
            for s in (10, far)
        )
        update = "UPDATE pdp_log SET prev_hash = ?, hash = ?, time = ?, body = ? WHERE seq = ?"
        conn.execute(update, (*b, 10))
        conn.execute(update, (*a, far))
    result = verify_source(str(log_path))
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (10, "reordered")
    assert f"written as {far}" in result.problem.message


def test_the_newest_row_swapped_far_back_is_reordered(log_path: Path) -> None:
    log = open_log(str(log_path), batch_size=1000, writer="thread")
    for i in range(1, 1101):
        log.append(make_record(i))
    log.close()
    with sqlite3.connect(log_path) as conn:
        a, b = (
            conn.execute(
                "SELECT prev_hash, hash, time, body FROM pdp_log WHERE seq = ?", (s,)
            ).fetchone()
            for s in (3, 1100)
        )
        update = "UPDATE pdp_log SET prev_hash = ?, hash = ?, time = ?, body = ? WHERE seq = ?"
        conn.execute(update, (*b, 3))
        conn.execute(update, (*a, 1100))
    assert problem_of(log_path) == (3, "reordered")


def test_a_deleted_head_row_is_reported_as_deleted(filled: Path, sql: Sql) -> None:
    sql("DELETE FROM pdp_log_head")
    result = verify_source(str(filled))
    assert result.problem is not None and result.problem.kind == "deleted"
    assert "head row" in result.problem.message
    code, _, err = verify(str(filled))
    assert code == 1 and "deleted" in err and "head row" in err


def test_an_unreadable_log_exits_2_with_one_line(filled: Path, sql: Sql, tmp_path: Path) -> None:
    sql("DROP TABLE pdp_log_head")
    code, out, err = verify(str(filled))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: cannot read the decision log")
    assert "SELECT" not in err and "Traceback" not in err

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    code, _, err = verify(str(garbage))
    assert code == 2 and err.count("\n") == 1 and "SELECT" not in err


def test_a_dropped_column_exits_2_with_one_line(filled: Path, sql: Sql) -> None:
    sql("ALTER TABLE pdp_log RENAME COLUMN body TO payload")
    code, _, err = verify(str(filled))
    assert code == 2 and err.count("\n") == 1 and "SELECT" not in err
    result = runner.invoke(cli, ["log", "query", str(filled), "--format", "json"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_a_body_that_is_not_json_exits_2_from_query(filled: Path, sql: Sql) -> None:
    sql("UPDATE pdp_log SET body = 'not json' WHERE seq = 20")
    result = runner.invoke(cli, ["log", "query", str(filled), "--format", "json"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "cannot read the decision log" in result.stderr
