"""The risk register: what names a finding, what makes a file unusable, expiry, fingerprints."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from pdp.analysis.finding import Finding
from pdp.analysis.register import Register, parse_register, read_register
from pdp.analysis.report import schema_path
from pdp.analysis.review import review
from pdp.cli.app import app
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy
from pdp.errors import PdpError, RegisterError

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies"
REGISTER = ROOT / "tests" / "policy" / "accepted-findings.yaml"
TODAY = date(2026, 12, 4)
SIGNED = {"reason": "r", "owner": "o", "approved_by": "a", "expires": "2027-01-31"}
TOXIC = {
    "kind": "toxic_combination",
    "rule_id": "TOX-REIDENTIFY",
    "subject": {"role": "aml_analyst"},
}


def findings_of(policy: Path) -> list[Finding]:
    return list(review(compile_policy(load_policy(policy))).findings)


@pytest.fixture(scope="module")
def bundled() -> list[Finding]:
    return findings_of(POLICY)


def register_of(*entries: dict[str, Any]) -> Register:
    return parse_register({"accepted": list(entries)})


def test_the_bundled_register_is_valid_signed_and_expires_within_a_year() -> None:
    register = read_register(REGISTER)
    assert register.entries
    users = compile_policy(load_policy(POLICY)).policy.users
    for entry in register.entries:
        assert entry.owner and entry.approved_by and entry.reason
        assert (entry.expires - TODAY).days <= 366
        # approved by the second line: a compliance officer of the policy, named by user id
        approver = entry.approved_by.split()[0]
        assert "compliance_officer" in users[approver].roles, entry.approved_by


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ({"reason": "x"}, "lacks"),  # the one-line file that turned `pdp ci` green
        (SIGNED, "names no finding"),
        ({**SIGNED, "kind": "toxic_combination"}, "names no finding"),
        ({**SIGNED, "subject": {"role": "r"}}, "names no finding"),
        ({**TOXIC, **SIGNED, "owner": ""}, "lacks `owner`"),
        ({**TOXIC, **{k: v for k, v in SIGNED.items() if k != "approved_by"}}, "approved_by"),
        ({**TOXIC, **SIGNED, "expires": "next year"}, "must be a date"),
        ({**TOXIC, **SIGNED, "expires": None}, "lacks `expires`"),
        ({**TOXIC, **SIGNED, "expiry": "2027-01-01"}, "unknown key"),
        ({**TOXIC, **SIGNED, "rule_id": None}, "with its `rule_id`"),
        (
            {**SIGNED, "kind": "high_exposure", "rule_id": "X", "subject": {"role": "r"}},
            "no `rule_id`",
        ),
        ({**SIGNED, "kind": "toxic", "rule_id": "X", "subject": {"role": "r"}}, "unknown kind"),
        ({**TOXIC, **SIGNED, "subject": {"group": "g"}}, "`subject` must be"),
        ({**TOXIC, **SIGNED, "subject": "aml_analyst"}, "`subject` must be"),
        ({**SIGNED, "fingerprint": "", "kind": None}, "non-empty text"),
        ({**TOXIC, **SIGNED, "controls": [1]}, "`controls`"),
        ("just text", "not a mapping"),
    ],
)
def test_an_entry_naming_no_finding_or_unsigned_makes_the_register_unusable(
    entry: Any, why: str
) -> None:
    with pytest.raises(RegisterError, match=why) as raised:
        register_of(entry)
    assert isinstance(raised.value, PdpError) and "\n" not in str(raised.value)


@pytest.mark.parametrize("data", [None, [], {"accepted": {"a": 1}}, {"accepted": [], "x": 1}])
def test_a_file_without_an_accepted_list_is_unusable(data: Any) -> None:
    with pytest.raises(RegisterError):
        parse_register(data)


def test_unreadable_register_files(tmp_path: Path) -> None:
    with pytest.raises(RegisterError, match="cannot read"):
        read_register(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("accepted: [", encoding="utf-8")
    with pytest.raises(RegisterError, match="not valid YAML"):
        read_register(bad)


def test_live_entries_accept_their_findings_and_nothing_else(bundled: list[Finding]) -> None:
    register = register_of({**TOXIC, **SIGNED})
    verdict = register.judge(bundled, TODAY)
    accepted = [f for f in bundled if verdict.acceptance_of(f) is not None]
    assert [(f.kind, f.rule_id, dict(f.subject)) for f in accepted] == [
        ("toxic_combination", "TOX-REIDENTIFY", {"role": "aml_analyst"})
    ]
    assert verdict.accepted == 1 and not verdict.expired and not verdict.unmatched


def test_an_expired_acceptance_waives_nothing_and_is_listed(bundled: list[Finding]) -> None:
    register = register_of({**TOXIC, **SIGNED, "expires": "2026-12-04"})
    verdict = register.judge(bundled, TODAY)  # expires today: no longer holds
    assert all(verdict.acceptance_of(f) is None for f in bundled)
    assert [a.number for a in verdict.expired] == [1]
    assert "expired on 2026-12-04" in verdict.warnings()[0]
    day_before = register.judge(bundled, date(2026, 12, 3))
    assert day_before.accepted == 1 and not day_before.expired


def test_an_entry_matching_nothing_is_listed(bundled: list[Finding]) -> None:
    stale = {**TOXIC, **SIGNED, "subject": {"role": "teller"}}
    verdict = register_of({**TOXIC, **SIGNED}, stale).judge(bundled, TODAY)
    assert [a.number for a in verdict.unmatched] == [2]
    assert "matches no finding" in verdict.warnings()[0]


def test_a_fingerprint_names_exactly_one_finding(bundled: list[Finding]) -> None:
    target = bundled[3]
    register = register_of({**SIGNED, "fingerprint": target.fingerprint})
    verdict = register.judge(bundled, TODAY)
    assert [f for f in bundled if verdict.acceptance_of(f)] == [target]
    wrong = register_of({**TOXIC, **SIGNED, "fingerprint": "0" * 32})
    assert wrong.judge(bundled, TODAY).accepted == 0  # every naming key must match


# --- the fingerprint: stable across unrelated edits, new when the finding widens ---------

UNRELATED = """
  - id: G-UNRELATED-AUDIT
    description: "an unrelated new grant"
    roles: [internal_auditor_x]
    classes: [account.balance]
    purposes: [aml]
    actions: [use]
"""
WIDENING = """
  - id: G-CSA-WIDER
    roles: [customer_service_agent]
    classes: [account.balance]
    purposes: [marketing.cross_sell]
    actions: [use]
"""


def _edited(tmp_path: Path, grants: str, *, unrelated: bool) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICY, copy)
    grants_file = copy / "40-grants.yaml"
    grants_file.write_text(grants_file.read_text(encoding="utf-8") + grants, encoding="utf-8")
    if unrelated:
        roles = copy / "30-roles.yaml"
        text = roles.read_text(encoding="utf-8").replace(
            "roles:\n", "roles:\n  internal_auditor_x: {}\n", 1
        )
        roles.write_text("# moved down a line\n" + text, encoding="utf-8")
        users = copy / "60-users.yaml"
        text = users.read_text(encoding="utf-8").replace(
            "users:\n", "users:\n  u9999: {roles: [internal_auditor_x]}\n", 1
        )
        users.write_text("\n\n" + text, encoding="utf-8")
    return copy


def test_the_fingerprint_stays_across_unrelated_edits(
    tmp_path: Path, bundled: list[Finding]
) -> None:
    edited = findings_of(_edited(tmp_path, UNRELATED, unrelated=True))
    before = {f.fingerprint: f for f in bundled}
    after = {f.fingerprint: f for f in edited}
    assert set(before) <= set(after)
    moved = [fp for fp in before if before[fp].location != after[fp].location]
    assert moved  # the locations moved; the fingerprints did not


def test_the_fingerprint_changes_when_the_finding_widens(
    tmp_path: Path, bundled: list[Finding]
) -> None:
    edited = findings_of(_edited(tmp_path, WIDENING, unrelated=False))
    agent = {"role": "customer_service_agent"}

    def outside(findings: list[Finding]) -> Finding:
        return next(f for f in findings if f.kind == "outside_duties" and f.subject == agent)

    old, new = outside(bundled), outside(edited)
    assert set(new.permissions) > set(old.permissions)
    assert new.fingerprint != old.fingerprint
    by_print = register_of({**SIGNED, "fingerprint": old.fingerprint})
    assert by_print.judge(edited, TODAY).accepted == 0  # widened: to be accepted again
    assert by_print.judge(edited, TODAY).unmatched
    by_name = register_of({**SIGNED, "kind": "outside_duties", "subject": agent})
    assert by_name.judge(edited, TODAY).accepted == 1


# --- the command line ------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _register_file(tmp_path: Path, *entries: Any) -> str:
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump({"accepted": list(entries)}), encoding="utf-8")
    return str(path)


def test_review_accept_reports_accepted_findings_and_gates_the_rest(tmp_path: Path) -> None:
    assert _run("review", str(POLICY))[0] == 1
    code, out, _ = _run("review", str(POLICY), "--accept", str(REGISTER), "--format", "json")
    assert code == 0
    document = json.loads(out)
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    accepted = [f for f in document["findings"] if f["accepted"]]
    assert len(accepted) == document["register"]["accepted"] == 11
    assert all(f["accepted"]["owner"] for f in accepted)
    code, out, _ = _run("review", str(POLICY), "--accept", str(REGISTER), "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    assert sum(len(r["properties"]["accepted_subjects"]) for r in results) == 11
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 9  # TOX-REIDENTIFY's three subjects are one result
    assert all(
        r["properties"]["accepted_subjects"] == r["properties"]["subjects"] for r in suppressed
    )
    code, out, _ = _run("review", str(POLICY), "--accept", str(REGISTER), "--format", "html")
    rows = json.loads(out.partition('id="data">')[2].partition("</script>")[0])["rows"]
    assert sum(row[7].startswith("accepted until 2027-") for row in rows) == 11


def test_review_and_ci_refuse_a_register_naming_no_finding(tmp_path: Path) -> None:
    hostile = _register_file(tmp_path, {"reason": "x"})
    code, _, err = _run("review", str(POLICY), "--accept", hostile)
    assert code == 2 and "entry 1" in err and "Traceback" not in err
    code, _, err = _run("ci", "--policy", str(POLICY), "--accept", hostile)
    assert code == 2 and "entry 1" in err


def test_an_expired_register_fails_review_and_ci_and_says_so(tmp_path: Path) -> None:
    expired = _register_file(tmp_path, {**TOXIC, **SIGNED, "expires": "2020-01-01"})
    code, _, err = _run("review", str(POLICY), "--accept", expired, "--fail-on", "critical")
    assert code == 1 and "expired on 2020-01-01" in err
    code, out, _ = _run("ci", "--policy", str(POLICY), "--accept", expired)
    assert code == 1 and "1 expired" in out


def test_review_warns_of_an_entry_matching_nothing(tmp_path: Path) -> None:
    stale = _register_file(tmp_path, {**TOXIC, **SIGNED, "subject": {"role": "teller"}})
    code, _, err = _run("review", str(POLICY), "--accept", stale, "--fail-on", "critical")
    assert code == 1 and "warning: acceptance 1" in err and "matches no finding" in err


def test_a_bad_entry_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "accepted.yaml"
    path.write_text(
        "accepted:\n"
        "  - kind: dormant_role\n    subject: {role: r}\n    reason: x\n    owner: o\n"
        "    approved_by: a\n    expires: 2030-01-01\n"
        "  - kind: dormant_role\n    subject: {role: r}\n    reason: x\n",
        encoding="utf-8",
    )
    with pytest.raises(RegisterError, match=r"accepted.yaml:8: entry 2: lacks `owner`"):
        read_register(path)
