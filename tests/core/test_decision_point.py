"""The decision point API: never raises on garbage, decide_many keeps order, explain paths."""

from __future__ import annotations

from typing import Any

import pytest

from pdp import Decision, DecisionPoint, Explanation

POLICY = """\
actions: [use, disclose]
classes:
  identity: {level: C2}
  identity.id_number: {level: C3}
purposes:
  service: {legal_basis: contract}
  service.complaint: {}
  marketing: {legal_basis: consent}
  marketing.sms: {}
roles:
  staff: {}
  teller: {inherits: [staff]}
  manager: {inherits: [teller]}
users:
  u1: {roles: [manager]}
  u0: {roles: []}
grants:
  - {id: G-STAFF, roles: [staff], classes: [identity], purposes: [service], actions: [use],
     obligations: [mask]}
  - {id: G-TELLER, roles: [teller], classes: [identity.id_number], purposes: [service],
     actions: [use], obligations: [mfa]}
  - {id: G-MKT, roles: [staff], classes: [identity], purposes: [marketing], actions: [use]}
  - {id: D-NO-DISCLOSE, effect: deny, roles: [staff], classes: [identity.id_number],
     purposes: ["*"], actions: [disclose]}
  - {id: G-MGR-DISCLOSE, roles: [manager], classes: [identity], purposes: [service],
     actions: [disclose]}
"""

REQUEST = {"info_class": "identity.id_number", "purpose": "service", "action": "use"}


@pytest.fixture(scope="module")
def dp() -> DecisionPoint:
    return DecisionPoint.from_text(POLICY, "policy.yaml")


GARBAGE: list[dict[str, Any]] = [
    {"role": 1, **REQUEST},
    {"role": None, "user": None, **REQUEST},
    {"role": "teller", "user": "u1", **REQUEST},
    {"role": ["teller"], **REQUEST},
    {"role": {"x": 1}, **REQUEST},
    {"role": "teller", "info_class": None, "purpose": "service", "action": "use"},
    {"role": "teller", "info_class": 3.5, "purpose": ["service"], "action": b"use"},
    {"role": "teller", **REQUEST, "context": "consent"},
    {"role": "teller", **REQUEST, "context": ["marketing"]},
    {"role": "teller", **REQUEST, "context": {"consent": "marketing"}},
    {"role": "teller", **REQUEST, "context": {"consent": [1, 2]}},
    {"user": object(), **REQUEST},
]


@pytest.mark.parametrize("request_args", GARBAGE)
def test_garbage_denies_without_raising(dp: DecisionPoint, request_args: dict[str, Any]) -> None:
    decision = dp.decide(**request_args)
    assert isinstance(decision, Decision)
    assert not decision.allowed
    assert decision.reasons and decision.reasons[0] in ("invalid_request", "invalid_context")
    assert decision.policy_version == dp.version


@pytest.mark.parametrize(
    ("args", "reasons"),
    [
        ({"role": "nobody"}, ("unknown_role",)),
        ({"user": "nobody"}, ("unknown_user",)),
        ({"role": "teller", "info_class": "x"}, ("unknown_info_class",)),
        ({"role": "teller", "purpose": "x"}, ("unknown_purpose",)),
        ({"role": "teller", "action": "x"}, ("unknown_action",)),
        (
            {"user": "x", "info_class": "x", "purpose": "x", "action": "x"},
            ("unknown_user", "unknown_info_class", "unknown_purpose", "unknown_action"),
        ),
    ],
)
def test_unknown_ids_deny_with_reasons(
    dp: DecisionPoint, args: dict[str, Any], reasons: tuple[str, ...]
) -> None:
    decision = dp.decide(**{**REQUEST, **args})
    assert (decision.allowed, decision.reasons) == (False, reasons)


def test_decisions(dp: DecisionPoint) -> None:
    allowed = dp.decide(role="teller", **REQUEST)
    assert (allowed.allowed, allowed.reasons, allowed.obligations) == (
        True,
        ("G-STAFF", "G-TELLER"),
        ("mask", "mfa"),
    )
    assert dp.decide(role="staff", **REQUEST).reasons == ("G-STAFF",)
    assert dp.decide(user="u1", **REQUEST).allowed
    assert dp.decide(user="u0", **REQUEST).reasons == ("default_deny",)
    disclose = dict(REQUEST, action="disclose")
    assert dp.decide(user="u1", **disclose).reasons == ("D-NO-DISCLOSE",)
    assert dp.decide(role="manager", **dict(disclose, info_class="identity")).allowed


def test_consent(dp: DecisionPoint) -> None:
    ask = {"role": "teller", "info_class": "identity", "action": "use"}
    assert dp.decide(**ask, purpose="marketing.sms").reasons == ("consent_required",)
    for consent in (["marketing"], ["marketing.sms"], ("marketing",)):
        assert dp.decide(**ask, purpose="marketing.sms", context={"consent": consent}).allowed
    assert not dp.decide(**ask, purpose="marketing", context={"consent": ["marketing.sms"]}).allowed
    assert not dp.decide(**ask, purpose="marketing.sms", context={"consent": []}).allowed
    # after the memo holds the consented answer, a request without consent is still denied
    assert dp.decide(**ask, purpose="marketing.sms").reasons == ("consent_required",)


def test_decide_many_keeps_order(dp: DecisionPoint) -> None:
    requests: list[Any] = [
        {"role": "teller", **REQUEST},
        "not a mapping",
        {"role": "nobody", **REQUEST},
        {"user": "u1", **dict(REQUEST, action="disclose")},
        {"role": "staff", **REQUEST},
    ]
    got = dp.decide_many(requests)
    assert [d.reasons for d in got] == [
        ("G-STAFF", "G-TELLER"),
        ("invalid_request",),
        ("unknown_role",),
        ("D-NO-DISCLOSE",),
        ("G-STAFF",),
    ]
    assert dp.decide_many([]) == []


def test_explain_paths(dp: DecisionPoint) -> None:
    explanation = dp.explain(user="u1", **dict(REQUEST, action="disclose"))
    assert isinstance(explanation, Explanation)
    assert not explanation.decision.allowed
    [deny] = explanation.denies
    assert deny.grant_id == "D-NO-DISCLOSE"
    assert deny.path == ("u1", "manager", "teller", "staff")
    assert deny.matched_class == "identity.id_number"
    [allow] = explanation.allows
    assert (allow.grant_id, allow.path, allow.matched_class) == (
        "G-MGR-DISCLOSE",
        ("u1", "manager"),
        "identity",
    )
    assert explanation.class_ancestors == ("identity.id_number", "identity")
    data = explanation.to_dict()
    assert data["overridden_by"][0]["grant"] == "D-NO-DISCLOSE"
    assert data["matched"][0]["path"] == ["u1", "manager"]


def test_explain_purpose_ancestor_and_unknown(dp: DecisionPoint) -> None:
    explanation = dp.explain(role="teller", **dict(REQUEST, purpose="service.complaint"))
    assert isinstance(explanation, Explanation)
    assert {m.matched_purpose for m in explanation.allows} == {"service"}
    assert explanation.decision == dp.decide(
        role="teller", **dict(REQUEST, purpose="service.complaint")
    )
    unknown = dp.explain(role="nobody", **REQUEST)
    assert isinstance(unknown, Explanation) and unknown.decision.reasons == ("unknown_role",)
    malformed = dp.explain(role=1, **REQUEST)
    assert isinstance(malformed, Decision) and malformed.reasons == ("invalid_request",)


def test_internal_error_fails_closed(dp: DecisionPoint, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = DecisionPoint(dp.compiled)

    def broken(*_: Any, **__: Any) -> Decision:
        raise RuntimeError("boom")

    monkeypatch.setattr("pdp.memo.judge", broken)
    decision = fresh.decide(role="teller", **REQUEST)
    assert (decision.allowed, decision.reasons) == (False, ("error",))


def test_who_can_and_permissions_of(dp: DecisionPoint) -> None:
    who = dp.who_can("identity.id_number", "service", "use")
    assert who is not None
    roles, users = who
    assert set(roles) == {"staff", "teller", "manager"} and users == ["u1"]
    assert dp.who_can("nope", "service", "use") is None
    assert dp.permissions_of("role", "nobody") is None
    held = dp.permissions_of("role", "staff")
    assert held is not None and held
