"""`pdp test`: passing and failing cases, the failure report, JUnit XML, exit codes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from pdp.cli.app import app

ROOT = Path(__file__).parents[2]
POLICIES = ROOT / "policies"

FAILING = """\
tests:
  - name: teller may disclose transactions (wrong on purpose)
    request: {role: teller, info_class: account.transaction, purpose: customer_service,
              action: disclose}
    expect: {allowed: true}
  - name: teller holds a toxic combination (wrong on purpose)
    findings:
      present: [{kind: toxic_combination, subject: {role: teller}}]
  - name: nobody breaks the credit SoD (wrong on purpose)
    findings:
      absent: [{kind: sod_violation, rule_id: SOD-CREDIT-ORIGINATE-APPROVE}]
  - name: passes
    request: {role: staff, info_class: identity.name, purpose: customer_service, action: use}
    expect: {allowed: false, reasons: [default_deny], obligations: []}
"""


def test_reference_tests_pass(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(
        app, ["test", str(POLICIES), str(ROOT / "tests" / "policy"), "--junit", str(junit)]
    )
    assert result.exit_code == 0, result.output
    assert "policy test(s) passed" in result.output
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "0"
    assert int(root.get("tests", "0")) >= 10


def test_failures_are_reported_and_exit_1(tmp_path: Path) -> None:
    tests = tmp_path / "failing.yaml"
    tests.write_text(FAILING, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(app, ["test", str(POLICIES), str(tests), "--junit", str(junit)])
    assert result.exit_code == 1
    out = result.output
    assert "FAIL" in out and "1/4 policy test(s) passed" in out
    assert "expected allow" in out and "got deny (reasons: D-TELLER-NO-DISCLOSE" in out
    assert "explanation: denied by D-TELLER-NO-DISCLOSE" in out
    assert "expected a finding kind=toxic_combination" in out
    assert "expected no finding" in out and "u1021" in out
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 4
    assert [c.find("failure") is not None for c in cases] == [True, True, True, False]


def test_invalid_inputs_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("not: [a test file\n", encoding="utf-8")
    assert runner.invoke(app, ["test", str(POLICIES), str(bad)]).exit_code == 2
    bad.write_text("tests: [{name: x}]\n", encoding="utf-8")
    assert runner.invoke(app, ["test", str(POLICIES), str(bad)]).exit_code == 2
    assert runner.invoke(app, ["test", str(POLICIES), str(tmp_path / "none.yaml")]).exit_code == 2
    assert runner.invoke(app, ["test", str(tmp_path / "nope"), str(bad)]).exit_code == 2


def test_a_failing_case_says_which_requirement_was_unmet(tmp_path: Path) -> None:
    tests = tmp_path / "mfa.yaml"
    tests.write_text(
        "tests:\n"
        "  - name: a teller forgot the second factor\n"
        "    request: {role: teller, info_class: account.balance, purpose: customer_service,"
        " action: use}\n"
        "    expect: {allowed: true}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["test", str(POLICIES), str(tests)])
    assert result.exit_code == 1
    assert "got deny (reasons: mfa_required" in result.output
    assert "matched allow G-TELLER-SERVICE via teller" in result.output
    assert "; mfa unmet (mfa_required)" in result.output
