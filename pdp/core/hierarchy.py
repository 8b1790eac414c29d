"""Closures over the role graph and the dotted class and purpose trees."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping

from pdp.core.model import Role, ancestors_of


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


def tree_ancestors(ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For every dotted id, itself and its ancestors, nearest first."""
    return {item: ancestors_of(item) for item in ids}


def inheritance_paths(roles: Mapping[str, Role], start: str) -> dict[str, tuple[str, ...]]:
    """For every role `start` reaches (itself included): a shortest chain of roles to it.

    Breadth-first through `inherits`, in the order each role lists its parents.
    """
    paths: dict[str, tuple[str, ...]] = {start: (start,)}
    queue = deque([start])
    while queue:
        path = paths[queue.popleft()]
        for parent in roles[path[-1]].inherits:
            if parent not in paths:
                paths[parent] = (*path, parent)
                queue.append(parent)
    return paths


def inheritance_path(
    roles: Mapping[str, Role],
    starts: Iterable[str],
    targets: Iterable[str],
    paths_from: Callable[[str], Mapping[str, tuple[str, ...]]] | None = None,
) -> tuple[str, ...]:
    """The shortest chain of roles from one of `starts` to one of `targets`, () when none.

    Of the shortest chains from each start (`inheritance_paths`), the one of
    least length, then the least in id order. `paths_from(start)` may serve
    `inheritance_paths(roles, start)` from a cache.
    """
    walk = paths_from or (lambda start: inheritance_paths(roles, start))
    wanted = list(targets)
    best: tuple[str, ...] | None = None
    for start in starts:
        reachable = walk(start)
        for target in wanted:
            path = reachable.get(target)
            if path is not None and (best is None or (len(path), path) < (len(best), best)):
                best = path
    return best or ()
