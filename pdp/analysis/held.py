"""What every role and user holds, computed once per distinct role closure, as bitsets.

The decision rules give a subject with role closure S the permission x when an
allow grant filed under a key covering x names a role of S, and no deny grant
does (rules 1-4 of the format). The compiled index (`CompiledPolicy.allow` and
`.deny`) already files every grant under the concrete keys it names, wildcards
resolved; here each role's *own* keys become one bitset of what they cover,
and a subject's sets are the unions over its closure:

    allowed(S) = OR own_allow[r] for r in S      denied(S) = OR own_deny[r] for r in S
    held(S)    = allowed(S) & ~denied(S)

Subjects are grouped by closure (`Subjects`): a user with one role shares the
role's group, and users with the same roles share one group, so a bank's
100,000 users cost as much as their distinct role sets. Tests check these sets
against `pdp.core.queries.held_permissions` for every subject of generated
policies, and the review checks each finding's evidence with
`CompiledPolicy.held`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pdp.analysis.space import PermissionSpace
from pdp.core.compile import CompiledPolicy, Key
from pdp.core.model import WILDCARD

Filed = Mapping[Key, Mapping[str, tuple[int, ...]]]
K = TypeVar("K", bound=Hashable)
M = TypeVar("M")


class Groups(Generic[K, M]):
    """Members grouped by key, groups numbered in the order their keys first come."""

    def __init__(self) -> None:
        self.index: dict[K, int] = {}
        self.keys: list[K] = []
        self.members: list[list[M]] = []

    def add(self, key: K, member: M) -> int:
        """File `member` under `key`; its group's number."""
        g = self.index.get(key)
        if g is None:
            g = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.members.append([])
        self.members[g].append(member)
        return g


def groups_by_role(keys: Sequence[Iterable[str]]) -> dict[str, list[int]]:
    """For each role, the numbers of the groups whose roles hold it."""
    by_role: dict[str, list[int]] = defaultdict(list)
    for g, roles in enumerate(keys):
        for role in roles:
            by_role[role].append(g)
    return dict(by_role)


def groups_holding(by_role: Mapping[str, list[int]], roles: Iterable[str]) -> set[int]:
    """The groups holding at least one of `roles` (`by_role` from `groups_by_role`)."""
    found: set[int] = set()
    for role in roles:
        groups = by_role.get(role)
        if groups:
            found.update(groups)
    return found


@dataclass(frozen=True)
class FiledKeys:
    """The keys of the compiled index by class: `by_class[c] = [(key, roles filed under it)]`."""

    by_class: dict[str, list[tuple[Key, frozenset[str]]]]

    @classmethod
    def of(cls, filed: Filed, all_roles: frozenset[str]) -> FiledKeys:
        """Index one table (allow or deny) of a compiled policy.

        A grant whose roles are `*` is filed once under the `WILDCARD` sentinel; every role's
        closure holds the role itself, so for roles the sentinel means `all_roles`.
        """
        by_class: dict[str, list[tuple[Key, frozenset[str]]]] = defaultdict(list)
        shared: dict[frozenset[str], frozenset[str]] = {}
        for key, roles in filed.items():
            members = all_roles if WILDCARD in roles else frozenset(roles)
            by_class[key[0]].append((key, shared.setdefault(members, members)))
        return cls(dict(by_class))

    def own_masks(
        self, space: PermissionSpace, only: frozenset[str] | None = None
    ) -> dict[str, int]:
        """For each role (of `only`, when given), the set its own grants of this table cover in
        `space` (non-empty only)."""
        # The keys of one grant are filed under the same roles: pool the keys by their roles, so
        # each role takes one union per distinct set of roles, not one per key, and only one
        # pooled set (as large as the space) is alive at a time.
        pooled: dict[frozenset[str], list[Key]] = defaultdict(list)
        for cls, entries in self.by_class.items():
            lo, hi = space.class_range.get(cls, (0, 0))
            if hi > lo:
                for key, members in entries:
                    if only is None or not only.isdisjoint(members):
                        pooled[members].append(key)
        masks: dict[str, int] = {}
        for members, keys in pooled.items():
            mask = space.boxes(keys)
            if mask:
                for role in members if only is None else members & only:
                    masks[role] = masks.get(role, 0) | mask
        return masks


@dataclass
class Subjects:
    """Roles and users grouped by role closure, indexed by the roles each group reaches."""

    closures: list[frozenset[str]]
    role_group: dict[str, int]
    user_group: dict[str, int]
    containing: dict[str, list[int]]
    members: list[list[tuple[str, str]]] = field(default_factory=list)

    @classmethod
    def of(cls, compiled: CompiledPolicy) -> Subjects:
        """Group every role and user of a compiled policy by closure."""
        groups: Groups[frozenset[str], tuple[str, str]] = Groups()
        role_group = {r: groups.add(c, ("role", r)) for r, c in compiled.role_closure.items()}
        user_group = {u: groups.add(c, ("user", u)) for u, c in compiled.user_closure.items()}
        return cls(groups.keys, role_group, user_group, groups_by_role(groups.keys), groups.members)

    def reaching(self, roles: Iterable[str]) -> set[int]:
        """The groups whose closure holds at least one of `roles`."""
        return groups_holding(self.containing, roles)


Order = tuple[tuple[str, tuple[str, ...]], ...]


def inheritance_order(compiled: CompiledPolicy) -> Order:
    """Every role with the roles it inherits, a role after everything it inherits."""
    roles = compiled.policy.roles
    closure = compiled.role_closure
    # An inherited role's closure is a strict subset of the inheriting role's (no cycles).
    ranked = sorted(roles, key=lambda r: len(closure[r]))
    return tuple((r, roles[r].inherits) for r in ranked)


def inherited(own: Mapping[str, int], order: Order) -> dict[str, int]:
    """For each role, the union of `own` over its closure (non-empty only): one pass, in order."""
    reach: dict[str, int] = {}
    for role, parents in order:
        mask = own.get(role, 0)
        for parent in parents:
            found = reach.get(parent)
            if found:
                mask |= found
        if mask:
            reach[role] = mask
    return reach


def _kept(masks: dict[str, int], changed: frozenset[str]) -> dict[str, int]:
    return {r: m for r, m in masks.items() if r not in changed}


def union(masks: Mapping[str, int], roles: Iterable[str]) -> int:
    """The union of the masks of some roles (roles without one count as empty)."""
    mask = 0
    for role in roles:
        found = masks.get(role)
        if found:
            mask |= found
    return mask


@dataclass
class Projected:
    """What each role's closure allows and denies in one space, and subjects' held sets from them.

    `allow[r]` is the union of the allow sets of the grants naming a role of r's
    closure (`deny[r]` likewise); a subject's closure is the union of the
    closures of its roles (or of the roles of its closure), so

        held(subject) = union(allow, roles) & ~union(deny, roles)

    for its assigned roles as well as for its whole closure.
    """

    space: PermissionSpace
    allow: dict[str, int]
    deny: dict[str, int]
    own_allow: dict[str, int] = field(default_factory=dict, repr=False)
    own_deny: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        space: PermissionSpace,
        allow: FiledKeys,
        deny: FiledKeys,
        order: Order,
        base: tuple[Projected, frozenset[str]] | None = None,
        *,
        keep: bool = False,
    ) -> Projected:
        """Project the compiled index onto a space and close it over inheritance.

        `base` is the projection of another version onto a space numbered the
        same way, with the roles whose own grants differ between the versions:
        every other role's own sets are taken from it, not recomputed. With
        `keep`, the own sets are kept for such a use.
        """
        if base is None:
            own_allow, own_deny = allow.own_masks(space), deny.own_masks(space)
        else:
            other, changed = base
            own_allow = _kept(other.own_allow, changed) | allow.own_masks(space, changed)
            own_deny = _kept(other.own_deny, changed) | deny.own_masks(space, changed)
        allowed, denied = inherited(own_allow, order), inherited(own_deny, order)
        if not keep:
            return cls(space, allowed, denied)
        return cls(space, allowed, denied, own_allow, own_deny)

    def allowed(self, roles: Iterable[str]) -> int:
        """Union of the allow sets of some roles."""
        return union(self.allow, roles)

    def denied(self, roles: Iterable[str]) -> int:
        """Union of the deny sets of some roles."""
        return union(self.deny, roles)

    def held(self, roles: Iterable[str]) -> int:
        """What a subject with these roles (assigned, or its closure) holds here (rules 1-4)."""
        roles = tuple(roles)
        allowed = self.allowed(roles)
        return allowed & ~self.denied(roles) if allowed else 0


@dataclass
class RoleSets:
    """Users grouped by the roles assigned to them, indexed by role.

    Users with the same assigned roles hold the same permissions and reach
    grants through the same paths; every user-level check works per role set.
    """

    roles: list[tuple[str, ...]]
    members: list[list[str]]
    by_role: dict[str, list[int]]

    @classmethod
    def of(cls, compiled: CompiledPolicy) -> RoleSets:
        """Group the users of a compiled policy by their (sorted, distinct) roles."""
        groups: Groups[tuple[str, ...], str] = Groups()
        for uid, user in compiled.policy.users.items():
            groups.add(tuple(sorted(set(user.roles))), uid)
        return cls(groups.keys, groups.members, groups_by_role(groups.keys))

    def assigning(self, roles: Iterable[str]) -> set[int]:
        """The role sets holding at least one of `roles`."""
        return groups_holding(self.by_role, roles)


def projections(compiled: CompiledPolicy) -> tuple[FiledKeys, FiledKeys]:
    """The allow and deny tables of a compiled policy, indexed for projecting."""
    all_roles = frozenset(compiled.role_closure)
    return FiledKeys.of(compiled.allow, all_roles), FiledKeys.of(compiled.deny, all_roles)
