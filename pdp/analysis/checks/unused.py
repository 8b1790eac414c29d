"""`unused_permission`: held permissions nobody exercised in the usage window.

Like AWS IAM Access Analyzer's unused-access findings, from the decision log.
A permission (class, purpose, action) counts as *exercised* by a subject when
an allowed decision for exactly that subject and permission falls in the
window (`since` <= time <= `now`; no `since`: every event). Denied decisions,
events for undeclared ids and events outside the window do not count.

- A user's unused permissions: what it holds and did not exercise itself.
- A role's unused permissions: what it holds and no subject reaching it (the
  role itself, a role inheriting it, a user holding it) exercised.

One finding per subject, listing the unused permissions. Role findings carry
evidence down to the grants; user findings carry the path to each of the
user's roles behind the unused permissions (a user's held permissions all come
through its assigned roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pdp.analysis.context import ReviewContext, level_severity
from pdp.analysis.finding import Finding, Path, Permissions, node
from pdp.analysis.usage import UsageEvent


def unused_permissions(
    ctx: ReviewContext,
    events: Iterable[UsageEvent],
    since: datetime | None,
    now: datetime,
) -> tuple[list[Finding], dict[str, Any]]:
    """One finding per role or user holding permissions not exercised in the window.

    With the counts of the usage events read, for the report's summary.
    """
    used, note = _exercised(ctx, events, since, now)
    return list(_findings(ctx, used, since)), note


def _findings(
    ctx: ReviewContext, used: dict[tuple[str, str], int], since: datetime | None
) -> Iterator[Finding]:
    role_used: dict[str, int] = {}
    for (kind, ident), mask in used.items():
        closure = ctx.compiled.closure_of(kind, ident)  # type: ignore[arg-type]
        for role in closure or ():
            role_used[role] = role_used.get(role, 0) | mask
    when = f"since {since.date().isoformat()}" if since else "in the usage log"
    for rid, held in ctx.role_held.items():
        unused = held & ~role_used.get(rid, 0)
        if unused:
            closure = ctx.compiled.role_closure[rid]
            evidence = ctx.explain("role", rid, closure, unused)
            yield _finding(ctx, "role", rid, held, unused, evidence, when)
    sets = ctx.role_sets
    for done, group in enumerate(range(len(sets.roles)), 1):
        held = ctx.full.held(sets.roles[group])
        if held:
            for uid in sets.members[group]:
                unused = held & ~used.get(("user", uid), 0)
                if unused:
                    evidence = _user_evidence(ctx, uid, unused)
                    yield _finding(ctx, "user", uid, held, unused, evidence, when)
        if done % 2000 == 0 or done == len(sets.roles):
            ctx.progress("usage", done, len(sets.roles))


def _exercised(
    ctx: ReviewContext, events: Iterable[UsageEvent], since: datetime | None, now: datetime
) -> tuple[dict[tuple[str, str], int], dict[str, Any]]:
    space = ctx.space
    policy = ctx.policy
    counts = {"events": 0, "counted": 0, "denied": 0, "outside_window": 0, "unknown": 0}
    used: dict[tuple[str, str], int] = {}
    for event in events:
        counts["events"] += 1
        if not event.allowed:
            counts["denied"] += 1
            continue
        if event.time > now or (since is not None and event.time < since):
            counts["outside_window"] += 1
            continue
        known = policy.roles if event.subject_kind == "role" else policy.users
        bit = space.encode([(event.info_class, event.purpose, event.action)])
        if event.subject not in known or not bit:
            counts["unknown"] += 1
            continue
        counts["counted"] += 1
        key = (event.subject_kind, event.subject)
        used[key] = used.get(key, 0) | bit
    note: dict[str, Any] = dict(counts)
    note["since"] = since.isoformat() if since else None
    note["until"] = now.isoformat()
    return used, note


def _user_evidence(ctx: ReviewContext, uid: str, unused: int) -> list[Path]:
    return [
        (node("user", uid), node("role", role))
        for role in ctx.policy.users[uid].roles
        if ctx.role_held[role] & unused
    ]


def _finding(
    ctx: ReviewContext,
    kind: str,
    ident: str,
    held: int,
    unused: int,
    evidence: list[Path],
    when: str,
) -> Finding:
    permissions = Permissions(ctx.space, unused)
    level = ctx.level_of(unused)
    entity = ctx.policy.roles[ident] if kind == "role" else ctx.policy.users[ident]
    return Finding(
        kind="unused_permission",
        rule_id=None,
        subject={kind: ident},
        severity=level_severity(ctx.policy, level, ("medium", "low", "low")),
        level=level,
        message=(
            f"{kind} `{ident}` did not exercise {len(permissions)} of its "
            f"{held.bit_count()} permissions {when}"
        ),
        evidence=evidence,
        permissions=permissions,
        location=entity.location,
    )
