"""`equivalent_roles`, `dormant_role` and `orphan_user`: the shape of the role model.

equivalent_roles
    Two or more roles holding exactly the same, non-empty set of permissions
    (after inheritance and denies). One finding per group, about its first role
    (sorted by id); the evidence lists every role of the group.
dormant_role
    A role no user holds, directly or through a role inheriting it (it is in
    no user's role closure). Judged only when the policy declares users.
orphan_user
    A user with no roles: it holds nothing, and is usually a leftover account.
    A disabled user (a leaver, kept for the audit trail) is not one: it holds
    nothing by design, whatever roles it is still assigned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import Finding, node


def equivalent_roles(ctx: ReviewContext) -> Iterator[Finding]:
    """One finding per group of roles with identical, non-empty held permissions."""
    groups: dict[int, list[str]] = defaultdict(list)
    for rid, held in ctx.role_held.items():
        if held:
            groups[held].append(rid)
    for held, members in groups.items():
        if len(members) < 2:
            continue
        roles = sorted(members)
        first = roles[0]
        names = ", ".join(f"`{r}`" for r in roles)
        yield Finding(
            kind="equivalent_roles",
            rule_id=None,
            subject={"role": first},
            severity="low",
            level=ctx.level_of(held),
            message=f"roles {names} hold the same {held.bit_count()} permissions",
            evidence=[(node("role", r),) for r in roles],
            location=ctx.policy.roles[first].location,
        )


def dormant_roles(ctx: ReviewContext) -> Iterator[Finding]:
    """Roles that no user holds, directly or through inheritance."""
    if not ctx.policy.users:
        return
    used: set[str] = set()
    for user, group in ctx.subjects.user_group.items():
        if ctx.policy.users[user].roles:
            used |= ctx.subjects.closures[group]
    for rid, role in ctx.policy.roles.items():
        if rid in used:
            continue
        held = ctx.role_held[rid]
        yield Finding(
            kind="dormant_role",
            rule_id=None,
            subject={"role": rid},
            severity="low",
            level=ctx.level_of(held),
            message=(
                f"role `{rid}` has no users, directly or through a role inheriting it "
                f"({held.bit_count()} permissions)"
            ),
            evidence=[(node("role", rid),)],
            location=role.location,
        )


def orphan_users(ctx: ReviewContext) -> Iterator[Finding]:
    """Users without roles."""
    for uid, user in ctx.policy.users.items():
        if not user.roles and not user.disabled:
            yield Finding(
                kind="orphan_user",
                rule_id=None,
                subject={"user": uid},
                severity="low",
                level=None,
                message=f"user `{uid}` has no roles",
                evidence=[(node("user", uid),)],
                location=user.location,
            )
