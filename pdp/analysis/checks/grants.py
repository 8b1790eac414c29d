"""`over_broad_grant` and `redundant_grant`: allow grants wider than needed, or not needed.

over_broad_grant
    An allow grant G and a role r it names, where r holds — through G — a
    permission on a class whose level is higher than the level of the class G
    names above it (the highest-level named ancestor-or-self), or where G has
    `*` in roles, classes or purposes and r holds through G a permission on a
    class at the policy's top level. "Holds" is after denies: breadth that a
    deny cuts off is not reported. A grant naming `*` roles is one finding with
    subject `{"role": "*"}`.

redundant_grant
    An allow grant G and a role r it names, where every permission G covers is
    also covered by other allow grants reaching r (on r itself or a role r
    inherits). Removing r from G (or G) then changes nothing for r, nor for any
    role or user reaching r. Checked exactly on G's named keys: a grant that
    covers (c, p, a) covers every descendant of c and p, so G is covered as soon
    as each of its keys is — the core's `held` lists the grants covering a key.
"""

from __future__ import annotations

from collections.abc import Iterator

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import Finding, Path, node
from pdp.core.compile import expand
from pdp.core.model import WILDCARD, Grant, ancestors_of

STAR = WILDCARD


def over_broad_grants(ctx: ReviewContext) -> Iterator[Finding]:
    """Allow grants whose reach goes above the level of the classes they name."""
    grants = ctx.compiled.grants
    total = len(grants)
    focus = ctx.focus
    for index, grant in enumerate(grants):
        if grant.effect == "allow" and (focus is None or focus.grant(grant)):
            yield from _over_broad(ctx, grant)
        if (index + 1) % 2000 == 0 or index + 1 == total:
            ctx.progress("over-broad grants", index + 1, total)


def _over_broad(ctx: ReviewContext, grant: Grant) -> Iterator[Finding]:
    focus = ctx.focus
    roles = [STAR] if STAR in grant.roles else list(grant.roles)
    if focus is not None:
        roles = [r for r in roles if focus.over_broad(grant, r)]
        if not roles:
            return
    policy = ctx.policy
    rank = ctx.class_rank
    named = set(expand(grant, policy, "classes"))
    wild = any(STAR in values for values in (grant.roles, grant.classes, grant.purposes))
    # `*` in classes names every class: nothing lies above what it names, only the top rule applies.
    star_classes = STAR in grant.classes
    anchor: dict[str, str] = {}  # reached class -> the named class it is reached through
    for cls in named:
        for sub in ctx.class_desc[cls]:
            via = [a for a in ancestors_of(sub) if a in named]
            top_named = max(via, key=lambda a: rank[a])
            above = rank[sub] > rank[top_named] and not star_classes
            if above or (wild and rank[sub] == len(policy.levels) - 1):
                anchor[sub] = STAR if star_classes else top_named
    if not anchor:
        return
    purposes = {p for purp in expand(grant, policy, "purposes") for p in ctx.purpose_desc[purp]}
    region = ctx.space.cells(anchor, purposes, expand(grant, policy, "actions"))
    if STAR in grant.roles:
        reached = 0
        for held in ctx.role_held.values():
            reached |= region & held
        if reached:
            yield _broad_finding(ctx, grant, STAR, reached, anchor, wild)
        return
    for role in roles:
        reached = region & ctx.role_held[role]
        if reached:
            yield _broad_finding(ctx, grant, role, reached, anchor, wild)


def _broad_finding(
    ctx: ReviewContext, grant: Grant, role: str, reached: int, anchor: dict[str, str], wild: bool
) -> Finding:
    permissions = ctx.space.decode(reached)
    level = ctx.level_of(reached)
    classes = sorted({c for c, _, _ in permissions}, key=lambda c: c.split("."))
    evidence: list[Path] = []
    seen: set[str] = set()
    for cls in classes:
        if anchor[cls] not in seen:
            seen.add(anchor[cls])
            evidence.append(
                (
                    node("role", role),
                    node("grant", grant.id),
                    node("class", anchor[cls]),
                    node("class", cls),
                )
            )
    shown = ", ".join(f"`{c}`" for c in classes[:3]) + (" …" if len(classes) > 3 else "")
    if wild:
        fields = [f for f in ("roles", "classes", "purposes") if STAR in getattr(grant, f)]
        why = f"with `*` in {' and '.join(fields)}"
    else:
        names = sorted({anchor[c] for c in classes})
        why = (
            "on "
            + ", ".join(f"`{c}` ({ctx.policy.classes[c].level})" for c in names[:3])
            + (" …" if len(names) > 3 else "")
        )
    whom = "every role" if role == STAR else f"role `{role}`"
    return Finding(
        kind="over_broad_grant",
        rule_id=grant.id,
        subject={"role": role},
        severity="high" if level == ctx.top_level else "medium",
        level=level,
        message=(
            f"grant `{grant.id}` {why} reaches {level} data for {whom}: "
            f"{len(permissions)} permissions on {shown}"
        ),
        evidence=evidence,
        permissions=permissions,
        location=grant.location,
    )


def redundant_grants(ctx: ReviewContext) -> Iterator[Finding]:
    """Allow grants that give a role nothing other grants reaching it do not already give."""
    grants = ctx.compiled.grants
    total = len(grants)
    focus = ctx.focus
    for index, grant in enumerate(grants):
        if grant.effect == "allow" and (focus is None or focus.grant(grant, redundant=True)):
            yield from _redundant(ctx, index, grant)
        if (index + 1) % 2000 == 0 or index + 1 == total:
            ctx.progress("redundant grants", index + 1, total)


def _redundant(ctx: ReviewContext, index: int, grant: Grant) -> Iterator[Finding]:
    focus = ctx.focus
    roles = list(expand(grant, ctx.policy, "roles"))
    if focus is not None:
        if STAR in grant.roles:
            if not focus.redundant(grant, STAR):
                return
        else:
            roles = [r for r in roles if focus.redundant(grant, r)]
    keys = list(ctx.grant_keys(grant))
    found: dict[str, set[int]] = {}
    for role in roles:
        covering = _covering(ctx, index, ctx.compiled.role_closure[role], keys)
        if covering is None:
            if STAR in grant.roles:
                return
            continue
        found[role] = covering
    if STAR in grant.roles:
        if found:
            union = set().union(*found.values())
            evidence: list[Path] = [
                (node("role", STAR), node("grant", ctx.compiled.grants[i].id))
                for i in sorted(union)
            ]
            yield _redundant_finding(ctx, grant, STAR, union, evidence)
        return
    for role, covering in found.items():
        closure = ctx.compiled.role_closure[role]
        paths = [ctx.grant_path("role", role, closure, i) for i in sorted(covering)]
        yield _redundant_finding(ctx, grant, role, covering, paths)


def _covering(
    ctx: ReviewContext, index: int, closure: frozenset[str], keys: list[tuple[str, str, str]]
) -> set[int] | None:
    """The other allow grants covering every key of a grant for a closure, or None."""
    covering: set[int] = set()
    for key in keys:
        others = [i for i in ctx.compiled.held(closure, *key).allows if i != index]
        if not others:
            return None
        covering.add(others[0])
    return covering


def _redundant_finding(
    ctx: ReviewContext, grant: Grant, role: str, covering: set[int], evidence: list[Path]
) -> Finding:
    policy = ctx.policy
    ids = sorted(ctx.compiled.grants[i].id for i in covering)
    shown = ", ".join(f"`{g}`" for g in ids[:3]) + (" …" if len(ids) > 3 else "")
    classes = {c for cls in expand(grant, policy, "classes") for c in ctx.class_desc[cls]}
    whom = "any role" if role == STAR else f"role `{role}`"
    return Finding(
        kind="redundant_grant",
        rule_id=grant.id,
        subject={"role": role},
        severity="low",
        level=ctx.level_of_classes(classes),
        message=f"grant `{grant.id}` gives {whom} nothing that {shown} do not already give",
        evidence=evidence,
        location=grant.location,
    )
