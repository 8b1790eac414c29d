"""Hypothesis strategies: random valid pdp policies (as dict or YAML text) and random queries.

Policies have roles with random acyclic inheritance, class and purpose trees
1-4 deep, purposes needing consent, grants with `*` in any field, allow and
deny grants at every level of the trees and of inheritance, users with 0-3
roles, and obligations. Queries mix declared and unknown ids and consent
contexts.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

ACTIONS = ["read", "use", "disclose", "destroy"]
OBLIGATIONS = ["mask", "mfa", "dual_control", "log"]
WILDCARD = "*"


@st.composite
def dotted_tree(draw: st.DrawFn, prefix: str, max_size: int = 7) -> list[str]:
    """Dotted ids of a tree at most 4 deep: each new id is a root or a child of an earlier one."""
    size = draw(st.integers(1, max_size))
    ids: list[str] = []
    for n in range(size):
        parents = [i for i in ids if i.count(".") < 3]
        parent = draw(st.sampled_from([None, *parents])) if parents else None
        ids.append(f"{prefix}{n}" if parent is None else f"{parent}.{prefix}{n}")
    return ids


def _field(draw: st.DrawFn, ids: list[str], max_size: int = 2) -> list[str]:
    if draw(st.integers(0, 9)) == 0:
        return [WILDCARD]
    return draw(st.lists(st.sampled_from(ids), min_size=1, max_size=max_size, unique=True))


@st.composite
def policies(
    draw: st.DrawFn, max_roles: int = 6, max_grants: int = 10, deny_ratio: int = 4
) -> dict[str, Any]:
    """A valid policy as the plain data of the YAML format."""
    classes = draw(dotted_tree("c"))
    purposes = draw(dotted_tree("p"))
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4, unique=True))
    role_count = draw(st.integers(1, max_roles))
    roles = [f"r{i}" for i in range(role_count)]
    role_table: dict[str, Any] = {}
    for i, rid in enumerate(roles):
        inherits = draw(st.lists(st.sampled_from(roles[:i]), max_size=2, unique=True)) if i else []
        entry: dict[str, Any] = {}
        if inherits:
            entry["inherits"] = inherits
        if draw(st.booleans()):
            entry["duties"] = draw(st.lists(st.sampled_from(purposes), max_size=2, unique=True))
        role_table[rid] = entry
    purpose_table: dict[str, Any] = {}
    for pid in purposes:
        basis = draw(st.sampled_from([None, "consent", "contract", "legal_obligation", "other"]))
        purpose_table[pid] = {} if basis is None else {"legal_basis": basis}
    class_table: dict[str, Any] = {}
    for cid in classes:
        if "." not in cid or draw(st.booleans()):
            class_table[cid] = {"level": draw(st.sampled_from(["C1", "C2", "C3"]))}
        else:
            class_table[cid] = {}
    grants = []
    for n in range(draw(st.integers(0, max_grants))):
        grant: dict[str, Any] = {}
        if draw(st.booleans()):
            grant["id"] = f"g{n}"
        if draw(st.integers(0, deny_ratio)) == 0:
            grant["effect"] = "deny"
        grant["roles"] = _field(draw, roles)
        grant["classes"] = _field(draw, classes)
        grant["purposes"] = _field(draw, purposes)
        grant["actions"] = _field(draw, actions)
        if draw(st.booleans()):
            grant["obligations"] = draw(
                st.lists(st.sampled_from(OBLIGATIONS), min_size=1, max_size=2, unique=True)
            )
        grants.append(grant)
    users = {
        f"u{i}": {"roles": draw(st.lists(st.sampled_from(roles), max_size=3, unique=True))}
        for i in range(draw(st.integers(0, 3)))
    }
    policy: dict[str, Any] = {
        "version": 1,
        "actions": actions,
        "classes": class_table,
        "purposes": purpose_table,
        "roles": role_table,
        "grants": grants,
    }
    if users:
        policy["users"] = users
    return policy


def policy_texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """A valid policy as YAML text."""
    return policies(**kwargs).map(to_yaml)


def to_yaml(policy: dict[str, Any]) -> str:
    """The YAML text of a policy dict, keys in the order given."""
    return str(yaml.safe_dump(policy, sort_keys=False))


@st.composite
def queries(draw: st.DrawFn, policy: dict[str, Any]) -> dict[str, Any]:
    """A request for `policy`: mostly declared ids, sometimes unknown ones, random consent."""

    def pick(ids: list[str], unknown: str) -> str:
        if not ids or draw(st.integers(0, 9)) == 0:
            return unknown
        return draw(st.sampled_from(ids))

    users = list(policy.get("users", {}))
    kind = "user" if users and draw(st.booleans()) else "role"
    subject = pick(users if kind == "user" else list(policy["roles"]), f"no_{kind}")
    purposes = list(policy["purposes"])
    consent = draw(st.lists(st.sampled_from([*purposes, "nowhere"]), max_size=2))
    return {
        kind: subject,
        "info_class": pick(list(policy["classes"]), "no_class"),
        "purpose": pick(purposes, "no_purpose"),
        "action": pick(list(policy["actions"]), "no_action"),
        "context": {"consent": consent},
    }


@st.composite
def policy_and_queries(draw: st.DrawFn, count: int = 25) -> tuple[dict[str, Any], list[Any]]:
    """A policy and a list of requests for it."""
    policy = draw(policies())
    return policy, [draw(queries(policy)) for _ in range(count)]
