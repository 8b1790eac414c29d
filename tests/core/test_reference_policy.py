"""Decision cases: the reference policy in `policies/`, and version 2's own policy.

The cases are data (`tests/cases/reference_policy.yaml`, `tests/cases/v2_cases.yaml`),
one test each, named by the case. The reference cases are then checked
against plain `casbin.Enforcer` on the compiled policy, which must answer the
spec's "held" (rules 1-4). A v2 case file names its policy and the decision
point's clock (`at`, per file and per case).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from pdp import Decision, DecisionPoint, check_policy
from pdp.casbin_engine import casbin_enforcer
from pdp.core.casbin_export import casbin_request, speaks_version_2
from pdp.core.decision import Request, decide, request_from
from pdp.core.model import ancestors_of
from tests.contexts import meeting_everything

ROOT = Path(__file__).resolve().parents[2]
POLICY_PATH = ROOT / "policies"
CASES_PATH = ROOT / "tests" / "cases" / "reference_policy.yaml"
V2_CASES_PATH = ROOT / "tests" / "cases" / "v2_cases.yaml"

Case = dict[str, Any]


def load_cases() -> list[Case]:
    """The decision cases of the reference policy, as written."""
    data = yaml.safe_load(CASES_PATH.read_text(encoding="utf-8"))
    cases: list[Case] = data["cases"]
    return cases


CASES = load_cases()


def _params() -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in CASES]


@pytest.fixture(scope="module")
def dp() -> DecisionPoint:
    """The decision point on the reference policy."""
    return DecisionPoint.from_path(POLICY_PATH)


def test_reference_policy_is_valid_without_warnings() -> None:
    result = check_policy(POLICY_PATH)
    assert result.policy is not None
    assert [str(p) for p in result.problems] == []


def test_case_names_are_unique() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))
    assert len(names) >= 60


def check_decision(decision: Decision, expect: dict[str, Any]) -> None:
    """Assert that a decision is what a case expects."""
    assert decision.allowed is expect["allowed"], decision.reasons
    if "reasons" in expect:
        assert list(decision.reasons) == expect["reasons"]
    if "obligations" in expect:
        assert list(decision.obligations) == expect["obligations"]
    if not decision.allowed:
        assert decision.obligations == ()


@pytest.mark.parametrize("case", _params())
def test_case(dp: DecisionPoint, case: Case) -> None:
    decision = dp.decide(**case["request"])
    check_decision(decision, case["expect"])
    assert decision.policy_version == dp.version


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case_on_the_core(dp: DecisionPoint, case: Case) -> None:
    """The same case decided by `pdp.core.decision.decide`, without the decision point's memo."""
    request = request_from(**case["request"])
    if isinstance(request, str):
        assert case["expect"]["reasons"] == [request]
        return
    check_decision(decide(dp.compiled, request), case["expect"])


def casbin_expectation(case: Case, dp: DecisionPoint) -> bool | None:
    """What plain Casbin must answer for a case, or None when Casbin cannot be asked.

    Casbin has no request validation (`invalid_*`) and one subject namespace: a
    role id asked as a user is still a subject there, so those cases are left out.
    """
    request, expect = case["request"], case["expect"]
    reasons = expect.get("reasons", [])
    if any(r.startswith("invalid_") for r in reasons):
        return None
    subject = request.get("role", request.get("user"))
    declared = subject in dp.policy.roles or subject in dp.policy.users
    if declared and {"unknown_role", "unknown_user"} & set(reasons):
        return None
    if speaks_version_2(dp.policy):  # the version-2 export decides consent too
        return bool(expect["allowed"])
    return bool(expect["allowed"] or reasons == ["consent_required"])


def test_cases_agree_with_plain_casbin(dp: DecisionPoint) -> None:
    enforcer = casbin_enforcer(dp.compiled)
    checked = 0
    for case in CASES:
        expected = casbin_expectation(case, dp)
        request = request_from(**case["request"])
        if expected is None or not isinstance(request, Request):
            continue
        args = casbin_request(dp.compiled, request, dp.clock())
        assert args is not None, case["name"]
        assert enforcer.enforce(*args) is expected, case["name"]
        checked += 1
    assert checked >= len(CASES) - 6


def test_every_role_has_a_case(dp: DecisionPoint) -> None:
    asked = {case["request"].get("role") for case in CASES}
    assert set(dp.policy.roles) - asked == set()


def test_every_grant_decides_some_case(dp: DecisionPoint) -> None:
    reasons = {r for case in CASES for r in case["expect"].get("reasons", [])}
    assert {g.id for g in dp.policy.grants} - reasons == set()


V2_FILE = yaml.safe_load(V2_CASES_PATH.read_text(encoding="utf-8"))
V2_CASES: list[Case] = V2_FILE["cases"]
V2_POLICY = V2_CASES_PATH.parent / V2_FILE["policy"]


def _clock_of(case: Case) -> datetime:
    return datetime.fromisoformat(case.get("at", V2_FILE["at"]))


@pytest.fixture(scope="module")
def v2_dp() -> DecisionPoint:
    """The decision point on the version-2 case policy; each case sets its clock."""
    return DecisionPoint.from_path(V2_POLICY)


@pytest.mark.parametrize("case", V2_CASES, ids=[case["name"] for case in V2_CASES])
def test_v2_case(v2_dp: DecisionPoint, case: Case) -> None:
    """A v2 case on the decision point (memo included) and on the core alone."""
    at = _clock_of(case)
    v2_dp.clock = lambda: at
    check_decision(v2_dp.decide(**case["request"]), case["expect"])
    request = request_from(**case["request"])
    if isinstance(request, str):
        assert case["expect"]["reasons"] == [request]
        return
    check_decision(decide(v2_dp.compiled, request, at), case["expect"])


def test_v2_cases_agree_with_plain_casbin(v2_dp: DecisionPoint) -> None:
    """The version-2 export decides each v2 case's allow or deny as pdp does, at its time."""
    enforcer = casbin_enforcer(v2_dp.compiled)
    checked = 0
    for case in V2_CASES:
        expected = casbin_expectation(case, v2_dp)
        request = request_from(**case["request"])
        if expected is None or not isinstance(request, Request):
            continue
        args = casbin_request(v2_dp.compiled, request, _clock_of(case))
        assert args is not None, case["name"]
        assert enforcer.enforce(*args) is expected, case["name"]
        checked += 1
    invalid = [c for c in V2_CASES if c["expect"].get("reasons", [""])[0].startswith("invalid_")]
    assert checked == len(V2_CASES) - len(invalid)  # Casbin is asked every valid case


def test_v2_case_names_are_unique_and_every_reason_is_pinned(v2_dp: DecisionPoint) -> None:
    names = [case["name"] for case in V2_CASES]
    assert len(names) == len(set(names))
    reasons = {r for case in V2_CASES for r in case["expect"].get("reasons", [])}
    v2_reasons = {
        "user_disabled",
        "mfa_required",
        "ticket_required",
        "approval_required",
        "relationship_required",
        "bulk_limit_exceeded",
        "outside_hours",
        "separate_consent_required",
        "consent_required",
        "invalid_context",
        "default_deny",
    }
    assert v2_reasons - reasons == set()
    assert {g.id for g in v2_dp.policy.grants} - reasons == set()
    assert any("break_glass" in case["expect"].get("obligations", []) for case in V2_CASES)


def _subjects(dp: DecisionPoint) -> list[dict[str, str]]:
    return [{"role": r} for r in dp.policy.roles] + [{"user": u} for u in dp.policy.users]


def _denied_by(deny: str, decision: Decision, subject: dict[str, str], dp: DecisionPoint) -> bool:
    """Denied by `deny`, or (a disabled user, a leaver) before any grant is looked at."""
    if decision.reasons == ("user_disabled",):
        return dp.policy.users[subject["user"]].disabled
    return deny in decision.reasons


def test_biometric_only_for_authentication(dp: DecisionPoint) -> None:
    """No subject holds biometric data for any purpose outside `authentication`."""
    policy = dp.policy
    biometric = [c for c in policy.classes if "sensitive.biometric" in ancestors_of(c)]
    outside = [p for p in policy.purposes if "authentication" not in ancestors_of(p)]
    everything = meeting_everything(policy)
    for subject in _subjects(dp):
        for info_class in biometric:
            for purpose in outside:
                for action in policy.actions:
                    decision = dp.decide(
                        **subject,
                        info_class=info_class,
                        purpose=purpose,
                        action=action,
                        context=everything,
                    )
                    assert not decision.allowed, (subject, info_class, purpose, action)
                    assert _denied_by("D-BIOMETRIC-OUTSIDE-AUTH", decision, subject, dp)


def test_authentication_data_is_never_disclosed(dp: DecisionPoint) -> None:
    """Every C3 class is denied `disclose` for every subject and purpose by D-C3-NO-DISCLOSE."""
    policy = dp.policy
    c3 = [c.id for c in policy.classes.values() if c.level == "C3"]
    assert c3
    everything = meeting_everything(policy)
    for subject in _subjects(dp):
        for info_class in c3:
            for purpose in policy.purposes:
                decision = dp.decide(
                    **subject,
                    info_class=info_class,
                    purpose=purpose,
                    action="disclose",
                    context=everything,
                )
                assert _denied_by("D-C3-NO-DISCLOSE", decision, subject, dp), (info_class, purpose)
