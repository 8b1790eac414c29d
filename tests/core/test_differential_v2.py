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
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.casbin_engine import casbin_enforcer, export_casbin, file_enforcer
from pdp.core.casbin_export import casbin_context
from pdp.core.model import Policy
from pdp.decision_point import DecisionPoint
from tests import oracle
from tests.strategies import policy_and_queries, to_yaml

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NOW = dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC)


def casbin_args(policy: Policy, query: dict[str, Any]) -> tuple[Any, ...]:
    """The five elements of a version-2 Casbin request for a query with a valid context."""
    kind, subject = ("role", query["role"]) if "role" in query else ("user", query["user"])
    context = query["context"]
    at = dt.datetime.fromisoformat(context["time"]) if "time" in context else NOW
    facts = casbin_context(
        policy,
        at,
        user=subject if kind == "user" else "",
        consent=context.get("consent", ()),
        mfa=context.get("mfa", False),
        ticket=context.get("ticket"),
        approver=context.get("approver"),
        relationship=context.get("relationship"),
        records=context.get("records", 1),
    )
    return subject, query["info_class"], query["purpose"], query["action"], facts


@SETTINGS
@given(case=policy_and_queries(count=20, version=2), data=st.data())
def test_casbin_and_oracle_agree(
    case: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject, tmp_path: Path
) -> None:
    policy, requests = case
    dp = DecisionPoint.from_text(to_yaml(policy), "policy.yaml")
    target = tmp_path / str(data.draw(st.integers(0, 10**9)))
    model_path, policy_path = export_casbin(dp.compiled, target)
    enforcers = [casbin_enforcer(dp.compiled), file_enforcer(model_path, policy_path)]
    for query in requests:
        allowed, reasons, _ = oracle.decide(policy, query, NOW)
        if reasons == ("invalid_context",):
            continue
        args = casbin_args(dp.policy, query)
        for enforcer in enforcers:
            assert enforcer.enforce(*args) is allowed, (query, reasons)
