"""Explanations of version 2: windows, each requirement, consent, and the decision they explain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pdp import DecisionPoint
from pdp.core.explain import Explanation

POLICY = Path(__file__).resolve().parents[1] / "cases" / "v2_policy.yaml"
NOON = datetime(2026, 6, 15, 4, tzinfo=UTC)
DP = DecisionPoint.from_path(POLICY, clock=lambda: NOON)


def _explain(**request: Any) -> Explanation:
    result = DP.explain(**request)
    assert isinstance(result, Explanation)
    return result


def test_each_requirement_says_whether_it_held() -> None:
    result = _explain(
        role="senior_manager",
        info_class="account",
        purpose="customer_service",
        action="use",
        context={"relationship": "own_branch", "records": 60},
    )
    rm, senior = result.allows
    assert [(r.key, r.held, r.reason) for r in rm.requirements] == [
        ("mfa", False, "mfa_required"),
        ("relationship", False, "relationship_required"),
        ("max_records", False, "bulk_limit_exceeded"),
        ("hours", True, "outside_hours"),
    ]
    assert [(r.key, r.held) for r in senior.requirements] == [
        ("mfa", False),
        ("relationship", True),
    ]
    assert not rm.applies and not senior.applies
    assert result.decision.reasons == (
        "bulk_limit_exceeded",
        "mfa_required",
        "relationship_required",
    )
    assert result.time == NOON


def test_windows_and_break_glass_are_shown() -> None:
    late = {"ticket": "T", "approver": "u-boss", "time": "2027-01-01T00:00:00Z"}
    ops = _explain(
        user="u-ops",
        info_class="account.transaction",
        purpose="regulatory_reporting",
        action="transmit",
        context=late,
    )
    assert ops.decision.reasons == ("default_deny",)
    (match,) = ops.allows
    assert not match.in_window and not match.applies
    assert match.to_dict()["in_window"] is False
    glass = _explain(
        role="fraud_investigator",
        info_class="account",
        purpose="risk_control.fraud",
        action="use",
        context={"ticket": "INC-1"},
    )
    assert glass.allows[0].break_glass and glass.allows[0].applies
    assert glass.decision.obligations == ("alert:security", "break_glass")


def test_separate_consent_is_explained() -> None:
    result = _explain(
        role="marketer",
        info_class="identity.name",
        purpose="marketing.third_party",
        action="disclose",
        context={"consent": ["marketing"]},
    )
    data = result.to_dict()
    assert data["consent_needed"] and data["consent_separate"]
    assert data["consent_missing"] == "separate_consent_required"
    assert data["reasons"] == ["separate_consent_required"]


def test_a_windowed_assignment_is_explained_at_its_time() -> None:
    request = {
        "user": "u-temp",
        "info_class": "account.transaction",
        "purpose": "regulatory_reporting",
        "action": "transmit",
    }
    inside = _explain(**request, context={"ticket": "T", "approver": "u-boss"})
    assert inside.allows[0].path == ("u-temp", "operations")
    after = _explain(**request, context={"time": "2026-07-01T00:00:00Z"})
    assert after.allows == () and after.decision.reasons == ("default_deny",)


def test_invalid_context_matches_nothing_and_a_disabled_user_is_denied() -> None:
    bad = _explain(
        user="u-rm",
        info_class="account",
        purpose="customer_service",
        action="use",
        context={"relationship": "cousin"},
    )
    assert bad.decision.reasons == ("invalid_context",) and bad.allows == ()
    leaver = _explain(
        user="u-leaver", info_class="account", purpose="customer_service", action="use"
    )
    assert leaver.decision.reasons == ("user_disabled",)


SUBJECTS = [{"role": r} for r in DP.policy.roles] + [{"user": u} for u in DP.policy.users]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(SUBJECTS),
    st.sampled_from(sorted(DP.policy.classes)),
    st.sampled_from(sorted(DP.policy.purposes)),
    st.sampled_from(DP.policy.actions),
    st.fixed_dictionaries(
        {},
        optional={
            "consent": st.lists(st.sampled_from(sorted(DP.policy.purposes))),
            "mfa": st.booleans(),
            "ticket": st.just("T"),
            "approver": st.sampled_from(["u-ops", "u-boss"]),
            "relationship": st.sampled_from(["own_customer", "own_branch"]),
            "records": st.integers(1, 120),
        },
    ),
    st.datetimes(
        min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)
    ),
)
def test_an_explanation_explains_its_decision(
    subject: dict[str, str],
    info_class: str,
    purpose: str,
    action: str,
    context: dict[str, Any],
    at: datetime,
) -> None:
    """The explanation's decision is `decide`'s, and its matches say which grants applied."""
    context = {**context, "time": at.isoformat()}
    args = {**subject, "info_class": info_class, "purpose": purpose, "action": action}
    result = _explain(**args, context=context)
    decision = DP.decide(**args, context=context)
    assert result.decision == decision
    applying = sorted(m.grant_id for m in result.allows if m.applies)
    denying = [m for m in result.denies if m.in_window]
    if decision.allowed:
        assert list(decision.reasons) == applying and not denying
    elif denying:
        assert list(decision.reasons) == sorted(m.grant_id for m in denying)
    elif decision.reasons not in (("user_disabled",), ("default_deny",)):
        unmet = {
            r.reason for m in result.allows if m.in_window for r in m.requirements if not r.held
        }
        assert set(decision.reasons) - {"consent_required", "separate_consent_required"} == (
            unmet if not applying else set()
        )
