"""The symbolic diff against brute force over every declared id, and its obligation changes."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings

from pdp.core.queries import held_permissions
from pdp.policyci.diff import diff_policies
from tests.policyci.policies import brute_force, compiled, policies, policy_pairs


def _tuples(accesses: Any) -> set[tuple[str, str, str, str]]:
    return {(a.subject, a.info_class, a.purpose, a.action) for a in accesses}


@settings(max_examples=250, deadline=None)
@given(policy_pairs())
def test_diff_equals_brute_force(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = compiled(pair[0], "old.yaml"), compiled(pair[1], "new.yaml")
    diff = diff_policies(old, new)
    added, removed = brute_force(old, new)
    assert _tuples(diff.added) == added
    assert _tuples(diff.removed) == removed
    users_added, users_removed = brute_force(old, new, "user")
    assert _tuples(diff.users_added) == users_added
    assert _tuples(diff.users_removed) == users_removed


def _expected_obligation_changes(old: Any, new: Any) -> set[tuple[Any, ...]]:
    """Brute force: the obligations of every permission a role holds in both versions."""
    expected = set()
    for role in old.role_closure.keys() & new.role_closure.keys():
        before = {
            (h.info_class, h.purpose, h.action): h.obligations
            for h in held_permissions(old, old.role_closure[role])
        }
        after = {
            (h.info_class, h.purpose, h.action): h.obligations
            for h in held_permissions(new, new.role_closure[role])
        }
        for key in before.keys() & after.keys():
            if before[key] != after[key]:
                expected.add((role, *key, before[key], after[key]))
    return expected


def _obligation_changes(old: Any, new: Any) -> set[tuple[Any, ...]]:
    return {
        (o.role, o.info_class, o.purpose, o.action, o.old, o.new)
        for o in diff_policies(old, new).obligations
    }


@settings(max_examples=150, deadline=None)
@given(policy_pairs())
def test_obligation_changes_equal_brute_force(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = compiled(pair[0]), compiled(pair[1])
    assert _obligation_changes(old, new) == _expected_obligation_changes(old, new)


def test_obligations_of_a_grant_to_every_role_change_for_every_role() -> None:
    old: dict[str, Any] = {
        "version": 1,
        "actions": ["use"],
        "classes": {"a": {"level": "C1"}, "a.x": {"level": "C2"}},
        "purposes": {"p": {}},
        "roles": {"r0": {}, "r1": {"inherits": ["r0"]}},
        "users": {"u0": {"roles": []}},
        "grants": [
            {"roles": ["*"], "classes": ["a"], "purposes": ["p"], "actions": ["use"]},
            {"roles": ["r1"], "classes": ["a.x"], "purposes": ["p"], "actions": ["use"]},
        ],
    }
    new = copy.deepcopy(old)
    new["grants"][0]["obligations"] = ["mask"]
    before, after = compiled(old), compiled(new)
    expected = _expected_obligation_changes(before, after)
    assert expected == {
        (role, cls, "p", "use", (), ("mask",)) for role in ("r0", "r1") for cls in ("a", "a.x")
    }
    assert _obligation_changes(before, after) == expected


@settings(max_examples=50, deadline=None)
@given(policies())
def test_identical_policies_have_an_empty_diff(data: dict[str, Any]) -> None:
    diff = diff_policies(compiled(data), compiled(data))
    assert not diff.added and not diff.removed and not diff.obligations
    assert diff.keys_evaluated == 0
