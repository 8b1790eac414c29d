"""Closures over the role graph and the dotted class and purpose trees."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from pdp.core.model import Policy, Role, ancestors_of


def role_closures(roles: Mapping[str, Role]) -> dict[str, frozenset[str]]:
    """For every role, the role itself and every role it inherits, transitively."""
    closures: dict[str, frozenset[str]] = {}

    def closure(start: str) -> frozenset[str]:
        # Iterative post-order, so deep inheritance chains never hit the recursion limit.
        stack = [start]
        while stack:
            rid = stack[-1]
            pending = [p for p in roles[rid].inherits if p not in closures]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if rid not in closures:
                members = {rid}
                for parent in roles[rid].inherits:
                    members |= closures[parent]
                closures[rid] = frozenset(members)
        return closures[start]

    for rid in roles:
        closure(rid)
    return closures


def pooled_closure(
    role_ids: Iterable[str], closures: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The union of the closures of several roles: what a user with these roles reaches."""
    members: set[str] = set()
    for rid in role_ids:
        members |= closures[rid]
    return frozenset(members)


def subject_closures(policy: Policy) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """The role closure of every role and every user of a policy."""
    roles = role_closures(policy.roles)
    users = {uid: pooled_closure(u.roles, roles) for uid, u in policy.users.items()}
    return roles, users


def tree_ancestors(ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For every dotted id, itself and its ancestors, nearest first."""
    return {item: ancestors_of(item) for item in ids}


def inheritance_path(
    roles: Mapping[str, Role], start_roles: Iterable[str], target: str
) -> list[str]:
    """A shortest chain of roles from one of `start_roles` to `target` through `inherits`."""
    queue = deque([[r] for r in start_roles])
    seen = {path[0] for path in queue}
    while queue:
        path = queue.popleft()
        if path[-1] == target:
            return path
        for parent in roles[path[-1]].inherits:
            if parent not in seen:
                seen.add(parent)
                queue.append([*path, parent])
    return []
