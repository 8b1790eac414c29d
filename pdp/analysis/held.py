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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pdp.analysis.space import PermissionSpace
from pdp.core.compile import CompiledPolicy, Key
from pdp.core.model import WILDCARD

Filed = Mapping[Key, Mapping[str, tuple[int, ...]]]


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

    def own_masks(self, space: PermissionSpace) -> dict[str, int]:
        """For each role, the set its own grants of this table cover in `space` (non-empty only)."""
        # Keys filed under the same roles (a `*` grant's keys: every role) are pooled first,
        # so each role takes one union per distinct set of roles, not one per key.
        pooled: dict[frozenset[str], int] = {}
        for cls, entries in self.by_class.items():
            lo, hi = space.class_range.get(cls, (0, 0))
            if hi <= lo:
                continue
            for key, members in entries:
                mask = space.box(*key)
                if mask:
                    pooled[members] = pooled.get(members, 0) | mask
        masks: dict[str, int] = {}
        for members, mask in pooled.items():
            for role in members:
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
        index: dict[frozenset[str], int] = {}
        closures: list[frozenset[str]] = []
        members: list[list[tuple[str, str]]] = []

        def group(closure: frozenset[str], member: tuple[str, str]) -> int:
            g = index.get(closure)
            if g is None:
                g = index[closure] = len(closures)
                closures.append(closure)
                members.append([])
            members[g].append(member)
            return g

        role_group = {r: group(c, ("role", r)) for r, c in compiled.role_closure.items()}
        user_group = {u: group(c, ("user", u)) for u, c in compiled.user_closure.items()}
        containing: dict[str, list[int]] = defaultdict(list)
        for g, closure in enumerate(closures):
            for role in closure:
                containing[role].append(g)
        return cls(closures, role_group, user_group, dict(containing), members)

    def reaching(self, roles: Iterable[str]) -> set[int]:
        """The groups whose closure holds at least one of `roles`."""
        found: set[int] = set()
        for role in roles:
            found.update(self.containing.get(role, ()))
        return found


@dataclass
class Projected:
    """The own allow and deny sets of every role in one space, and subjects' held sets from them."""

    space: PermissionSpace
    own_allow: dict[str, int]
    own_deny: dict[str, int]

    @classmethod
    def of(cls, space: PermissionSpace, allow: FiledKeys, deny: FiledKeys) -> Projected:
        """Project the compiled index onto a space."""
        return cls(space, allow.own_masks(space), deny.own_masks(space))

    def allowed(self, closure: Iterable[str]) -> int:
        """Union of the allow sets of the roles of a closure."""
        mask = 0
        own = self.own_allow
        for role in closure:
            found = own.get(role)
            if found:
                mask |= found
        return mask

    def denied(self, closure: Iterable[str]) -> int:
        """Union of the deny sets of the roles of a closure."""
        mask = 0
        own = self.own_deny
        for role in closure:
            found = own.get(role)
            if found:
                mask |= found
        return mask

    def held(self, closure: Iterable[str]) -> int:
        """What a subject with this closure holds in this space (rules 1-4)."""
        roles = tuple(closure)
        allowed = self.allowed(roles)
        return allowed & ~self.denied(roles) if allowed else 0


def projections(compiled: CompiledPolicy) -> tuple[FiledKeys, FiledKeys]:
    """The allow and deny tables of a compiled policy, indexed for projecting."""
    all_roles = frozenset(compiled.role_closure)
    return FiledKeys.of(compiled.allow, all_roles), FiledKeys.of(compiled.deny, all_roles)
