"""What every check of the review shares: the policy, its permission space, held sets, paths.

Built once per review. Role-level sets live in the full permission space (one
bitset per role); user-level checks work on groups of users with the same
assigned roles (`held.RoleSets`) and on small projections of the space
(`held.Projected`), where a user's set is the union of its few roles' sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pdp.analysis.finding import Layout, Path, node
from pdp.analysis.focus import Focus
from pdp.analysis.graph import RolePaths
from pdp.analysis.held import (
    FiledKeys,
    Order,
    Projected,
    RoleSets,
    Subjects,
    inheritance_order,
    projections,
)
from pdp.analysis.space import PermissionSpace
from pdp.core.compile import CompiledPolicy, expand
from pdp.core.model import Grant, Policy
from pdp.core.queries import Permission, descendants
from pdp.errors import ReviewInconsistencyError

Progress = Callable[[str, int, int], None]
EVIDENCE_LIMIT = 8


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class ReviewContext:
    """What the checks of one review of one compiled policy share (immutable).

    The private tables are memos of pure functions of the context, filled as
    the checks ask; nothing else changes after `build`.
    """

    compiled: CompiledPolicy
    space: PermissionSpace
    allow_keys: FiledKeys
    deny_keys: FiledKeys
    order: Order
    full: Projected
    subjects: Subjects
    role_sets: RoleSets
    role_held: dict[str, int]
    paths: RolePaths
    progress: Progress = _no_progress
    class_desc: dict[str, tuple[str, ...]] = field(default_factory=dict)
    purpose_desc: dict[str, tuple[str, ...]] = field(default_factory=dict)
    level_masks: dict[str, int] = field(default_factory=dict)
    class_rank: dict[str, int] = field(default_factory=dict)
    # When set, the subject-level checks judge only what a change can reach (`pdp.analysis.focus`).
    focus: Focus | None = None
    reuse: tuple[ReviewContext, frozenset[str]] | None = None
    shared: bool = False
    _projections: dict[Layout, Projected] = field(default_factory=dict)
    _space_levels: dict[PermissionSpace, list[tuple[str, int]]] = field(default_factory=dict)
    _grant_roles: dict[int, frozenset[str]] = field(default_factory=dict)
    _start_paths: dict[tuple[str, int], Path | None] = field(default_factory=dict)
    _first_allow: dict[tuple[str, Permission], tuple[int, bool]] = field(default_factory=dict)
    _grant_boxes: dict[tuple[PermissionSpace, int], int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        compiled: CompiledPolicy,
        progress: Progress | None = None,
        reuse: tuple[ReviewContext, frozenset[str]] | None = None,
        *,
        shared: bool = False,
    ) -> ReviewContext:
        """Group subjects, project the index on the full space and compute every role's set.

        `reuse` is the context of another version of the policy (same frame)
        and the roles whose own grants differ (`pdp.core.change.PolicyChange.regranted`):
        the projections of every other role are taken from that context.
        `shared` keeps this context's projections for such a use. A context
        with a focus is `dataclasses.replace(context, focus=...)`.
        """
        report = progress or _no_progress
        policy = compiled.policy
        space = PermissionSpace(policy, cache=False)
        allow_keys, deny_keys = projections(compiled)
        order = inheritance_order(compiled)
        report("index", 0, 1)
        base = (reuse[0].full, reuse[1]) if reuse is not None else None
        full = Projected.of(space, allow_keys, deny_keys, order, base, keep=shared)
        report("index", 1, 1)
        subjects = Subjects.of(compiled)
        role_held = {rid: full.held((rid,)) for rid in compiled.role_closure}
        report("roles", len(role_held), len(role_held))
        levels = {
            level: space.class_mask([c for c, k in policy.classes.items() if k.level == level])
            for level in policy.levels
        }
        ctx = cls(
            compiled=compiled,
            space=space,
            allow_keys=allow_keys,
            deny_keys=deny_keys,
            order=order,
            full=full,
            subjects=subjects,
            role_sets=RoleSets.of(compiled),
            role_held=role_held,
            paths=RolePaths(policy.roles),
            progress=report,
            class_desc=descendants(policy.classes),
            purpose_desc=descendants(policy.purposes),
            level_masks=levels,
            class_rank={c: policy.level_rank(k.level) for c, k in policy.classes.items()},
            reuse=reuse,
            shared=shared,
        )
        report("context", 1, 1)
        return ctx

    @property
    def policy(self) -> Policy:
        """The policy under review."""
        return self.compiled.policy

    @property
    def top_level(self) -> str:
        """The highest sensitivity level of the policy (C3 by default)."""
        return self.policy.levels[-1]

    def in_focus(self, kind: str, ident: str) -> bool:
        """True unless a focus leaves this role's or user's own findings out."""
        return self.focus is None or self.focus.subject(kind, ident)

    def project(self, space: PermissionSpace) -> Projected:
        """The compiled index projected on a smaller space.

        Kept by the space's layout when `shared`; with `reuse`, the other version's
        projection onto an equal layout provides the unchanged roles' sets.
        """
        layout = Layout(space)
        base = None
        if self.reuse is not None:
            other = self.reuse[0]._projections.get(layout)
            base = (other, self.reuse[1]) if other is not None else None
        projected = Projected.of(
            space, self.allow_keys, self.deny_keys, self.order, base, keep=self.shared
        )
        if self.shared:
            self._projections[layout] = projected
        return projected

    def level_of(self, mask: int) -> str | None:
        """The highest level of a full-space set, None when it is empty."""
        for level in reversed(self.policy.levels):
            if mask & self.level_masks[level]:
                return level
        return None

    def level_of_classes(self, classes: Iterable[str]) -> str | None:
        """The highest level of some classes, None when there are none."""
        policy = self.policy
        ranks = [policy.level_rank(policy.classes[c].level) for c in classes]
        return policy.levels[max(ranks)] if ranks else None

    def subject_path(self, kind: str, subject: str, role: str) -> Path:
        """The path from a subject to a role it reaches: `user:u`, `role:a`, `role:b`…"""
        if kind == "role":
            return self.paths.path([subject], [role])
        return (node("user", subject), *self.paths.path(self.policy.users[subject].roles, [role]))

    def grant_path(self, kind: str, subject: str, closure: frozenset[str], index: int) -> Path:
        """The path from a subject to a grant reaching it: … `role:r`, `grant:G`."""
        starts = (subject,) if kind == "role" else self.policy.users[subject].roles
        tail = self.roles_path(starts, index)
        return tail if kind == "role" else (node("user", subject), *tail)

    def roles_path(self, starts: Iterable[str], index: int) -> Path:
        """The shortest path from one of some roles to a grant reaching them, grant included.

        The shortest (then first) of the shortest paths from each start: the
        roles a start reaches are its closure, so each start's path is cached.
        """
        best: Path | None = None
        cache = self._start_paths
        for start in starts:
            key = (start, index)
            found = cache.get(key, ())
            if found == ():
                targets = self.compiled.role_closure[start] & self.grant_roles(index)
                path = self.paths.path((start,), targets) if targets else ()
                grant = node("grant", self.compiled.grants[index].id)
                found = cache[key] = (*path, grant) if path else None
            if found is not None and (best is None or (len(found), found) < (len(best), best)):
                best = found
        if best is None:
            raise ReviewInconsistencyError(f"grant {index} reaches none of {sorted(starts)}")
        return best

    def space_levels(self, space: PermissionSpace) -> list[tuple[str, int]]:
        """Each level of a space, highest first, with the set of its classes' permissions."""
        # Keyed by the space itself, not `id(space)`: an id is reused once a space is freed.
        masks = self._space_levels.get(space)
        if masks is None:
            classes = self.policy.classes
            masks = self._space_levels[space] = [
                (level, space.class_mask([c for c in space.classes if classes[c].level == level]))
                for level in reversed(self.policy.levels)
            ]
        return masks

    def grant_roles(self, index: int) -> frozenset[str]:
        """The roles a grant names, `*` expanded (cached)."""
        named = self._grant_roles.get(index)
        if named is None:
            grant = self.compiled.grants[index]
            named = self._grant_roles[index] = frozenset(expand(grant, self.policy, "roles"))
        return named

    def first_allow(self, roles: Iterable[str], permission: Permission) -> int:
        """The first allow grant behind a permission held through some roles (checked held).

        The same grant as `held_grants(closure, permission)[0]` for the union of
        the roles' closures: the grants reaching a union are the union of the
        grants reaching each closure. Cached per role and permission.
        """
        first = -1
        denied = False
        cache = self._first_allow
        for role in roles:
            key = (role, permission)
            found = cache.get(key)
            if found is None:
                held = self.compiled.held(self.compiled.role_closure[role], *permission)
                found = cache[key] = (held.allows[0] if held.allows else -1, bool(held.denies))
            index, deny = found
            denied = denied or deny
            if index >= 0 and (first < 0 or index < first):
                first = index
        if first < 0 or denied:
            raise ReviewInconsistencyError(f"`{permission}` is not held through {sorted(roles)}")
        return first

    def held_grants(self, closure: frozenset[str], permission: Permission) -> tuple[int, ...]:
        """The allow grants behind a held permission, checked with the core's `held`."""
        held = self.compiled.held(closure, *permission)
        if not held.held:
            raise ReviewInconsistencyError(f"`{permission}` is not held by {sorted(closure)}")
        return held.allows

    def explain(
        self,
        kind: str,
        subject: str,
        closure: frozenset[str],
        mask: int,
        space: PermissionSpace | None = None,
        limit: int = EVIDENCE_LIMIT,
    ) -> list[Path]:
        """Evidence for a set of held permissions: a path to each grant behind them.

        Greedy: take the first permission left, ask the core which allow grants
        give it, add a path to the first, drop everything that grant covers,
        repeat (at most `limit` paths). Each path ends with the permission.
        """
        space = space or self.space
        result: list[Path] = []
        while mask and len(result) < limit:
            permission = space.first(mask)
            assert permission is not None
            index = self.held_grants(closure, permission)[0]
            result.append(
                (*self.grant_path(kind, subject, closure, index), permission_node(permission))
            )
            mask &= ~self.grant_box(space, index)
        return result

    def grant_box(self, space: PermissionSpace, index: int) -> int:
        """Everything a grant's keys cover in a space (cached: evidence asks for it often)."""
        key = (space, index)
        box = self._grant_boxes.get(key)
        if box is None:
            box = self._grant_boxes[key] = space.boxes(self.grant_keys(self.compiled.grants[index]))
        return box

    def grant_keys(self, grant: Grant) -> Iterator[tuple[str, str, str]]:
        """The concrete keys a grant names, wildcards resolved as the compiler does."""
        policy = self.policy
        actions = expand(grant, policy, "actions")
        for cls in expand(grant, policy, "classes"):
            for purp in expand(grant, policy, "purposes"):
                for act in actions:
                    yield (cls, purp, act)


def permission_node(permission: Permission) -> str:
    """An evidence node for a permission: `permission:class/purpose/action`."""
    return node("permission", "/".join(permission))


def level_severity(policy: Policy, level: str | None, ladder: tuple[str, str, str]) -> str:
    """A severity from a level: ladder[0] at the top level, [1] one below, [2] otherwise."""
    if level is None:
        return ladder[2]
    below_top = len(policy.levels) - 1 - policy.level_rank(level)
    return ladder[min(below_top, 2)]
