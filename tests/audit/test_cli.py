"""`pdp log verify|query|export|head`: exit codes and output."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from pdp.cli.app import app as cli
from tests.audit.conftest import make_record

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["log", *args])
    return result.exit_code, result.stdout, result.stderr


def test_verify_exit_codes(filled: Path, tmp_path: Path) -> None:
    code, out, _ = run("verify", str(filled))
    assert code == 0 and out.startswith("ok: 20 records verified, head 20:")
    with sqlite3.connect(filled) as conn:
        conn.execute("DELETE FROM pdp_log WHERE seq = 8")
    code, _, err = run("verify", str(filled))
    assert code == 1 and "seq 8: deleted" in err
    code, _, err = run("verify", str(tmp_path / "missing.db"))
    assert code == 2 and "no decision log" in err


def test_verify_json(filled: Path) -> None:
    with sqlite3.connect(filled) as conn:
        conn.execute("UPDATE pdp_log SET body = replace(body, 'teller', 'auditor') WHERE seq = 3")
    code, out, _ = run("verify", str(filled), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["checked"] == 2
    assert data["problem"]["seq"] == 3 and data["problem"]["kind"] == "edited"


def test_head_and_expect_head_catch_a_truncated_tail(filled: Path) -> None:
    code, out, _ = run("head", str(filled))
    kept = out.strip()
    assert code == 0 and kept.startswith("20:")
    code, out, _ = run("head", str(filled), "--json")
    assert json.loads(out)["head"] == kept
    with sqlite3.connect(filled) as conn:
        conn.execute("DELETE FROM pdp_log WHERE seq > 18")
        conn.execute(
            "UPDATE pdp_log_head SET seq = 18, hash = (SELECT hash FROM pdp_log WHERE seq = 18)"
        )
    assert run("verify", str(filled))[0] == 0
    code, _, err = run("verify", str(filled), "--expect-head", kept)
    assert code == 1 and "seq 19: deleted" in err
    code, _, err = run("verify", str(filled), "--expect-head", "nonsense")
    assert code == 2 and "not a log head" in err


def test_query_filters_and_formats(filled: Path) -> None:
    code, out, _ = run(
        "query", str(filled), "--role", "teller", "--result", "deny", "--format", "json"
    )
    wanted = [
        r.to_dict()
        for r in (make_record(i) for i in range(1, 21))
        if r.subject == "teller" and not r.allowed
    ]
    assert code == 0 and json.loads(out) == wanted
    code, out, _ = run("query", str(filled), "--class", "identity.name", "--limit", "2")
    lines = [json.loads(line) for line in out.splitlines()]  # jsonl when not a terminal
    assert code == 0 and len(lines) == 2 and {x["info_class"] for x in lines} == {"identity.name"}
    code, out, _ = run("query", str(filled), "--user", "teller", "--format", "jsonl")
    assert code == 0 and out == ""
    code, out, _ = run("query", str(filled), "--since", "2026-11-20", "--format", "table")
    assert code == 0 and "2 record(s)" in out and "allow" in out
    code, out, _ = run(
        "query", str(filled), "--since", "9999d", "--caller", "crm", "--format", "json"
    )
    assert code == 0 and len(json.loads(out)) == 10


def test_query_rejects_bad_input(filled: Path) -> None:
    assert run("query", str(filled), "--result", "maybe")[0] == 2
    assert run("query", str(filled), "--role", "a", "--user", "b")[0] == 2
    code, _, err = run("query", str(filled), "--since", "last tuesday")
    assert code == 2 and "`last tuesday`" in err
    assert run("query", str(filled), "--format", "xml")[0] == 2


def test_export_then_verify_the_export(filled: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "audit.jsonl"
    code, out, _ = run("export", str(filled), "--out", str(out_file))
    assert code == 0 and "exported 20 records" in out
    head = run("head", str(filled))[1].strip()
    assert run("verify", str(out_file), "--expect-head", head)[0] == 0
    assert run("head", str(out_file))[1].strip() == head
    code, _, err = run("export", str(filled), "--out", str(tmp_path / "no" / "such" / "x.jsonl"))
    assert code == 2 and "cannot write" in err


def test_query_table_escapes_terminal_controls(log_path: Path) -> None:
    from pdp.audit import open_log

    log = open_log(str(log_path), writer="thread")
    log.append(make_record(1, subject="evil\x1b[2J\x1b]0;owned\x07", caller="[bold]crm[/bold]"))
    log.close()
    result = runner.invoke(
        cli, ["log", "query", str(log_path), "--format", "table"], env={"COLUMNS": "400"}
    )
    code, out = result.exit_code, result.stdout
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "\\x07" in out
    assert "[bold]crm[/bold]" in out  # printed as text, not read as markup


def test_log_given_by_db_option_or_environment(filled: Path) -> None:
    code, out, _ = run("verify", "--db", f"sqlite:///{filled}")
    assert code == 0 and out.startswith("ok: 20 records")
    result = runner.invoke(cli, ["log", "head"], env={"PDP_LOG_URL": str(filled)})
    assert result.exit_code == 0 and result.stdout.startswith("20:")
    code, _, err = run("verify")
    assert code == 2 and "name the log" in err


def test_errors_never_show_a_password() -> None:
    code, _, err = run("verify", "--db", "postgresql://pdp:s3cret@127.0.0.1:1/x?connect_timeout=1")
    assert code == 2 and "s3cret" not in err and "pdp:***@" in err
    code, _, err = run("verify", "mysql://pdp:s3cret@db/x")
    assert code == 2 and "s3cret" not in err
