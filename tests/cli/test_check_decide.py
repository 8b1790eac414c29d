"""CLI: exit codes and JSON of `pdp check`, `decide`, `explain` and `export --casbin`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.casbin_engine import file_enforcer
from pdp.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
POLICY = """\
actions: [use, disclose]
classes: {identity: {level: C2}, identity.id_number: {level: C3}}
purposes: {service: {legal_basis: contract}, marketing: {legal_basis: consent}}
roles: {staff: {}, teller: {inherits: [staff]}}
users: {u1: {roles: [teller]}}
grants:
  - {id: G-USE, roles: [staff], classes: [identity], purposes: [service, marketing],
     actions: [use], obligations: [mask]}
  - {id: D-NO-DISCLOSE, effect: deny, roles: ["*"], classes: [identity.id_number],
     purposes: ["*"], actions: [disclose]}
"""
BROKEN = "actions: [use]\nroles: {a: {inherits: [nobody]}}\ngrants: [{roles: a}]\n"

runner = CliRunner()


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    return path


def ask(policy: Path, *extra: str) -> list[str]:
    return ["decide", str(policy), "--class", "identity.id_number", "--purpose", "service", *extra]


def test_check_valid_and_invalid(policy: Path, broken: Path) -> None:
    ok = runner.invoke(app, ["check", str(policy)])
    assert ok.exit_code == 0 and "ok:" in ok.output
    bad = runner.invoke(app, ["check", str(broken)])
    assert bad.exit_code == 1
    assert "undeclared_role" in bad.output and "Traceback" not in bad.output
    assert f"{broken}:2:" in bad.output


def test_check_json(policy: Path, broken: Path) -> None:
    data = json.loads(runner.invoke(app, ["check", str(policy), "--json"]).stdout)
    assert data["valid"] is True and data["policy_version"].startswith("sha256:")
    result = runner.invoke(app, ["check", str(broken), "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["valid"] is False
    codes = {p["code"] for p in data["problems"]}
    assert {"undeclared_role", "expected_list"} <= codes


def test_check_missing_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "not_found" in result.output


def test_decide_exit_codes(policy: Path, broken: Path) -> None:
    assert runner.invoke(app, ask(policy, "--role", "teller", "--action", "use")).exit_code == 0
    assert runner.invoke(app, ask(policy, "--user", "u1", "--action", "disclose")).exit_code == 1
    assert runner.invoke(app, ask(policy, "--role", "ghost", "--action", "use")).exit_code == 1
    neither = runner.invoke(app, ask(policy, "--action", "use"))
    assert neither.exit_code == 2 and "exactly one" in neither.output
    both = runner.invoke(app, ask(policy, "--role", "teller", "--user", "u1", "--action", "use"))
    assert both.exit_code == 2
    invalid = runner.invoke(app, ask(broken, "--role", "a", "--action", "use"))
    assert invalid.exit_code == 2 and "Traceback" not in invalid.output


def test_decide_consent(policy: Path) -> None:
    base = ["decide", str(policy), "--role", "teller", "--class", "identity", "--action", "use"]
    denied = runner.invoke(app, [*base, "--purpose", "marketing", "--json"])
    assert denied.exit_code == 1
    assert json.loads(denied.stdout)["reasons"] == ["consent_required"]
    allowed = runner.invoke(app, [*base, "--purpose", "marketing", "--consent", "marketing"])
    assert allowed.exit_code == 0


def test_decide_json(policy: Path) -> None:
    result = runner.invoke(app, ask(policy, "--role", "teller", "--action", "use", "--json"))
    data = json.loads(result.stdout)
    assert data["allowed"] is True
    assert data["reasons"] == ["G-USE"] and data["obligations"] == ["mask"]
    assert data["policy_version"].startswith("sha256:")


def test_explain(policy: Path) -> None:
    args = ["explain", *ask(policy, "--user", "u1", "--action", "disclose")[1:]]
    text = runner.invoke(app, args)
    assert text.exit_code == 1
    assert "overriding deny D-NO-DISCLOSE" in text.output and "u1 -> teller" in text.output
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert data["overridden_by"][0]["grant"] == "D-NO-DISCLOSE"
    assert data["class_ancestors"] == ["identity.id_number", "identity"]
    flag = runner.invoke(app, ask(policy, "--role", "teller", "--action", "use", "--explain"))
    assert flag.exit_code == 0 and "matched allow G-USE" in flag.output


def test_export_casbin(policy: Path, broken: Path, tmp_path: Path) -> None:
    out = tmp_path / "casbin"
    result = runner.invoke(app, ["export", str(policy), "--casbin", str(out)])
    assert result.exit_code == 0
    enforcer = file_enforcer(out / "model.conf", out / "policy.csv")
    assert enforcer.enforce("u1", "identity.id_number", "service", "use")
    assert not enforcer.enforce("u1", "identity.id_number", "service", "disclose")
    failed = runner.invoke(app, ["export", str(broken), "--casbin", str(tmp_path / "x")])
    assert failed.exit_code == 2 and "Traceback" not in failed.output
    assert not (tmp_path / "x").exists()


def test_installed_console_script(policy: Path, broken: Path) -> None:
    script = Path(sys.executable).parent / "pdp"
    if not script.exists():
        script = ROOT / ".venv" / "bin" / "pdp"
    run = subprocess.run(
        [str(script), *ask(policy, "--role", "teller", "--action", "use", "--json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and json.loads(run.stdout)["allowed"] is True
    bad = subprocess.run(
        [str(script), "check", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and "undeclared_role" in bad.stderr
