"""`sod_violation` and `toxic_combination`: the policy's separation-of-duty rules, exactly.

Both are judged for every role (through what it inherits) and every user
(through all its roles), on groups of subjects with the same role closure.

A toxic rule is checked per pattern on a projection of the permission space
onto what the pattern matches (its classes and purposes with their
descendants, its actions). The groups that can hold a pattern are those
reaching a role with an allow grant touching it (an index lookup); only groups
that also reach a role with a deny touching it need the exact set algebra.
"""

from __future__ import annotations

from collections.abc import Iterator

from pdp.analysis.context import ReviewContext, permission_node
from pdp.analysis.finding import Finding, node
from pdp.analysis.space import PermissionSpace
from pdp.core.model import WILDCARD, Pattern, SodRule


def sod_violations(ctx: ReviewContext) -> Iterator[Finding]:
    """Subjects holding more than `max` of a static SoD rule's roles, inheritance included."""
    rules = [r for r in ctx.policy.rules if r.kind == "sod"]
    for done, rule in enumerate(rules, 1):
        wanted = frozenset(rule.roles)
        for group in sorted(ctx.subjects.reaching(wanted)):
            held = sorted(ctx.subjects.closures[group] & wanted)
            if len(held) <= rule.max:
                continue
            level = ctx.level_of(_union(ctx.role_held[r] for r in held))
            for kind, ident in ctx.subjects.members[group]:
                yield _sod_finding(ctx, rule, kind, ident, held, level)
        ctx.progress("separation of duties", done, len(rules))


def _sod_finding(
    ctx: ReviewContext, rule: SodRule, kind: str, ident: str, held: list[str], level: str | None
) -> Finding:
    names = ", ".join(f"`{r}`" for r in held)
    return Finding(
        kind="sod_violation",
        rule_id=rule.id,
        subject={kind: ident},
        severity=rule.severity,
        level=level,
        message=(
            f"{kind} `{ident}` holds {len(held)} of the roles of `{rule.id}` "
            f"(at most {rule.max} allowed): {names}"
        ),
        evidence=[(*ctx.subject_path(kind, ident, role), node("rule", rule.id)) for role in held],
        location=rule.location,
    )


def toxic_combinations(ctx: ReviewContext) -> Iterator[Finding]:
    """Subjects holding a permission matching every pattern of a toxic rule."""
    rules = [r for r in ctx.policy.rules if r.kind == "toxic"]
    for done, rule in enumerate(rules, 1):
        yield from _toxic_rule(ctx, rule)
        ctx.progress("toxic combinations", done, len(rules))


def _toxic_rule(ctx: ReviewContext, rule: SodRule) -> Iterator[Finding]:
    projected = [ctx.project(pattern_space(ctx, p)) for p in rule.patterns]
    candidates: set[int] | None = None
    for proj in projected:
        reach = ctx.subjects.reaching(proj.own_allow)
        candidates = reach if candidates is None else candidates & reach
        if not candidates:
            return
    assert candidates is not None
    for group in sorted(candidates):
        closure = ctx.subjects.closures[group]
        held = [proj.held(closure) for proj in projected]
        if not all(held):
            continue
        witnesses = sorted(
            {
                w
                for proj, mask in zip(projected, held, strict=True)
                if (w := proj.space.first(mask)) is not None
            }
        )
        grants = [ctx.held_grants(closure, w)[0] for w in witnesses]
        counts = " + ".join(str(mask.bit_count()) for mask in held)
        level = max(
            (ctx.level_in(proj.space, mask) for proj, mask in zip(projected, held, strict=True)),
            key=ctx.level_key,
        )
        for kind, ident in ctx.subjects.members[group]:
            evidence = [
                (*ctx.grant_path(kind, ident, closure, g), permission_node(w))
                for g, w in zip(grants, witnesses, strict=True)
            ]
            yield Finding(
                kind="toxic_combination",
                rule_id=rule.id,
                subject={kind: ident},
                severity=rule.severity,
                level=level,
                message=(
                    f"{kind} `{ident}` holds every permission pattern of `{rule.id}` "
                    f"({counts} matching permissions)"
                ),
                evidence=evidence,
                permissions=witnesses,
                location=rule.location,
            )


def pattern_space(ctx: ReviewContext, pattern: Pattern) -> PermissionSpace:
    """The projection of the permission space onto what a toxic pattern matches."""
    return PermissionSpace(
        ctx.policy,
        classes=_covered(pattern.classes, ctx.class_desc),
        purposes=_covered(pattern.purposes, ctx.purpose_desc),
        actions=None if WILDCARD in pattern.actions else set(pattern.actions),
    )


def _covered(ids: tuple[str, ...], desc: dict[str, tuple[str, ...]]) -> set[str] | None:
    if WILDCARD in ids:
        return None
    return {d for i in ids for d in desc[i]}


def _union(masks: Iterator[int] | list[int]) -> int:
    result = 0
    for mask in masks:
        result |= mask
    return result
