"""`outside_duties`: held permissions for purposes outside a role's effective duties.

Effective duties are the role's own and every inherited role's. A purpose is
inside them when it is a duty or a descendant of one. One finding per role,
listing every out-of-duty permission; a role with no effective duties is not
judged. Users have no duties of their own and are not judged either.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from pdp.analysis.context import ReviewContext, level_severity
from pdp.analysis.finding import Deferred, Finding, Pending, Permissions, mask_key
from pdp.core.model import Grant
from pdp.errors import Location


def outside_duties(ctx: ReviewContext) -> Iterator[Pending]:
    """One finding per role holding permissions for purposes outside its duties."""
    policy = ctx.policy
    inside: dict[frozenset[str], int] = {}
    total = len(policy.roles)
    for done, (rid, closure) in enumerate(ctx.compiled.role_closure.items(), 1):
        duties = frozenset(d for r in closure for d in policy.roles[r].duties)
        held = ctx.role_held[rid]
        if duties and held and ctx.in_focus("role", rid):
            mask = inside.get(duties)
            if mask is None:
                purposes = {p for d in duties for p in ctx.purpose_desc[d]}
                mask = inside[duties] = ctx.space.purpose_mask(purposes)
            outside = held & ~mask
            if outside:
                level = ctx.level_of(outside)
                severity = level_severity(policy, level, ("high", "medium", "low"))
                where = _grant(ctx, closure, outside).location
                make = partial(_finding, ctx, rid, closure, duties, outside, where)
                key = mask_key(ctx.space, outside)
                yield Deferred(
                    "outside_duties", severity, None, "role", rid, level, where, make, key
                )
        if done % 500 == 0 or done == total:
            ctx.progress("duties", done, total)


def _finding(
    ctx: ReviewContext,
    rid: str,
    closure: frozenset[str],
    duties: frozenset[str],
    outside: int,
    location: Location | None,
) -> Finding:
    permissions = Permissions(ctx.space, outside)
    level = ctx.level_of(outside)
    purposes = ctx.space.purposes_of(permissions.array())
    shown = ", ".join(f"`{p}`" for p in purposes[:3]) + (" …" if len(purposes) > 3 else "")
    evidence = ctx.explain("role", rid, closure, outside)
    return Finding(
        kind="outside_duties",
        rule_id=None,
        subject={"role": rid},
        severity=level_severity(ctx.policy, level, ("high", "medium", "low")),
        level=level,
        message=(
            f"role `{rid}` holds {len(permissions)} permissions for purposes outside its "
            f"duties ({shown}; duties: {', '.join(sorted(duties))})"
        ),
        evidence=evidence,
        permissions=permissions,
        location=location,
    )


def _grant(ctx: ReviewContext, closure: frozenset[str], outside: int) -> Grant:
    """The first allow grant behind the first out-of-duty permission (the finding's location)."""
    first = ctx.space.first(outside)
    assert first is not None
    return ctx.compiled.grants[ctx.held_grants(closure, first)[0]]
