"""Compliance rules of the reference policy in `policies/`, checked over its whole question space.

The decision cases (`tests/cases/reference_policy.yaml`) pin single answers;
these tests state what must hold for every subject: no person holds
authentication data, batch jobs carry machine obligations only and never
destroy what they back up, the risk register is signed by compliance for at
most a year, and the demonstration leaks of `tests/cases/fixtures/` are what
the review catches when laid over the policy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pdp import DecisionPoint
from pdp.analysis.register import read_register
from pdp.analysis.review import review
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy
from tests.contexts import meeting_everything

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
REGISTER = ROOT / "tests" / "policy" / "accepted-findings.yaml"
LEAKS = ROOT / "tests" / "cases" / "fixtures" / "reference-leaks"

# The C3 permissions a subject other than the authentication service may hold:
# the teller operates the counter camera and sends the template on.
TELLER_FACE = {
    ("sensitive.biometric.face", "authentication.biometric", a) for a in ("collect", "transmit")
}
AUTHENTICATION = {"authentication_service", "svc-auth"}
BATCH_JOBS = ("svc-backup", "svc-retention")
HUMAN_OBLIGATIONS = ("mfa", "dual_control", "watermark", "mask:")
SYSTEM_ROLES = {"authentication_service", "backup_service", "retention_service"}


@pytest.fixture(scope="module")
def dp() -> DecisionPoint:
    """The decision point on the reference policy."""
    return DecisionPoint.from_path(POLICIES)


def _subjects(dp: DecisionPoint) -> Iterator[dict[str, str]]:
    yield from ({"role": r} for r in dp.policy.roles)
    yield from ({"user": u} for u in dp.policy.users)


def _allowed(
    dp: DecisionPoint, subject: dict[str, str], classes: list[str]
) -> set[tuple[str, ...]]:
    """The (class, purpose, action) a subject is allowed, every requirement met."""
    policy = dp.policy
    everything = meeting_everything(policy)
    return {
        (c, p, a)
        for c in classes
        for p in policy.purposes
        for a in policy.actions
        if dp.decide(**subject, info_class=c, purpose=p, action=a, context=everything).allowed
    }


def test_no_person_holds_authentication_data(dp: DecisionPoint) -> None:
    """C3 is allowed to the authentication service alone, and to a teller's face capture."""
    c3 = [c.id for c in dp.policy.classes.values() if c.level == "C3"]
    assert "account.credential.one_time_code" in c3 and "account.credential.security_question" in c3
    for subject in _subjects(dp):
        allowed = _allowed(dp, subject, c3)
        if set(subject.values()) & AUTHENTICATION:
            assert ("account.credential.pin", "authentication", "use") in allowed
        else:
            assert allowed <= TELLER_FACE, subject


@pytest.mark.parametrize("user", BATCH_JOBS)
def test_batch_jobs_hold_no_human_obligation_and_no_destroy_of_backups(
    dp: DecisionPoint, user: str
) -> None:
    allowed = _allowed(dp, {"user": user}, list(dp.policy.classes))
    assert allowed
    actions = {a for _, _, a in allowed}
    assert actions == ({"destroy"} if user == "svc-retention" else {"store", "archive"})
    context = {"ticket": "RET-2026-12"}  # a job shows its run's ticket, nothing a person gives
    for info_class, purpose, action in allowed:
        decision = dp.decide(
            user=user, info_class=info_class, purpose=purpose, action=action, context=context
        )
        assert decision.allowed, (user, info_class, purpose, action, decision.reasons)
        human = [o for o in decision.obligations if o.startswith(HUMAN_OBLIGATIONS)]
        assert human == [], (user, info_class, purpose, action)


def test_every_persons_grant_on_sensitive_or_c3_data_asks_for_mfa(dp: DecisionPoint) -> None:
    """The review finds MFA missing on the system roles' grants only, each of them accepted."""
    result = review(dp.compiled, at=datetime.fromisoformat("2026-12-01T02:00:00+00:00"))
    missing = {f.subject_id for f in result.findings if f.kind == "sensitive_without_mfa"}
    assert missing == SYSTEM_ROLES


def test_every_acceptance_is_signed_by_compliance_for_at_most_a_year() -> None:
    register = read_register(REGISTER)
    today = datetime.now(UTC).date()
    assert register.entries
    for entry in register.entries:
        assert "compliance" in entry.approved_by, entry.names()
        assert "compliance" not in entry.owner, entry.names()  # the business owns the risk
        assert entry.expires <= today + timedelta(days=366), entry.names()
        assert entry.ticket and entry.controls, entry.names()
        assert "deliberate" not in entry.reason.lower(), entry.names()


def _with_leaks(target: Path) -> Path:
    target.mkdir()
    for source in [*POLICIES.glob("*.yaml"), *LEAKS.glob("*.yaml")]:
        shutil.copy(source, target / source.name)
    return target


def test_the_demonstration_leaks_are_caught(tmp_path: Path) -> None:
    leaky = _with_leaks(tmp_path / "policies")
    found = {
        (f.kind, f.rule_id, f.subject_kind, f.subject_id)
        for f in review(compile_policy(load_policy(leaky))).findings
    }
    assert {
        ("over_broad_grant", "G-LEAK-AM-ALL-ACCOUNT", "role", "account_manager"),
        ("toxic_combination", "TOX-FOUR-PIECE-SET", "role", "marketing_specialist"),
        ("sod_violation", "SOD-THREE-ADMINS", "user", "u9001"),
        ("sod_violation", "SOD-DEV-PROD", "user", "u9002"),
        ("sod_violation", "SOD-AML-COMPLIANCE", "user", "u9003"),
    } <= found
    pin = {"info_class": "account.credential.pin", "purpose": "authentication", "action": "use"}
    assert DecisionPoint.from_path(leaky).decide(role="account_manager", **pin).allowed
    assert not DecisionPoint.from_path(POLICIES).decide(role="account_manager", **pin).allowed


def test_the_fixture_leaks_are_labelled() -> None:
    text = (LEAKS / "45-demonstration-leaks.yaml").read_text(encoding="utf-8")
    assert text.startswith("# DEMONSTRATION LEAKS")
    assert text.count("# LEAK (") == 5
