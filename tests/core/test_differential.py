"""Differential and property tests: the decision index, plain Casbin and the naive oracle agree.

On random policies (tests/strategies.py), every query gets the same "held"
answer from `DecisionPoint`, from `casbin.Enforcer` on the compiled model (in
memory, and read back from the files `export_casbin` writes), and from the
oracle (tests/oracle.py); and the full decision (allowed, reasons,
obligations) of `DecisionPoint` equals the oracle's.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.casbin_engine import casbin_enforcer, export_casbin, file_enforcer
from pdp.core.load import check_texts, load_policy
from pdp.decision_point import DecisionPoint
from pdp.errors import PolicyError
from tests import oracle
from tests.strategies import policies, policy_and_queries, queries, to_yaml

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXHAUSTIVE_LIMIT = 3000
NOW = dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC)


def point(policy: dict[str, Any]) -> DecisionPoint:
    """A decision point for a policy dict (through its YAML text, as a user writes it)."""
    return DecisionPoint.from_text(to_yaml(policy), "policy.yaml")


def subject_of(query: dict[str, Any]) -> tuple[str, str]:
    """The (kind, id) of a query's subject."""
    return ("role", query["role"]) if "role" in query else ("user", query["user"])


def oracle_decision(policy: dict[str, Any], query: dict[str, Any]) -> tuple[Any, ...]:
    """The oracle's (allowed, reasons, obligations) for a query."""
    return oracle.decide(policy, query, NOW)


def oracle_held(policy: dict[str, Any], query: dict[str, Any]) -> bool:
    """The oracle's rules 1-4 answer; False when an id is not declared."""
    _, reasons, _ = oracle_decision(policy, query)
    if any(r.startswith("unknown_") for r in reasons):
        return False
    return oracle.held(policy, query, NOW)


def index_held(dp: DecisionPoint, query: dict[str, Any]) -> bool:
    """The held part of a `DecisionPoint` decision: allowed, or denied for consent only."""
    decision = dp.decide(**query)
    return decision.allowed or decision.reasons == ("consent_required",)


def casbin_answer(enforcer: Any, query: dict[str, Any]) -> bool:
    """Plain Casbin's answer for a query."""
    _, subject = subject_of(query)
    return bool(enforcer.enforce(subject, query["info_class"], query["purpose"], query["action"]))


def assert_agree(
    policy: dict[str, Any], dp: DecisionPoint, enforcers: list[Any], query: dict[str, Any]
) -> None:
    """The index, each Casbin enforcer and the oracle agree on one query."""
    decision = dp.decide(**query)
    expected = oracle_decision(policy, query)
    assert (decision.allowed, decision.reasons, decision.obligations) == expected, query
    held = oracle_held(policy, query)
    assert index_held(dp, query) == held, query
    for enforcer in enforcers:
        assert casbin_answer(enforcer, query) == held, query


def enforcers_for(dp: DecisionPoint, tmp: Path) -> list[Any]:
    """Plain Casbin in memory, and read from the exported model.conf and policy.csv."""
    model_path, policy_path = export_casbin(dp.compiled, tmp)
    return [casbin_enforcer(dp.compiled), file_enforcer(model_path, policy_path)]


@SETTINGS
@given(case=policy_and_queries(), data=st.data())
def test_index_casbin_and_oracle_agree(
    case: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject, tmp_path: Path
) -> None:
    policy, requests = case
    dp = point(policy)
    target = tmp_path / str(data.draw(st.integers(0, 10**9)))
    enforcers = enforcers_for(dp, target)
    for query in requests:
        assert_agree(policy, dp, enforcers, query)


@settings(max_examples=25, deadline=None)
@given(policy=policies(max_roles=4, max_grants=8))
def test_exhaustive_declared_combinations(policy: dict[str, Any]) -> None:
    dp = point(policy)
    subjects = [("role", r) for r in policy["roles"]] + [
        ("user", u) for u in policy.get("users", {})
    ]
    combos = list(
        itertools.product(subjects, policy["classes"], policy["purposes"], policy["actions"])
    )
    if len(combos) > EXHAUSTIVE_LIMIT:
        combos = random.Random(0).sample(combos, EXHAUSTIVE_LIMIT)
    enforcer = casbin_enforcer(dp.compiled)
    for (kind, subject), cls, purp, act in combos:
        query = {
            kind: subject,
            "info_class": cls,
            "purpose": purp,
            "action": act,
            "context": {"consent": []},
        }
        assert_agree(policy, dp, [enforcer], query)
        all_consent = dict(query, context={"consent": list(policy["purposes"])})
        decision = dp.decide(**all_consent)
        assert (decision.allowed, decision.reasons, decision.obligations) == oracle_decision(
            policy, all_consent
        )


@settings(max_examples=30, deadline=None)
@given(case=policy_and_queries(count=15))
def test_deny_by_default(case: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    policy, requests = case
    policy = dict(policy, grants=[])
    dp = point(policy)
    for query in requests:
        decision = dp.decide(**query)
        assert not decision.allowed
        assert decision.obligations == ()
        unknown = [r for r in decision.reasons if r.startswith("unknown_")]
        assert decision.reasons == (tuple(unknown) or ("default_deny",))


@settings(max_examples=30, deadline=None)
@given(case=policy_and_queries(count=15), data=st.data())
def test_adding_a_deny_never_allows_more(
    case: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject
) -> None:
    policy, requests = case
    before = point(policy)
    stricter = copy.deepcopy(policy)
    names = {
        "roles": list(policy["roles"]),
        "classes": list(policy["classes"]),
        "purposes": list(policy["purposes"]),
        "actions": list(policy["actions"]),
    }
    new_deny: dict[str, Any] = {"effect": "deny"}
    for key, ids in names.items():
        new_deny[key] = data.draw(
            st.one_of(
                st.just(["*"]), st.lists(st.sampled_from(ids), min_size=1, max_size=2, unique=True)
            )
        )
    stricter["grants"] = [*policy["grants"], new_deny]
    after = point(stricter)
    for query in requests:
        if not before.decide(**query).allowed:
            assert not after.decide(**query).allowed, query


def _shuffled(policy: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same policy with mapping keys and lists in another order."""

    def shuffle(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffle(v) for k, v in items}
        if isinstance(value, list):
            items = [shuffle(v) for v in value]
            rng.shuffle(items)
            return items
        return value

    return dict(shuffle(policy))


def _with_ids(policy: dict[str, Any]) -> dict[str, Any]:
    """Grants without an id take it from their position: give every grant an id."""
    grants = [dict(g, id=g.get("id", f"auto{n}")) for n, g in enumerate(policy["grants"])]
    return dict(policy, grants=grants)


@settings(max_examples=30, deadline=None)
@given(policy=policies(), seed=st.integers(0, 2**32), data=st.data())
def test_same_policy_same_version(
    policy: dict[str, Any], seed: int, data: st.DataObject, tmp_path_factory: Any
) -> None:
    policy = _with_ids(policy)
    version = point(policy).version
    rng = random.Random(seed)
    assert point(_shuffled(policy, rng)).version == version
    # split into several files of a directory: one per top-level key, in a random order
    directory = Path(tmp_path_factory.mktemp("split"))
    keys = list(policy)
    rng.shuffle(keys)
    for n, key in enumerate(keys):
        (directory / f"{n:02d}.yaml").write_text(yaml.safe_dump({key: policy[key]}))
    assert DecisionPoint.from_policy(load_policy(directory)).version == version
    # changing a grant changes the version
    if policy["grants"]:
        changed = copy.deepcopy(policy)
        grant = changed["grants"][data.draw(st.integers(0, len(policy["grants"]) - 1))]
        grant["effect"] = "allow" if grant.get("effect") == "deny" else "deny"
        assert point(changed).version != version


@settings(max_examples=30, deadline=None)
@given(case=policy_and_queries(count=20))
def test_memoised_decisions_equal_fresh_ones(
    case: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    policy, requests = case
    dp = point(policy)
    first = [dp.decide(**q) for q in requests]
    second = [dp.decide(**q) for q in requests]  # from the memo
    fresh = [point(policy).decide(**q) for q in requests]
    assert first == second == fresh
    assert dp.decide_many(requests) == first


@settings(max_examples=20, deadline=None)
@given(first=policy_and_queries(count=10), second=policy_and_queries(count=10), data=st.data())
def test_swap_and_reload_keep_serving(
    first: tuple[dict[str, Any], list[dict[str, Any]]],
    second: tuple[dict[str, Any], list[dict[str, Any]]],
    data: st.DataObject,
    tmp_path_factory: Any,
) -> None:
    directory = Path(tmp_path_factory.mktemp("reload"))
    path = directory / "policy.yaml"
    path.write_text(to_yaml(first[0]))
    dp = DecisionPoint.from_path(path)
    requests = first[1] + second[1]
    for query in requests:
        dp.decide(**query)  # fill the memo
    other = point(second[0])
    dp.swap(other.compiled)
    assert dp.version == other.version
    for query in requests:
        assert dp.decide(**query) == other.decide(**query)
    assert dp.reload(path) == point(first[0]).version
    for query in requests:
        d = dp.decide(**query)
        assert (d.allowed, d.reasons, d.obligations) == oracle_decision(first[0], query)
    path.write_text("grants: [oops")  # a broken policy: reload raises, the old one stays
    version = dp.version
    with pytest.raises(PolicyError):
        dp.reload(path)
    assert dp.version == version
    query = data.draw(queries(first[0]))
    assert dp.decide(**query).policy_version == version


def test_version_ignores_file_split_of_bundled_shape() -> None:
    texts = [
        ("a.yaml", "actions: [use]\nclasses: {c: {level: C1}}\n"),
        (
            "b.yaml",
            "purposes: {p: {}}\nroles: {r: {}}\ngrants: [{roles: [r], classes: [c], "
            "purposes: [p], actions: [use], id: g}]\n",
        ),
    ]
    one = check_texts(texts).policy
    merged = check_texts([("x.yaml", texts[0][1] + texts[1][1])]).policy
    assert one is not None and merged is not None
    assert DecisionPoint.from_policy(one).version == DecisionPoint.from_policy(merged).version
