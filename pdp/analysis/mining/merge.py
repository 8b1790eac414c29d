"""Suggestions to merge roles whose permissions are nearly the same (Jaccard similarity)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pdp.analysis.mining.relation import natural_key, policy_permission
from pdp.core.compile import CompiledPolicy


@dataclass(frozen=True)
class MergeSuggestion:
    """Roles that could become one, how alike they are, and what each would gain."""

    roles: tuple[str, ...]
    similarity: float
    permissions: tuple[str, ...]
    added: Mapping[str, tuple[str, ...]]

    @property
    def saves(self) -> int:
        """How many roles the merge removes."""
        return len(self.roles) - 1

    def to_dict(self) -> dict[str, object]:
        """The suggestion as JSON-ready data."""
        return {
            "roles": list(self.roles),
            "similarity": round(self.similarity, 4),
            "saves": self.saves,
            "permissions": len(self.permissions),
            "added": {r: list(p) for r, p in self.added.items()},
        }


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets are identical (1.0)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def suggest_merges(
    roles: Mapping[str, frozenset[str]], threshold: float = 0.9
) -> list[MergeSuggestion]:
    """Groups of roles whose every pair has Jaccard similarity ≥ threshold, most alike first.

    Groups are built by complete linkage: the most similar pairs first, and a
    role joins a group only when it is alike enough to every member, so a chain
    of small differences never merges two very different roles.
    """
    names = sorted(roles, key=natural_key)
    pairs = sorted(
        (
            (jaccard(roles[a], roles[b]), a, b)
            for i, a in enumerate(names)
            for b in names[i + 1 :]
            if roles[a] & roles[b] or not (roles[a] or roles[b])
        ),
        key=lambda t: (-t[0], natural_key(t[1]), natural_key(t[2])),
    )
    group_of: dict[str, list[str]] = {}
    for score, a, b in pairs:
        if score < threshold:
            break
        ga, gb = group_of.get(a, [a]), group_of.get(b, [b])
        if ga is gb or not all(jaccard(roles[x], roles[y]) >= threshold for x in ga for y in gb):
            continue
        merged = ga + gb
        for role in merged:
            group_of[role] = merged
    groups = {id(g): g for g in group_of.values()}.values()
    suggestions = []
    for group in groups:
        members = tuple(sorted(group, key=natural_key))
        union = frozenset().union(*(roles[r] for r in members))
        suggestions.append(
            MergeSuggestion(
                roles=members,
                similarity=min(jaccard(roles[x], roles[y]) for x in members for y in members),
                permissions=tuple(sorted(union, key=natural_key)),
                added={
                    r: tuple(sorted(union - roles[r], key=natural_key))
                    for r in members
                    if union - roles[r]
                },
            )
        )
    suggestions.sort(key=lambda s: (-s.similarity, -s.saves, natural_key(s.roles[0])))
    return suggestions


def policy_role_permissions(compiled: CompiledPolicy) -> dict[str, frozenset[str]]:
    """Every declared role's held permissions (through inheritance), as `class:purpose:action`."""
    from pdp.core.queries import held_permissions

    return {
        role: frozenset(
            policy_permission(h.info_class, h.purpose, h.action)
            for h in held_permissions(compiled, closure)
        )
        for role, closure in compiled.role_closure.items()
    }
