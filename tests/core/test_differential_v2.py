"""Differential tests, version 2: the index, plain Casbin and the naive oracle agree.

On random version-2 policies and requests (tests/strategies.py: conditions,
windows, sensitive classes, separate consent, break-glass, disabled users,
dated assignments, contexts some of them invalid, times on the edges of
windows and hours), `DecisionPoint` gives the oracle's full decision
(allowed, reasons, obligations), and `casbin.Enforcer` on the exported model
(in memory, and read back from the exported files) gives its allow/deny.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.casbin_engine import casbin_enforcer, export_casbin, file_enforcer
from pdp.core.casbin_export import casbin_request
from pdp.core.decision import Request, request_from
from pdp.decision_point import DecisionPoint
from tests import oracle
from tests.strategies import edge_times, policies, policy_and_queries, to_yaml

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NOW = dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC)
SAMPLE = 120


def casbin_args(dp: DecisionPoint, query: dict[str, Any]) -> tuple[Any, ...] | None:
    """The arguments of Casbin's `enforce` for a query (None for an invalid context)."""
    request = request_from(**query)
    return casbin_request(dp.compiled, request, NOW) if isinstance(request, Request) else None


def point(policy: dict[str, Any]) -> DecisionPoint:
    """A decision point for a policy dict, through its YAML text, on a fixed clock."""
    return DecisionPoint.from_text(to_yaml(policy), "policy.yaml", clock=lambda: NOW)


@SETTINGS
@given(case=policy_and_queries(count=20, version=2), data=st.data())
def test_index_casbin_and_oracle_agree(
    case: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject, tmp_path: Path
) -> None:
    policy, requests = case
    dp = point(policy)
    target = tmp_path / str(data.draw(st.integers(0, 10**9)))
    model_path, policy_path = export_casbin(dp.compiled, target)
    enforcers = [casbin_enforcer(dp.compiled), file_enforcer(model_path, policy_path)]
    for query in requests:
        expected = oracle.decide(policy, query, NOW)
        decision = dp.decide(**query)
        assert (decision.allowed, decision.reasons, decision.obligations) == expected, query
        assert dp.decide(**query) == decision, query  # again, perhaps from the memo
        args = casbin_args(dp, query)
        if args is None:
            assert expected[1] == ("invalid_context",), query
            continue
        for enforcer in enforcers:
            assert enforcer.enforce(*args) is expected[0], (query, expected)


@SETTINGS
@given(case=policy_and_queries(count=15))
def test_declaring_version_2_changes_nothing(
    case: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    """A version-1 policy is a version-2 policy: same version, same decisions; and the
    version-2 export of it gives pdp's allow/deny, consent included."""
    policy, requests = case
    before, after = point(policy), point({**policy, "version": 2})
    assert after.version == before.version
    enforcer = casbin_enforcer(after.compiled)
    for query in requests:
        decision = after.decide(**query)
        assert decision == before.decide(**query), query
        args = casbin_args(after, query)
        assert args is not None and len(args) == 5
        assert enforcer.enforce(*args) is decision.allowed, query


@settings(max_examples=25, deadline=None)
@given(policy=policies(max_roles=4, max_grants=8, version=2), data=st.data())
def test_every_declared_request_with_every_fact(
    policy: dict[str, Any], data: st.DataObject
) -> None:
    """Every declared (subject, class, purpose, action), with a context that meets every
    requirement but hours, at times on the edges of the policy's windows: windows, dated
    assignments, disabled users and consent decide alone."""
    dp = point(policy)
    enforcer = casbin_enforcer(dp.compiled)
    subjects = [("role", r) for r in policy["roles"]] + [("user", u) for u in policy["users"]]
    combos = list(
        itertools.product(subjects, policy["classes"], policy["purposes"], policy["actions"])
    )
    combos = random.Random(0).sample(combos, min(len(combos), SAMPLE))
    facts: dict[str, Any] = {"mfa": True, "ticket": "INC-3", "approver": "u-second"}
    if policy.get("relationships"):
        facts["relationship"] = policy["relationships"][0]
    tops = [p for p in policy["purposes"] if "." not in p]
    for moment in data.draw(st.lists(edge_times(policy), min_size=1, max_size=2)):
        for consent in (list(policy["purposes"]), tops):
            context = {**facts, "consent": consent, "time": moment.isoformat()}
            for (kind, subject), cls, purp, act in combos:
                query = {kind: subject, "info_class": cls, "purpose": purp, "action": act}
                query["context"] = context
                expected = oracle.decide(policy, query, NOW)
                decision = dp.decide(**query)
                assert (decision.allowed, decision.reasons, decision.obligations) == expected
                args = casbin_args(dp, query)
                assert args is not None and enforcer.enforce(*args) is expected[0], query
