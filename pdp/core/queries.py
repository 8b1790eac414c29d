"""Reviewer queries on a compiled policy: everything a subject holds, and who holds a permission."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from pdp.core.compile import CompiledPolicy, expand
from pdp.core.model import Policy

Permission = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class HeldPermission:
    """A permission (class, purpose, action) a subject holds, and the allow grants behind it."""

    info_class: str
    purpose: str
    action: str
    grants: tuple[str, ...]
    obligations: tuple[str, ...]


def descendants(ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For every dotted id, itself and all its descendants."""
    result: dict[str, list[str]] = defaultdict(list)
    for item in ids:
        parts = item.split(".")
        for n in range(1, len(parts) + 1):
            result[".".join(parts[:n])].append(item)
    return {k: tuple(v) for k, v in result.items()}


def candidate_permissions(compiled: CompiledPolicy, closure: frozenset[str]) -> set[Permission]:
    """Every concrete permission an allow grant reaching the closure covers (denies ignored)."""
    policy: Policy = compiled.policy
    class_desc = descendants(policy.classes)
    purpose_desc = descendants(policy.purposes)
    found: set[Permission] = set()
    for grant in compiled.grants:
        if grant.effect != "allow" or not closure.intersection(expand(grant, policy, "roles")):
            continue
        actions = expand(grant, policy, "actions")
        for cls in expand(grant, policy, "classes"):
            for sub_cls in class_desc[cls]:
                for purp in expand(grant, policy, "purposes"):
                    for sub_purp in purpose_desc[purp]:
                        found.update((sub_cls, sub_purp, a) for a in actions)
    return found


def held_permissions(compiled: CompiledPolicy, closure: frozenset[str]) -> list[HeldPermission]:
    """Every permission held (rules 1-4) by a subject with this role closure, sorted."""
    result = []
    for cls, purp, act in sorted(candidate_permissions(compiled, closure)):
        held = compiled.held(closure, cls, purp, act)
        if held.held:
            grants = [compiled.grants[i] for i in held.allows]
            result.append(
                HeldPermission(
                    cls,
                    purp,
                    act,
                    tuple(sorted({g.id for g in grants})),
                    tuple(sorted({o for g in grants for o in g.obligations})),
                )
            )
    return result


def subjects_holding(
    compiled: CompiledPolicy, info_class: str, purpose: str, action: str
) -> tuple[list[str], list[str]]:
    """The roles and the users that hold a permission (ids must be declared)."""
    roles = [
        r
        for r, c in compiled.role_closure.items()
        if compiled.held(c, info_class, purpose, action).held
    ]
    users = [
        u
        for u, c in compiled.user_closure.items()
        if compiled.held(c, info_class, purpose, action).held
    ]
    return sorted(roles), sorted(users)
