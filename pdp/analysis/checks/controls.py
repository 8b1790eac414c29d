"""The version-2 checks: break-glass grants, access expired or expiring, sensitive data without MFA.

They judge a version-2 policy at the review's time `at` (a version-1 policy
has no windows, no break-glass and cannot ask for MFA: they find nothing
there). Each names the grant (or, for an assignment, the role) as its rule.

break_glass_grant
    An allow grant with `break_glass: true` that exists at `at`, once per role
    it names (`*`: once, subject `{"role": "*"}`): who can use it are the users
    holding that role at `at`, listed in the details. Severity medium.
expired_access / expiring_access
    A grant or a user's role assignment whose `valid_until` is at or before
    `at` (expired: it grants nothing any more; remove it), or within
    `EXPIRY_DAYS` days after `at` (expiring: renew it or let it lapse). A
    grant gives one finding per role it names; an assignment one for its
    user, with the role as the rule. Severity low.
sensitive_without_mfa
    An allow grant existing at `at` that covers a class at the policy's top
    level (C3) or a sensitive class — the classes it names and their
    descendants — and whose `when` does not ask for `mfa`; once per role it
    names. Severity high for top-level data, medium for sensitive only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import Finding, node
from pdp.analysis.timing import Requirements
from pdp.core.compile import CompiledPolicy, expand
from pdp.core.model import WILDCARD, Grant, User, within

EXPIRY_DAYS = 30
SHOWN_USERS = 20


def _roles(grant: Grant) -> tuple[str, ...]:
    return (WILDCARD,) if WILDCARD in grant.roles else grant.roles


def break_glass_grants(ctx: ReviewContext, at: datetime) -> Iterator[Finding]:
    """Break-glass grants existing at `at`, per role they name, with the users who can use them."""
    compiled = ctx.compiled
    for grant in compiled.policy.grants:
        if not grant.break_glass or grant.effect != "allow":
            continue
        level = ctx.level_of_classes(_covered(ctx, grant))
        needs = ", ".join(Requirements.of(grant).words())
        for role in _roles(grant):
            reached = compiled.policy.roles if role == WILDCARD else (role,)
            users = sorted(
                uid
                for uid, closure in compiled.user_closure.items()
                if not closure.isdisjoint(reached)
            )
            whom = "every role" if role == WILDCARD else f"role `{role}`"
            shown = ", ".join(users[:SHOWN_USERS]) + (" …" if len(users) > SHOWN_USERS else "")
            yield Finding(
                kind="break_glass_grant",
                rule_id=grant.id,
                subject={"role": role},
                severity="medium",
                level=level,
                message=(
                    f"{whom} can use break-glass grant `{grant.id}`: {len(users)} users hold it now"
                ),
                evidence=[(node("role", role), node("grant", grant.id))],
                location=grant.location,
                statistics={"users": len(users)},
                details=(f"requires: {needs}", f"users: {shown or 'none'}"),
            )


def expiring_access(compiled: CompiledPolicy, at: datetime) -> Iterator[Finding]:
    """Grants and role assignments expired at `at`, or expiring within `EXPIRY_DAYS` days."""
    soon = at + timedelta(days=EXPIRY_DAYS)
    policy = compiled.policy
    for grant in policy.grants:
        until = grant.valid_until
        if until is None or until > soon:
            continue
        for role in _roles(grant):
            yield _expiry(grant.id, {"role": role}, until, at, f"grant `{grant.id}`", grant)
    for uid, user in policy.users.items():
        for a in user.assignments:
            if a.valid_until is not None and a.valid_until <= soon:
                what = f"the assignment of role `{a.role}` to user `{uid}`"
                yield _expiry(a.role, {"user": uid}, a.valid_until, at, what, user)


def _expiry(
    rule: str,
    subject: dict[str, str],
    until: datetime,
    at: datetime,
    what: str,
    item: Grant | User,
) -> Finding:
    expired = until <= at
    days = (until - at).days if not expired else (at - until).days
    when = f"expired {days} days ago" if expired else f"expires in {days} days"
    ((kind, ident),) = subject.items()
    path = (node(kind, ident), node("grant" if isinstance(item, Grant) else "role", rule))
    return Finding(
        kind="expired_access" if expired else "expiring_access",
        rule_id=rule,
        subject=subject,
        severity="low",
        level=None,
        message=f"{what} {when} (valid until {until.isoformat()})",
        evidence=[path],
        location=item.location,
        statistics={"valid_until": until.isoformat(), "days": days},
    )


def sensitive_without_mfa(ctx: ReviewContext, at: datetime) -> Iterator[Finding]:
    """Allow grants existing at `at` on top-level or sensitive classes that do not ask for MFA."""
    compiled = ctx.compiled
    top = ctx.top_level
    for grant in compiled.policy.grants:
        if grant.effect != "allow" or not within(grant.valid_from, grant.valid_until, at):
            continue
        if grant.when is not None and grant.when.mfa:
            continue
        covered = _covered(ctx, grant)
        classes = compiled.policy.classes
        high = sorted(c for c in covered if classes[c].level == top)
        sensitive = sorted(c for c in covered if c in compiled.sensitive)
        if not high and not sensitive:
            continue
        shown = high or sensitive
        what = f"{top} data" if high else "sensitive data"
        names = ", ".join(f"`{c}`" for c in shown[:3]) + (" …" if len(shown) > 3 else "")
        for role in _roles(grant):
            whom = "every role" if role == WILDCARD else f"role `{role}`"
            yield Finding(
                kind="sensitive_without_mfa",
                rule_id=grant.id,
                subject={"role": role},
                severity="high" if high else "medium",
                level=ctx.level_of_classes(covered),
                message=f"grant `{grant.id}` gives {whom} {what} ({names}) without asking for MFA",
                evidence=[
                    (node("role", role), node("grant", grant.id), node("class", c))
                    for c in shown[:8]
                ],
                location=grant.location,
                statistics={"top_level_classes": len(high), "sensitive_classes": len(sensitive)},
            )


def _covered(ctx: ReviewContext, grant: Grant) -> set[str]:
    """The classes a grant names, with their descendants."""
    return {d for c in expand(grant, ctx.policy, "classes") for d in ctx.class_desc[c]}
