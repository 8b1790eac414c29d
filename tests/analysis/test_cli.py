"""`pdp review`: exit codes, formats, --out, usage files and invalid input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdp.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "policies")
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["review", *args])
    return result.exit_code, result.stdout


def test_exit_codes_follow_fail_on() -> None:
    assert run(POLICY)[0] == 1  # critical findings, default --fail-on high
    assert run(POLICY, "--fail-on", "critical")[0] == 1
    assert run(POLICY, "--fail-on", "none")[0] == 0


def test_no_findings_at_threshold_exits_0(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "actions: [use]\nclasses: {a: {level: C1}}\npurposes: {p: {}}\n"
        "roles: {r: {duties: [p]}}\nusers: {u: {roles: [r]}}\n"
        "grants: [{id: G, roles: [r], classes: [a], purposes: [p], actions: [use]}]\n"
    )
    code, out = run(str(policy), "--format", "json")
    assert code == 0 and json.loads(out)["findings"] == []
    code, alias = run(str(policy), "--json")  # the alias of every command with output
    assert code == 0 and json.loads(alias)["findings"] == []


@pytest.mark.parametrize(
    "args",
    [
        ("nope/",),
        (POLICY, "--format", "pdf"),
        (POLICY, "--fail-on", "urgent"),
        (POLICY, "--since", "90d"),
        (POLICY, "--usage", "missing.csv"),
        (POLICY, "--usage", "x.csv", "--since", "yesterday"),
    ],
)
def test_invalid_input_exits_2(args: tuple[str, ...]) -> None:
    assert run(*args)[0] == 2


def test_out_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "review.sarif"
    code, _ = run(POLICY, "--format", "sarif", "--out", str(out), "--fail-on", "none")
    assert code == 0 and json.loads(out.read_text())["version"] == "2.1.0"


def test_a_failed_write_leaves_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pdp.analysis.report import render

    out = tmp_path / "review.json"
    out.write_text("previous report")

    def broken(review: object, fmt: str, compiled: object, stream: Any, *more: object) -> None:
        stream.write('{"findings": [')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render, "write_report", broken)
    code, _ = run(POLICY, "--format", "json", "--out", str(out))
    assert code == 2
    assert out.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.json"]


def test_usage_csv_and_jsonl_give_unused_permissions(tmp_path: Path) -> None:
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text(
        "time,user,info_class,purpose,action,allowed\n"
        "2026-11-20T10:00:00Z,u1001,identity.name,customer_service,use,true\n"
        "2020-01-01T10:00:00Z,u1002,identity.name,customer_service,use,true\n"
    )
    code, out = run(
        POLICY, "--usage", str(csv_file), "--since", "365d", "--format", "json", "--fail-on", "none"
    )
    assert code == 0
    unused = {
        (f["subject"].get("user") or f["subject"].get("role")): f
        for f in json.loads(out)["findings"]
        if f["kind"] == "unused_permission"
    }
    names = {(p["info_class"], p["purpose"], p["action"]) for p in unused["u1001"]["permissions"]}
    assert ("identity.name", "customer_service", "use") not in names
    names = {(p["info_class"], p["purpose"], p["action"]) for p in unused["u1002"]["permissions"]}
    assert ("identity.name", "customer_service", "use") in names  # used, but before the window
    jsonl = tmp_path / "usage.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "kind": "decision",
                "time": "2026-11-20T10:00:00Z",
                "subject_kind": "role",
                "subject": "staff",
                "info_class": "account.opening",
                "purpose": "customer_service",
                "action": "use",
                "allowed": True,
            }
        )
        + "\n"
    )
    code, out = run(POLICY, "--usage", str(jsonl), "--format", "json", "--fail-on", "none")
    unused = {
        f["subject"].get("role"): {
            (p["info_class"], p["purpose"], p["action"]) for p in f["permissions"]
        }
        for f in json.loads(out)["findings"]
        if f["kind"] == "unused_permission"
    }
    used = ("account.opening", "customer_service", "use")
    assert used not in unused["staff"] and used in unused["teller"]  # staff's use is not teller's
    assert ("account.opening", "customer_service.complaint", "use") in unused["staff"]


def test_progress_is_quiet_when_piped_and_a_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pdp.cli import review as command

    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    with command._progress() as progress:
        assert progress is None
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    with command._progress() as progress:
        assert progress is not None
        progress("roles", 1, 2)
        progress("roles", 2, 2)


def test_usage_from_a_sqlite_decision_log(tmp_path: Path) -> None:
    from pdp.audit.record import decision_record
    from pdp.audit.thread_writer import ThreadDecisionLog
    from pdp.core.decision import Request
    from pdp.decision_point import DecisionPoint

    dp = DecisionPoint.from_path(POLICY)
    log = ThreadDecisionLog(f"sqlite:///{tmp_path / 'decisions.db'}")
    request = Request("user", "u1004", "account.opening", "customer_service", "use", {"mfa": True})
    decision = dp.decide(**request.to_dict())
    assert decision.allowed
    log.append(decision_record(request, decision, "test"))
    log.close()
    code, out = run(
        POLICY,
        "--usage",
        str(tmp_path / "decisions.db"),
        "--since",
        "1d",
        "--format",
        "json",
        "--fail-on",
        "none",
    )
    assert code == 0
    document = json.loads(out)
    assert document["summary"]["usage"]["counted"] == 1
    unused = next(
        f
        for f in document["findings"]
        if f["kind"] == "unused_permission" and f["subject"] == {"user": "u1004"}
    )
    names = {(p["info_class"], p["purpose"], p["action"]) for p in unused["permissions"]}
    assert ("account.opening", "customer_service", "use") not in names
    assert ("account.number", "customer_service", "use") in names


def test_csv_has_its_summary_beside_it(tmp_path: Path) -> None:
    """The CSV stays one table; its overview is the second file, the JSON report's overview."""
    import csv

    out = tmp_path / "review.csv"
    code, _ = run(POLICY, "--format", "csv", "--out", str(out), "--fail-on", "none")
    assert code == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    summary_text = (tmp_path / "review.summary.csv").read_text(encoding="utf-8")
    summary = list(csv.DictReader(summary_text.splitlines()))
    overview = json.loads(run(POLICY, "--json", "--fail-on", "none")[1])["overview"]
    (total,) = [r for r in summary if r["section"] == "total"]
    assert int(total["findings"]) == len(rows) == overview["findings"]
    rules = {r["key"]: int(r["findings"]) for r in summary if r["section"] == "rule"}
    assert rules == {r["rule"]: r["findings"] for r in overview["by_rule"]}
    kinds = {r["key"]: int(r["findings"]) for r in summary if r["section"] == "kind"}
    assert kinds == overview["by_kind"]
    described = {r["key"]: r["description"] for r in summary if r["section"] == "rule"}
    assert described == {r["rule"]: r["description"] for r in overview["by_rule"]}
