"""`sod_violation` and `toxic_combination`: the policy's separation-of-duty rules, exactly.

Both are judged for every role (through what it inherits) and every user
(through all its roles), on groups of subjects with the same role closure.

A toxic rule is checked per pattern on a projection of the permission space
onto what the pattern matches (its classes and purposes with their
descendants, its actions). The groups that can hold a pattern are those
assigned a role whose closure allows something the pattern matches; only those
also assigned a role whose closure denies something it matches need the exact
set algebra. Findings are built when read (`ToxicHit`), once per role set.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import reduce
from itertools import repeat
from operator import or_
from typing import Any

from pdp.analysis.context import ReviewContext, permission_node
from pdp.analysis.finding import Finding, Path, Pending, head, node
from pdp.analysis.held import Projected
from pdp.analysis.space import PermissionSpace
from pdp.core.model import WILDCARD, Pattern, SodRule
from pdp.core.queries import Permission
from pdp.errors import Location


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
                if ctx.in_focus(kind, ident):
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
            f"{kind} `{ident}` holds {len(held)} roles that `{rule.id}` allows at most "
            f"{rule.max} of: {names}"
        ),
        statistics={"held": len(held), "max": rule.max},
        evidence=[(*ctx.subject_path(kind, ident, role), node("rule", rule.id)) for role in held],
        location=rule.location,
    )


def toxic_combinations(ctx: ReviewContext) -> Iterator[Pending]:
    """Subjects holding a permission matching every pattern of a toxic rule."""
    rules = [r for r in ctx.policy.rules if r.kind == "toxic"]
    spaces: dict[Pattern, Projected] = {}
    for done, rule in enumerate(rules, 1):
        projected = [spaces.get(p) or spaces.setdefault(p, _project(ctx, p)) for p in rule.patterns]
        yield from _toxic_rule(ctx, rule, projected)
        ctx.progress("toxic combinations", done, len(rules))


def _project(ctx: ReviewContext, pattern: Pattern) -> Projected:
    return ctx.project(pattern_space(ctx, pattern))


def _toxic_rule(ctx: ReviewContext, rule: SodRule, projected: list[Projected]) -> Iterator[Pending]:
    found = ToxicRule(ctx, rule, projected)
    # Roles: each role's closure sets are at hand.
    roles = {r for r in ctx.compiled.role_closure if ctx.in_focus("role", r)}
    for proj in projected:
        roles &= proj.allow.keys()
    for rid in sorted(roles):
        if all(proj.allow[rid] & ~proj.deny.get(rid, 0) for proj in projected):
            yield ToxicHit(found, "role", rid, (rid,))
    # Users, by role set: a set may hold pattern i only if one of its roles' closures allows
    # something matching it; it surely does when, besides, none of its roles' closures denies
    # anything matching it. Only the sets in between need the set algebra.
    sets = ctx.role_sets
    candidates: set[int] | None = None
    for proj in projected:
        reach = sets.assigning(proj.allow)
        candidates = reach if candidates is None else candidates & reach
        if not candidates:
            return
    assert candidates is not None
    focus = ctx.focus
    if focus is not None:
        candidates = {g for g in candidates if not focus.users.isdisjoint(sets.members[g])}
    unsure: set[int] = set()
    for proj in projected:
        unsure |= sets.assigning(proj.deny)
    unsure &= candidates
    failing = {g for g in unsure if not all(proj.held(sets.roles[g]) for proj in projected)}
    for group in sorted(candidates - failing):
        assigned, members = sets.roles[group], sets.members[group]
        for uid in members:
            if focus is None or uid in focus.users:
                yield ToxicHit(found, "user", uid, assigned)


Parts = tuple[list[Permission], tuple[int, ...], str | None, list[Path]]
Cell = tuple[int, int, Permission]  # a role's allowed set in a pattern, its lowest bit, witness


@dataclass(slots=True, eq=False)  # not frozen: a frozen one is slower to make, and many are
class PatternPart:
    """What a subject holds in one pattern of a toxic rule: how many permissions match it,
    the witness (the first), the path from the subject's roles to the grant behind it, and
    their highest level (an index of the rule's levels, highest first).

    Equal only to itself: a rule makes one per pattern and acting roles, shared by every
    subject with them, so a reader can remember what it derives from one by identity.
    """

    count: int
    witness: Permission
    tail: Path
    rank: int


class ToxicRule:
    """One toxic rule and its pattern projections: builds the findings of its `ToxicHit`s."""

    def __init__(self, ctx: ReviewContext, rule: SodRule, projected: list[Projected]) -> None:
        self.ctx = ctx
        self.rule = rule
        self.projected = projected
        self._witnesses: dict[tuple[str, ...], tuple[Permission, ...]] = {}
        self._best: dict[str, int] | None = None
        self._cells: dict[str, list[Cell | None]] | None = None
        # Per pattern: a test of the roles allowing or denying something there, and the parts
        # made of such roles (`_pattern_part`); the paths to witnesses, per roles behind them.
        self._made: list[tuple[Callable[[str], bool], dict[tuple[str, ...], PatternPart]]] = [
            (_acting(proj).__contains__, {}) for proj in projected
        ]
        self._tails: dict[tuple[tuple[str, ...], Permission], Path] = {}
        self._deny_roles = frozenset(r for proj in projected for r in proj.deny)
        self._relevant: set[str] | None = None  # roles allowing or denying something matched
        self._nodes: dict[Permission, str] = {}
        # Per level, highest first: the level's permissions in each pattern's space.
        by_space = [ctx.space_levels(proj.space) for proj in projected]
        self._levels = [
            (level, [masks[i][1] for masks in by_space])
            for i, (level, _) in enumerate(by_space[0] if by_space else ())
        ]

    def finding(self, kind: str, ident: str, assigned: tuple[str, ...]) -> Finding:
        """The finding of one subject (a role, or a user with these assigned roles)."""
        witnesses, counts, level, tails = self.parts(assigned)
        rule = self.rule
        evidence = tails if kind == "role" else [(node("user", ident), *t) for t in tails]
        return Finding(
            kind="toxic_combination",
            rule_id=rule.id,
            subject={kind: ident},
            severity=rule.severity,
            level=level,
            message=self.message(kind, ident),
            statistics=self.statistics(counts),
            evidence=evidence,
            permissions=witnesses,
            location=rule.location,
        )

    def message(self, kind: str, ident: str) -> str:
        """A finding's message: it names the subject, the rule and its number of patterns."""
        return (
            f"{kind} `{ident}` holds what `{self.rule.id}` keeps apart: a permission "
            f"matching each of its {len(self.projected)} patterns"
        )

    @staticmethod
    def statistics(counts: tuple[int, ...]) -> dict[str, Any]:
        """A finding's statistics: the matches of each pattern among what the subject holds."""
        return {"matches_per_pattern": list(counts)}

    def witnesses(self, assigned: tuple[str, ...]) -> tuple[Permission, ...]:
        """The finding's permissions, sorted, without its paths (for `ToxicHit.identity`).

        A pattern's witness is the lowest bit held in its projection. Where no
        assigned role's closure denies anything there, that is the lowest of
        the roles' lowest allowed bits; elsewhere the held set is computed.
        """
        found = self._witnesses.get(assigned)
        if found is None:
            witnesses = set()
            rows = self._rows(assigned)
            for p, proj in enumerate(self.projected):
                deny = proj.deny
                if deny and any(r in deny for r in assigned):
                    mask = proj.held(assigned)
                    low = mask & -mask
                else:
                    low = min([c[1] for row in rows if (c := row[p])], default=0)
                witnesses.add(proj.space.permission(low.bit_length() - 1))
            found = self._witnesses[assigned] = tuple(sorted(witnesses))
        return found

    def level(self, assigned: tuple[str, ...]) -> str | None:
        """The finding's level without building it: the highest level of what it holds.

        Where no assigned role's closure denies anything in a pattern's
        projection, what the roles hold there is the union of what they allow,
        whose highest level is the highest of each role's own (computed once
        per role); elsewhere the held sets are computed.
        """
        if not self._deny_roles.isdisjoint(assigned):
            return self._level_of([proj.held(assigned) for proj in self.projected])
        best, none = self._best or self._best_ranks(), len(self._levels)
        rank = min(map(best.get, assigned, repeat(none)))
        return self._levels[rank][0] if rank < none else None

    def _best_ranks(self) -> dict[str, int]:
        """Each role's highest level in what it allows in any pattern (an index of `_levels`)."""
        if self._best is None:
            self._best = {
                r: next(
                    i
                    for i, (_, masks) in enumerate(self._levels)
                    if any(c and masks[p] & c[0] for p, c in enumerate(row))
                )
                for r, row in self._role_cells().items()
            }
        return self._best

    def _level_of(self, held: list[int]) -> str | None:
        """The highest level of some held sets, one per pattern."""
        return next(
            (
                name
                for name, masks in self._levels
                if any(m & h for m, h in zip(masks, held, strict=True))
            ),
            None,
        )

    def parts(self, assigned: tuple[str, ...]) -> Parts:
        """Witnesses (first match per pattern), counts, level and paths to the witnesses."""
        held = self.pattern_parts(assigned)
        tails: dict[Permission, Path] = {}
        for part in held:
            tails.setdefault(part.witness, part.tail)
        witnesses = sorted(tails)
        level = self.level_at(min(part.rank for part in held))
        return (witnesses, tuple(part.count for part in held), level, [tails[w] for w in witnesses])

    def level_at(self, rank: int) -> str | None:
        """The level of a rank (`PatternPart.rank`): None past the lowest."""
        return self._levels[rank][0] if rank < len(self._levels) else None

    def pattern_parts(self, assigned: tuple[str, ...]) -> list[PatternPart]:
        """What a subject with these assigned roles holds in each pattern (it holds each).

        What a subject holds in a pattern's projection depends only on its
        roles that allow or deny something there: each pattern's part is made
        once per such roles (`_pattern_part`), and is the same object for
        every subject with them.
        """
        held = []
        for p, (acting, made) in enumerate(self._made):
            key = tuple(filter(acting, assigned))
            found = made.get(key)
            if found is None:
                found = made[key] = self._pattern_part(p, key)
            held.append(found)
        return held

    def deciding(self, assigned: tuple[str, ...]) -> tuple[str, ...]:
        """The assigned roles a finding's parts depend on: two role sets with the same
        deciding roles have the same parts.

        They are the roles whose closures allow or deny something the patterns
        match: another role holds nothing there, and reaches no grant behind a
        witness (it would then allow the witness).
        """
        relevant = self._relevant
        if relevant is None:
            relevant = self._relevant = self._role_cells().keys() | self._deny_roles
        return tuple(filter(relevant.__contains__, assigned))

    def _denied(self, assigned: tuple[str, ...]) -> bool:
        """True when a deny of some assigned role's closure falls in a pattern's projection."""
        return not self._deny_roles.isdisjoint(assigned)

    def _pattern_part(self, p: int, roles: tuple[str, ...]) -> PatternPart:
        """What some roles hold in pattern `p`: how many permissions, the witness, the path
        to its grant and their highest level (an index of `_levels`).

        Without a deny among the roles, they hold the union of what they
        allow. The witness is the lowest bit held. Only the roles allowing it
        reach the grant behind it (another would allow it through that
        grant): the path is the shortest from one of them, made once per such
        roles and witness.
        """
        proj = self.projected[p]
        allow = proj.allow
        masks = [allow.get(r, 0) for r in roles]
        mask = reduce(or_, masks)
        if not proj.deny.keys().isdisjoint(roles):
            mask = proj.held(roles)
        low = mask & -mask
        witness = proj.space.permission(low.bit_length() - 1)
        behind = tuple([r for r, one in zip(roles, masks, strict=True) if one & low])
        tail = self._tails.get((behind, witness))
        if tail is None:
            ctx = self.ctx
            index = ctx.first_allow(behind, witness)
            tail = (*ctx.roles_path(behind, index), self._node(witness))
            self._tails[(behind, witness)] = tail
        rank = len(self._levels)
        for i, (_, levels) in enumerate(self._levels):
            if levels[p] & mask:
                rank = i
                break
        return PatternPart(mask.bit_count(), witness, tail, rank)

    def _rows(self, assigned: tuple[str, ...]) -> list[list[Cell | None]]:
        """The cells of the assigned roles that allow something in some pattern."""
        cells = self._role_cells()
        return [cells[r] for r in assigned if r in cells]

    def _role_cells(self) -> dict[str, list[Cell | None]]:
        """Per role allowing something in a pattern: per pattern, its mask, lowest bit, witness."""
        if self._cells is None:
            cells: dict[str, list[Cell | None]] = {}
            for p, proj in enumerate(self.projected):
                for r, mask in proj.allow.items():
                    if mask:
                        row = cells.get(r) or cells.setdefault(r, [None] * len(self.projected))
                        low = mask & -mask
                        row[p] = (mask, low, proj.space.permission(low.bit_length() - 1))
            self._cells = cells
        return self._cells

    def _node(self, witness: Permission) -> str:
        nodes = self._nodes
        return nodes.get(witness) or nodes.setdefault(witness, permission_node(witness))


class ToxicHit:
    """A pending toxic-combination finding: one subject meeting one toxic rule."""

    __slots__ = ("assigned", "rule_id", "severity", "source", "subject_id", "subject_kind")

    kind = "toxic_combination"

    def __init__(
        self, source: ToxicRule, subject_kind: str, subject_id: str, assigned: tuple[str, ...]
    ) -> None:
        self.source = source
        self.rule_id = source.rule.id
        self.severity = source.rule.severity
        self.subject_kind = subject_kind
        self.subject_id = subject_id
        self.assigned = assigned

    @property
    def level(self) -> str | None:
        """See `pdp.analysis.finding.Pending.level`."""
        return self.source.level(self.assigned)

    @property
    def location(self) -> Location | None:
        """The toxic rule's location."""
        return self.source.rule.location

    @property
    def identity(self) -> Hashable:
        """See `pdp.analysis.finding.Pending.identity`: the head and the witnesses."""
        return (*head(self), self.source.witnesses(self.assigned))

    def build(self) -> Finding:
        """Build the finding."""
        return self.source.finding(self.subject_kind, self.subject_id, self.assigned)


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


def _acting(projected: Projected) -> frozenset[str]:
    """The roles whose closures allow or deny something in a projection."""
    return frozenset(r for side in (projected.allow, projected.deny) for r, m in side.items() if m)


def _union(masks: Iterator[int] | list[int]) -> int:
    result = 0
    for mask in masks:
        result |= mask
    return result
