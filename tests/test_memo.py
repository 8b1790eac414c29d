"""The memo of decisions: each request decided once per policy, bounded, its key the request.

The key holds the ids, the consent and the context facts the requirements
read; a decision another time could change is never remembered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp import DecisionPoint
from pdp.core.compile import compile_policy
from pdp.core.decision import decide, request_from
from pdp.core.load import load_policy
from pdp.memo import DecisionMemo
from tests.strategies import policy_and_queries, to_yaml

POLICY = Path(__file__).parent / "service" / "policy" / "policy.yaml"
V2_POLICY = Path(__file__).parent / "cases" / "v2_policy.yaml"
MARKETING = ("role", "teller", "account.balance", "marketing", "use")
NOON = datetime(2026, 6, 15, 4, tzinfo=UTC)


@pytest.fixture
def memo() -> DecisionMemo:
    return DecisionMemo(compile_policy(load_policy(POLICY)), limit=3)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import pdp.memo

    calls: list[Any] = []
    real = pdp.memo.judge
    monkeypatch.setattr(pdp.memo, "judge", lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_a_request_is_decided_once(memo: DecisionMemo, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    first = memo.decide((*MARKETING, ("marketing",), ()))
    assert memo.decide((*MARKETING, ("marketing",), ())) is first and len(calls) == 1


def test_consent_is_part_of_the_key(memo: DecisionMemo) -> None:
    assert memo.decide((*MARKETING, ("marketing",), ())).allowed
    assert memo.decide((*MARKETING, (), ())).reasons == ("consent_required",)


def test_a_full_memo_starts_again(memo: DecisionMemo) -> None:
    for action in ("use", "read", "write", "export"):
        memo.decide(("role", "teller", "account.balance", "marketing", action, (), ()))
    assert len(memo) == 1
    memo.clear()
    assert len(memo) == 0


@pytest.fixture
def v2() -> DecisionPoint:
    return DecisionPoint.from_path(V2_POLICY, clock=lambda: NOON)


OPS = {
    "user": "u-ops",
    "info_class": "account.transaction",
    "purpose": "regulatory_reporting",
    "action": "transmit",
}
MARKETER = {"role": "marketer", "info_class": "identity", "purpose": "marketing"}


def test_context_facts_are_part_of_the_key(v2: DecisionPoint) -> None:
    v2.swap(compile_policy(v2.policy))
    marketing = {**MARKETER, "action": "transmit", "context": {"consent": ["marketing"]}}
    assert v2.decide(**marketing).allowed
    bulk = {**marketing, "context": {"consent": ["marketing"], "records": 500}}
    assert v2.decide(**bulk).reasons == ("bulk_limit_exceeded",)
    assert v2.decide(**marketing).allowed


def test_tickets_and_customers_do_not_grow_the_memo(
    v2: DecisionPoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    glass = {"role": "fraud_investigator", "info_class": "account", "action": "use"}
    for n in range(5):
        context = {"ticket": f"INC-{n}", "customer": f"C-{n}"}
        decision = v2.decide(**glass, purpose="risk_control.fraud", context=context)
        assert decision.allowed
    assert len(calls) == 1


def test_an_approver_is_judged_against_the_requester(v2: DecisionPoint) -> None:
    boss = v2.decide(**OPS, context={"ticket": "T", "approver": "u-boss"})
    self_approved = v2.decide(**OPS, context={"ticket": "T", "approver": "u-ops"})
    assert boss.allowed and self_approved.reasons == ("approval_required",)


def test_a_timed_decision_is_never_remembered(
    v2: DecisionPoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    context = {"ticket": "T", "approver": "u-boss"}
    assert v2.decide(**OPS, context=context).allowed
    v2.clock = lambda: datetime(2027, 1, 1, tzinfo=UTC)
    assert v2.decide(**OPS, context=context).reasons == ("default_deny",)
    assert len(calls) == 2 and len(v2._state) == 0


def test_an_untimed_decision_is_remembered_whatever_its_time(
    v2: DecisionPoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    request = {**MARKETER, "action": "use", "context": {"consent": ["marketing"]}}
    first = v2.decide(**request)
    later = {**request, "context": {"consent": ["marketing"], "time": "2030-01-01T00:00:00Z"}}
    assert v2.decide(**later) is first and len(calls) == 1


@pytest.mark.parametrize(
    "consent",
    [None, [""], ["marketing", ""], ["x" * 257], ["market\ning"], ["marketing"] * 65],
)
def test_the_fast_path_refuses_the_consent_the_validator_refuses(
    v2: DecisionPoint, consent: Any
) -> None:
    """A context of consent alone skips `request_from`: it is judged as `decide` judges it,
    on a request its valid consent allows, asked twice (the second answer from the memo)."""
    request = {**MARKETER, "action": "use"}
    assert v2.decide(**request, context={"consent": ["marketing"]}).allowed
    for _ in range(2):
        assert v2.decide(**request, context={"consent": consent}).reasons == ("invalid_context",)
    core = request_from(**request, context={"consent": consent})
    assert core == "invalid_context"


# (request, context, a time before an edge and its answer, the time of the edge and its answer)
EDGES = [
    (  # G-RM-OWN-CUSTOMERS's hours end at 20:00 in Asia/Shanghai
        {"user": "u-rm", "info_class": "account", "purpose": "customer_service", "action": "use"},
        {"relationship": "own_customer", "mfa": True},
        ("2026-06-15T11:59:59Z", ("G-RM-OWN-CUSTOMERS",)),
        ("2026-06-15T12:00:00Z", ("outside_hours",)),
    ),
    (  # G-AUDITOR-JULY-FIRST's window closes at 18:00 UTC
        {"role": "auditor", "info_class": "account", "purpose": "regulatory_reporting"},
        {},
        ("2026-07-01T17:59:59Z", ("G-AUDITOR-JULY-FIRST",)),
        ("2026-07-01T18:00:00Z", ("default_deny",)),
    ),
    (  # u-temp holds operations until the end of 2026-06-30
        {**OPS, "user": "u-temp"},
        {"ticket": "T", "approver": "u-boss"},
        ("2026-06-30T23:59:59Z", ("G-OPS-EXPORT",)),
        ("2026-07-01T00:00:00Z", ("default_deny",)),
    ),
]


@pytest.mark.parametrize("edge", EDGES, ids=["hours", "grant window", "assignment window"])
@pytest.mark.parametrize("by", ["clock", "context"])
def test_the_same_request_on_both_sides_of_a_time_edge(edge: Any, by: str) -> None:
    """Asked alternately just before and at an edge, by the clock or by `context.time`:
    each answer is that time's, however often the same request came before."""
    request, context, before, after = edge
    request = {"action": "use", **request}
    clock = [NOON]
    dp = DecisionPoint.from_path(V2_POLICY, clock=lambda: clock[0])
    for _ in range(2):
        for at, reasons in (before, after):
            asked = dict(context)
            if by == "clock":
                clock[0] = datetime.fromisoformat(at)
            else:
                asked["time"] = at
            assert dp.decide(**request, context=asked).reasons == reasons, at


UNTIMED_POLICY = """\
version: 2
relationships: [own_customer, own_branch]
actions: [use]
classes: {account: {level: C2}}
purposes: {customer_service: {legal_basis: contract}}
roles: {rm: {}}
grants:
  - id: G-RM
    roles: [rm]
    classes: [account]
    purposes: [customer_service]
    actions: [use]
    when: {mfa: true, ticket: true, approver: true, relationship: [own_customer], max_records: 10}
users:
  u1: {roles: [rm]}
"""
MET = {
    "mfa": True,
    "ticket": "T-1",
    "approver": "u2",
    "relationship": "own_customer",
    "records": 10,
}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"mfa": False}, "mfa_required"),
        ({"mfa": None}, "mfa_required"),
        ({"ticket": None}, "ticket_required"),
        ({"approver": "u1"}, "approval_required"),
        ({"approver": None}, "approval_required"),
        ({"relationship": "own_branch"}, "relationship_required"),
        ({"relationship": None}, "relationship_required"),
        ({"records": 11}, "bulk_limit_exceeded"),
    ],
)
def test_a_remembered_decision_is_never_served_for_other_facts(
    change: dict[str, Any], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same user's request with every requirement met and with one fact changed (None:
    left out), asked alternately: both remembered, each answer its own facts'."""
    calls = _counting(monkeypatch)
    dp = DecisionPoint.from_text(UNTIMED_POLICY, "policy.yaml")
    request = {"user": "u1", "info_class": "account", "purpose": "customer_service"}
    changed = {k: v for k, v in {**MET, **change}.items() if v is not None}
    for _ in range(3):
        assert dp.decide(**request, action="use", context=MET).reasons == ("G-RM",)
        assert dp.decide(**request, action="use", context=changed).reasons == (reason,)
    assert len(calls) == 2 and len(dp._state) == 2


SUBJECTS = [{"role": r} for r in ("relationship_manager", "senior_manager", "operations")]
SUBJECTS += [{"role": r} for r in ("fraud_investigator", "marketer", "night_clerk", "auditor")]
SUBJECTS += [{"user": u} for u in ("u-rm", "u-ops", "u-temp", "u-leaver", "u-boss")]
CONTEXTS = st.fixed_dictionaries(
    {},
    optional={
        "consent": st.lists(
            st.sampled_from(["marketing", "marketing.third_party", "authentication"])
        ),
        "mfa": st.booleans(),
        "ticket": st.sampled_from(["T-1", "T-2"]),
        "approver": st.sampled_from(["u-ops", "u-boss", "operations"]),
        "relationship": st.sampled_from(["own_customer", "own_branch"]),
        "records": st.integers(1, 120),
        "customer": st.sampled_from(["C-1", "C-2"]),
    },
)
PURPOSES = ["customer_service", "marketing", "marketing.third_party", "risk_control.fraud"]
PURPOSES.append("regulatory_reporting")
TIMES = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)
)


# Requests whose grants have requirements but no window or hours: the memo keeps them.
UNTIMED = [
    {"subject": {"role": "marketer"}, "info_class": "identity", "purpose": "marketing"},
    {"subject": {"role": "fraud_investigator"}, "info_class": "account"},
]
UNTIMED[0]["action"] = "transmit"
UNTIMED[1].update(purpose="risk_control.fraud", action="use")
RANDOM = st.fixed_dictionaries(
    {
        "subject": st.sampled_from(SUBJECTS),
        "info_class": st.sampled_from(
            ["account", "account.transaction", "identity", "identity.name"]
        ),
        "purpose": st.sampled_from(PURPOSES),
        "action": st.sampled_from(["use", "transmit", "disclose"]),
    }
)
BASES = st.one_of(st.sampled_from(UNTIMED), RANDOM)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(BASES, min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(0, 2), CONTEXTS, TIMES, st.booleans()), min_size=1, max_size=40),
)
def test_a_memoised_decision_is_the_fresh_one(bases: list[Any], events: list[Any]) -> None:
    """Through one memo, the same few requests at random times and contexts: the fresh answer."""
    clock = [NOON]
    dp = DecisionPoint.from_path(V2_POLICY, clock=lambda: clock[0])
    for index, context, at, in_context in events:
        base = dict(bases[index % len(bases)])
        args = {**base.pop("subject"), **base}
        context = dict(context)
        if in_context:
            context["time"] = at.isoformat()
        else:
            clock[0] = at
        memoised = dp.decide(**args, context=context)
        request = request_from(**args, context=context)
        assert not isinstance(request, str)
        assert memoised == decide(dp.compiled, request, at)


@settings(max_examples=80, deadline=None)
@given(policy_and_queries(count=12, version=2), st.lists(TIMES, min_size=24, max_size=24))
def test_a_memoised_decision_is_the_fresh_one_on_generated_policies(
    generated: tuple[dict[str, Any], list[dict[str, Any]]], times: list[datetime]
) -> None:
    """Generated v2 policies, each request asked twice at two clock times through one memo."""
    policy, queries = generated
    clock = [NOON]
    dp = DecisionPoint.from_text(to_yaml(policy), clock=lambda: clock[0])
    for query, at in zip(queries + queries, times, strict=True):
        clock[0] = at
        memoised = dp.decide(**query)
        request = request_from(**query)
        if isinstance(request, str):
            assert memoised.reasons == (request,)
            continue
        assert memoised == decide(dp.compiled, request, at)
