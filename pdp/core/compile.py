"""Compiling a policy: the decision index, the Casbin rules and the content-hash version.

The index answers "which allow and deny grants reach (subject, class, purpose,
action)" without scanning grants: grants are filed under each concrete
(class, purpose, action) key they name, with wildcards resolved to the tree
roots; a query walks the few ancestors of the requested class and purpose and
intersects the roles filed there with the subject's role closure.

A grant whose roles are `*` is filed once per key under the `WILDCARD`
sentinel instead of once per role: it reaches every subject whose closure is
not empty (every role; a user with at least one role). Every consumer of
`CompiledPolicy.allow` and `.deny` reads the sentinel that way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from pdp.core.hierarchy import pooled_closure, role_closures, tree_ancestors
from pdp.core.model import DEFAULT_TIMEZONE, WILDCARD, Grant, Policy
from pdp.core.normalize import policy_version

Key = tuple[str, str, str]
Filed = dict[Key, dict[str, tuple[int, ...]]]
Indexes = tuple[int, ...] | list[int]


@dataclass(frozen=True, slots=True)
class Held:
    """The grants that reach a (subject, class, purpose, action): indexes into `grants`."""

    allows: tuple[int, ...]
    denies: tuple[int, ...]

    @property
    def held(self) -> bool:
        """True when rules 1-4 give the permission: some allow and no deny."""
        return bool(self.allows) and not self.denies


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy ready to decide: its index, closures, consent tables and version.

    `user_closure` pools every role assigned to a user, whatever its window;
    a user in `timed_users` holds, at a given time, only the roles whose
    assignment is in its window (`closure_at`).
    """

    policy: Policy
    version: str
    role_closure: dict[str, frozenset[str]]
    user_closure: dict[str, frozenset[str]]
    class_ancestors: dict[str, tuple[str, ...]]
    purpose_ancestors: dict[str, tuple[str, ...]]
    consent_scope: dict[str, frozenset[str]]
    actions: frozenset[str]
    allow: Filed
    deny: Filed
    grants: tuple[Grant, ...] = field(repr=False, default=())
    separate_consent: frozenset[str] = frozenset()
    """The purposes needing consent that need it separately (`consent: separate` on the chain)."""
    sensitive: frozenset[str] = frozenset()
    """The sensitive classes (declared so, or below one)."""
    relationships: frozenset[str] = frozenset()
    timed_users: frozenset[str] = frozenset()
    """The users with a windowed role assignment."""
    timed_grants: frozenset[int] = frozenset()
    """The indexes of the grants whose applying can depend on the time (`Grant.timed`)."""
    conditional_grants: frozenset[int] = frozenset()
    """The indexes of the grants with requirements (`when`)."""
    break_glass_grants: frozenset[int] = frozenset()
    disabled_users: frozenset[str] = frozenset()
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    """The zone `hours` are read in."""

    def closure_at(
        self, kind: Literal["role", "user"], subject: str, at: datetime
    ) -> frozenset[str]:
        """The roles a declared subject reaches at time `at` (its assignments in their windows)."""
        if kind == "role" or subject not in self.timed_users:
            return (self.role_closure if kind == "role" else self.user_closure)[subject]
        return pooled_closure(self.policy.users[subject].roles_at(at), self.role_closure)

    def closure_of(self, kind: Literal["role", "user"], subject: str) -> frozenset[str] | None:
        """The roles a subject reaches, or None when the subject is not declared."""
        table = self.role_closure if kind == "role" else self.user_closure
        return table.get(subject)

    def held(self, closure: frozenset[str], info_class: str, purpose: str, action: str) -> Held:
        """The allow and deny grants that reach a subject with this closure (ids must be known)."""
        if not closure:  # no role, not even `*` reaches it
            return Held((), ())
        allows: list[int] = []
        denies: list[int] = []
        allow, deny = self.allow, self.deny
        if type(action) is str:  # the index's own string object: keys compare by pointer
            action = sys.intern(action)
        purposes = self.purpose_ancestors[purpose]
        for cls in self.class_ancestors[info_class]:
            for purp in purposes:
                key = (cls, purp, action)
                # Most keys reach none of the subject's roles: a C-level disjointness test first.
                filed = allow.get(key)
                if filed is not None and (WILDCARD in filed or not closure.isdisjoint(filed)):
                    _reaching(filed, closure, allows)
                filed = deny.get(key)
                if filed is not None and (WILDCARD in filed or not closure.isdisjoint(filed)):
                    _reaching(filed, closure, denies)
        return Held(
            tuple(sorted(set(allows))) if allows else (),
            tuple(sorted(set(denies))) if denies else (),
        )


def _reaching(filed: dict[str, tuple[int, ...]], closure: frozenset[str], out: list[int]) -> None:
    """Add to `out` the grants filed under a role of a non-empty closure, or under `*`."""
    if len(filed) <= len(closure):
        for role, indexes in filed.items():
            if role in closure or role == WILDCARD:
                out.extend(indexes)
        return
    for role in closure:
        found = filed.get(role)
        if found is not None:
            out.extend(found)
    found = filed.get(WILDCARD)
    if found is not None:
        out.extend(found)


def grant_signature(grant: Grant) -> tuple[Any, ...]:
    """What a grant means, id and location aside: equal signatures cover the same keys alike."""
    return (
        grant.effect,
        frozenset(grant.roles),
        frozenset(grant.classes),
        frozenset(grant.purposes),
        frozenset(grant.actions),
        frozenset(grant.obligations),
    )


def expand(grant: Grant, policy: Policy, field_name: str) -> tuple[str, ...]:
    """The concrete ids a grant names in one field, `*` resolved (classes and purposes to roots)."""
    values: tuple[str, ...] = getattr(grant, field_name)
    if WILDCARD not in values:
        return values
    if field_name == "roles":
        return tuple(policy.roles)
    if field_name == "actions":
        return policy.actions
    tree = policy.classes if field_name == "classes" else policy.purposes
    return tuple(i for i in tree if "." not in i)


def _file(policy: Policy) -> tuple[Filed, Filed]:
    """The allow and deny tables: key -> role (or `WILDCARD`) -> grant indexes, in order.

    Ids are interned, so the whole index (and the ancestor chains a query walks)
    shares one string object per id: comparing keys is then mostly comparing
    pointers, and the few hundred id strings stay in the CPU cache. Nearly every
    (key, role) has one grant: its entry is that grant's one shared `(index,)`;
    the few with more grow through a list, made a tuple at the end.
    """
    tables: dict[str, dict[Key, dict[str, Indexes]]] = {"allow": {}, "deny": {}}
    grown: list[tuple[dict[str, Indexes], str]] = []
    intern = sys.intern
    for index, grant in enumerate(policy.grants):
        table = tables[grant.effect]
        roles = (
            (WILDCARD,)
            if WILDCARD in grant.roles
            else tuple(dict.fromkeys(map(intern, grant.roles)))
        )
        single = (index,)
        classes = tuple(map(intern, expand(grant, policy, "classes")))
        purposes = tuple(map(intern, expand(grant, policy, "purposes")))
        actions = tuple(map(intern, expand(grant, policy, "actions")))
        for key in product(classes, purposes, actions):
            filed = table.get(key)
            if filed is None:
                table[key] = dict.fromkeys(roles, single)
                continue
            for role in roles:
                indexes = filed.get(role)
                if indexes is None:
                    filed[role] = single
                elif indexes[-1] == index:
                    continue  # the grant names this key twice
                elif isinstance(indexes, tuple):
                    filed[role] = [*indexes, index]
                    grown.append((filed, role))
                else:
                    indexes.append(index)
    for filed, role in grown:
        filed[role] = tuple(filed[role])
    # every entry is a tuple now
    return cast(Filed, tables["allow"]), cast(Filed, tables["deny"])


def _closures(policy: Policy) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """The role closure of every role and user, made of interned ids (see `_file`).

    A user with one role shares that role's closure instead of a copy.
    """
    roles = {rid: frozenset(map(sys.intern, c)) for rid, c in role_closures(policy.roles).items()}
    users = {
        uid: roles[u.roles[0]] if len(u.roles) == 1 else pooled_closure(u.roles, roles)
        for uid, u in policy.users.items()
    }
    return roles, users


def _interned(chains: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Ancestor chains made of the interned ids the index keys use (see `_file`)."""
    return {item: tuple(map(sys.intern, chain)) for item, chain in chains.items()}


def consent_scopes(policy: Policy) -> dict[str, frozenset[str]]:
    """For each purpose needing consent: the purposes whose consent covers it (it, ancestors)."""
    ancestors = tree_ancestors(policy.purposes)
    return {
        pid: frozenset(chain)
        for pid, chain in ancestors.items()
        if any(policy.purposes[a].legal_basis == "consent" for a in chain)
    }


def separate_consents(policy: Policy, scopes: dict[str, frozenset[str]]) -> frozenset[str]:
    """The purposes needing consent whose chain declares `consent: separate`."""
    return frozenset(
        pid
        for pid, chain in scopes.items()
        if any(policy.purposes[a].consent == "separate" for a in chain)
    )


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a validated policy into its decision index."""
    roles, users = _closures(policy)
    allow, deny = _file(policy)
    scopes = consent_scopes(policy)
    return CompiledPolicy(
        policy=policy,
        version=policy_version(policy),
        role_closure=roles,
        user_closure=users,
        class_ancestors=_interned(tree_ancestors(policy.classes)),
        purpose_ancestors=_interned(tree_ancestors(policy.purposes)),
        consent_scope=scopes,
        actions=frozenset(policy.actions),
        allow=allow,
        deny=deny,
        grants=policy.grants,
        separate_consent=separate_consents(policy, scopes),
        sensitive=frozenset(c.id for c in policy.classes.values() if c.sensitive),
        relationships=frozenset(policy.relationships),
        timed_users=frozenset(u.id for u in policy.users.values() if u.timed),
        timed_grants=frozenset(i for i, g in enumerate(policy.grants) if g.timed),
        conditional_grants=frozenset(i for i, g in enumerate(policy.grants) if g.when),
        break_glass_grants=frozenset(i for i, g in enumerate(policy.grants) if g.break_glass),
        disabled_users=frozenset(u.id for u in policy.users.values() if u.disabled),
        zone=ZoneInfo(policy.timezone),
    )
