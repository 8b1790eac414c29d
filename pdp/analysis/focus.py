"""Which findings a policy change can reach: the scope of an incremental review diff.

`pdp diff` and `pdp ci` report the findings a change introduces and resolves.
Reviewing both versions in full and comparing every finding is exact but
spends most of its time on findings the change cannot touch. A `Focus`,
computed from the review contexts of both versions, names what can differ;
the subject-level checks then judge only that, in both versions, and the
comparison of what they find is the same as the full one.

The frame of the review must be the same in both versions — the permission
space (classes, purposes, actions, in order), the class levels and the
separation-of-duty rules — or `focus_of` returns None and both versions are
reviewed in full. Within one frame, a finding of each kind depends only on:

- `sod_violation`, `toxic_combination`: the subject's role closure and what
  its roles' closures allow and deny (`ReviewContext.full`);
- `outside_duties`: the same, and the duties of the role's closure;
- `over_broad_grant` (G, r): grant G and role r's held set (for `*` roles:
  every role's);
- `redundant_grant` (G, r): grant G, r's closure and the grants that name a
  role of that closure (for `*` roles: every role's).

A role is in focus when any of its inputs differs, or it exists in one
version only; a user when it exists in one version only, its assigned roles
differ, or one of them is in focus; a grant (by id) when its meaning differs
or it exists in one version only. The other kinds (`equivalent_roles`,
`dormant_role`, `orphan_user`, `high_exposure`) compare subjects with each
other and are judged in full. `tests/analysis/test_focus.py` checks the
result against full reviews on generated pairs of policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pdp.analysis.context import ReviewContext
from pdp.analysis.space import tree_order
from pdp.core.compile import grant_signature
from pdp.core.model import WILDCARD, Grant, Policy


@dataclass(frozen=True)
class Focus:
    """What a change between two versions can reach (the same object for both reviews)."""

    roles: frozenset[str]
    users: frozenset[str]
    grants: frozenset[str]
    coverage: frozenset[str]  # roles whose redundant-grant findings may differ

    def subject(self, kind: str, ident: str) -> bool:
        """True when a role's or a user's own findings may differ."""
        return ident in (self.roles if kind == "role" else self.users)

    def grant(self, grant: Grant, redundant: bool = False) -> bool:
        """False when no finding of a grant's, over-broad (or redundant), may differ."""
        if grant.id in self.grants or WILDCARD in grant.roles:
            return True
        return not (self.coverage if redundant else self.roles).isdisjoint(grant.roles)

    def over_broad(self, grant: Grant, role: str) -> bool:
        """True when the over-broad finding of (grant, role) may differ (`*`: any role)."""
        if grant.id in self.grants:
            return True
        return bool(self.roles) if role == WILDCARD else role in self.roles

    def redundant(self, grant: Grant, role: str) -> bool:
        """True when the redundant-grant finding of (grant, role) may differ (`*`: any role)."""
        if grant.id in self.grants:
            return True
        return bool(self.coverage) if role == WILDCARD else role in self.coverage


@dataclass(frozen=True)
class Change:
    """The grants (by id) whose meaning differs between two versions of one frame."""

    grants: frozenset[str]
    named: frozenset[str]  # the roles those grants name, in either version
    new_roles: frozenset[str]  # the roles only the new version declares

    @property
    def regranted(self) -> frozenset[str] | None:
        """The roles whose own grants may differ (None: every role, a `*` grant changed).

        Every other role is named by the same grants in both versions.
        """
        return None if WILDCARD in self.named else self.named | self.new_roles


def change_of(old: Policy, new: Policy) -> Change | None:
    """The grant changes from `old` to `new`, None when their frames differ."""
    if frame(old) != frame(new):
        return None
    grants, named = _changed_grants(old, new)
    return Change(
        frozenset(grants), frozenset(named), frozenset(new.roles.keys() - old.roles.keys())
    )


def focus_of(old: ReviewContext, new: ReviewContext, change: Change | None = None) -> Focus | None:
    """The focus of a change from `old` to `new`, or None when their frames differ.

    `change` is `change_of` the two policies, when the caller has it already.
    """
    change = change or change_of(old.policy, new.policy)
    if change is None:
        return None
    a, b = old.compiled, new.compiled
    roles: set[str] = set()
    for rid in a.role_closure.keys() | b.role_closure.keys():
        closure_a, closure_b = a.role_closure.get(rid), b.role_closure.get(rid)
        if (
            closure_a is None
            or closure_b is None
            or closure_a != closure_b
            or old.full.allow.get(rid, 0) != new.full.allow.get(rid, 0)
            or old.full.deny.get(rid, 0) != new.full.deny.get(rid, 0)
            or _duties(a.policy, closure_a) != _duties(b.policy, closure_b)
        ):
            roles.add(rid)
    users = {
        uid
        for uid in a.policy.users.keys() | b.policy.users.keys()
        if uid not in a.policy.users
        or uid not in b.policy.users
        or (
            a.policy.users[uid].roles != b.policy.users[uid].roles
            and set(a.policy.users[uid].roles) != set(b.policy.users[uid].roles)
        )
        or not roles.isdisjoint(a.policy.users[uid].roles)
    }
    named = change.named
    if WILDCARD in named:
        coverage = set(a.role_closure) | set(b.role_closure)
    else:
        coverage = set(roles)
        for side in (a, b):
            coverage.update(r for r, closure in side.role_closure.items() if named & closure)
    return Focus(frozenset(roles), frozenset(users), change.grants, frozenset(coverage))


def frame(policy: Policy) -> tuple[Any, ...]:
    """What the review of every subject depends on: the numbered space, levels and rules."""
    return (
        tree_order(policy.classes),
        tree_order(policy.purposes),
        sorted(policy.actions),
        policy.levels,
        {c: k.level for c, k in policy.classes.items()},
        policy.rules,
    )


def regranted(old: Policy, new: Policy) -> frozenset[str] | None:
    """`change_of(old, new).regranted`, None as well when the frames differ."""
    change = change_of(old, new)
    return change.regranted if change is not None else None


def _duties(policy: Policy, closure: frozenset[str]) -> frozenset[str]:
    return frozenset(d for r in closure for d in policy.roles[r].duties)


def _changed_grants(old: Policy, new: Policy) -> tuple[set[str], set[str]]:
    """The ids of grants whose meaning differs, and the roles the differing grants name.

    Grant ids are unique within a policy (the loader rejects a repeated one).
    """
    before = {g.id: g for g in old.grants}
    after = {g.id: g for g in new.grants}
    changed = {
        gid
        for gid in before.keys() | after.keys()
        if gid not in before
        or gid not in after
        or (
            before[gid] != after[gid]  # equal grants (location aside) mean the same; fast
            and grant_signature(before[gid]) != grant_signature(after[gid])
        )
    }
    named = {
        r for grants in (before, after) for g in map(grants.get, changed) if g for r in g.roles
    }
    return changed, named
