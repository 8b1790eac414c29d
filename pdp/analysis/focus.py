"""Which findings a policy change can reach: the scope of an incremental review diff.

`pdp diff` and `pdp ci` report the findings a change introduces and resolves.
Reviewing both versions in full and comparing every finding is exact but
spends most of its time on findings the change cannot touch. A `Focus`,
computed from the change (`pdp.core.change.PolicyChange`) and the full
projections of both versions, names what can differ;
the subject-level checks then judge only that, in both versions, and the
comparison of what they find is the same as the full one.

The frame of the review must be the same in both versions — the permission
space (classes, purposes, actions, in order), the class levels and the
separation-of-duty rules (`PolicyChange.same_frame`) — or both versions are
reviewed in full (`pdp.analysis.changes.review_changes`). Within one frame, a
finding of each kind depends only on:

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

from pdp.analysis.held import Projected
from pdp.core.change import PolicyChange
from pdp.core.compile import CompiledPolicy
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


def focus_of(
    old: CompiledPolicy,
    new: CompiledPolicy,
    old_full: Projected,
    new_full: Projected,
    change: PolicyChange,
) -> Focus:
    """The focus of a change (of one frame) from `old` to `new`, given their full projections."""
    a, b = old, new
    roles = set(change.reclosed_roles)
    for rid in a.role_closure.keys() & b.role_closure.keys():
        if (
            old_full.allow.get(rid, 0) != new_full.allow.get(rid, 0)
            or old_full.deny.get(rid, 0) != new_full.deny.get(rid, 0)
            or _duties(a.policy, a.role_closure[rid]) != _duties(b.policy, b.role_closure[rid])
        ):
            roles.add(rid)
    users = set(change.reassigned_users)
    users.update(uid for uid, user in a.policy.users.items() if not roles.isdisjoint(user.roles))
    named = change.named_roles
    if WILDCARD in named:
        coverage = set(a.role_closure) | set(b.role_closure)
    else:
        coverage = set(roles)
        for side in (a, b):
            coverage.update(r for r, closure in side.role_closure.items() if named & closure)
    return Focus(frozenset(roles), frozenset(users), change.grant_ids, frozenset(coverage))


def _duties(policy: Policy, closure: frozenset[str]) -> frozenset[str]:
    return frozenset(d for r in closure for d in policy.roles[r].duties)
