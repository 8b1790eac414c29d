"""Compiling a policy: the decision index, the Casbin rules and the content-hash version.

The index answers "which allow and deny grants reach (subject, class, purpose,
action)" without scanning grants: grants are filed under each concrete
(class, purpose, action) key they name, with wildcards resolved to the tree
roots; a query walks the few ancestors of the requested class and purpose and
intersects the roles filed there with the subject's role closure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from pdp.core.hierarchy import subject_closures, tree_ancestors
from pdp.core.model import WILDCARD, Grant, Policy
from pdp.core.normalize import policy_version

Key = tuple[str, str, str]
Filed = dict[Key, dict[str, tuple[int, ...]]]


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
    """A policy ready to decide: its index, closures, consent table and version."""

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

    def closure_of(self, kind: Literal["role", "user"], subject: str) -> frozenset[str] | None:
        """The roles a subject reaches, or None when the subject is not declared."""
        table = self.role_closure if kind == "role" else self.user_closure
        return table.get(subject)

    def held(self, closure: frozenset[str], info_class: str, purpose: str, action: str) -> Held:
        """The allow and deny grants that reach a subject with this closure (ids must be known)."""
        allows: set[int] = set()
        denies: set[int] = set()
        allow, deny = self.allow, self.deny
        for cls in self.class_ancestors[info_class]:
            for purp in self.purpose_ancestors[purpose]:
                key = (cls, purp, action)
                filed = allow.get(key)
                if filed is not None:
                    for role in closure & filed.keys():
                        allows.update(filed[role])
                filed = deny.get(key)
                if filed is not None:
                    for role in closure & filed.keys():
                        denies.update(filed[role])
        return Held(tuple(sorted(allows)), tuple(sorted(denies)))


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
    building: dict[str, dict[Key, dict[str, list[int]]]] = {
        "allow": defaultdict(lambda: defaultdict(list)),
        "deny": defaultdict(lambda: defaultdict(list)),
    }
    for index, grant in enumerate(policy.grants):
        table = building[grant.effect]
        roles = expand(grant, policy, "roles")
        for cls in expand(grant, policy, "classes"):
            for purp in expand(grant, policy, "purposes"):
                for act in expand(grant, policy, "actions"):
                    filed = table[(cls, purp, act)]
                    for role in roles:
                        filed[role].append(index)
    return tuple(  # type: ignore[return-value]
        {key: {role: tuple(ix) for role, ix in roles.items()} for key, roles in table.items()}
        for table in (building["allow"], building["deny"])
    )


def consent_scopes(policy: Policy) -> dict[str, frozenset[str]]:
    """For each purpose needing consent: the purposes whose consent covers it (it, ancestors)."""
    ancestors = tree_ancestors(policy.purposes)
    return {
        pid: frozenset(chain)
        for pid, chain in ancestors.items()
        if any(policy.purposes[a].legal_basis == "consent" for a in chain)
    }


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a validated policy into its decision index."""
    roles, users = subject_closures(policy)
    allow, deny = _file(policy)
    return CompiledPolicy(
        policy=policy,
        version=policy_version(policy),
        role_closure=roles,
        user_closure=users,
        class_ancestors=tree_ancestors(policy.classes),
        purpose_ancestors=tree_ancestors(policy.purposes),
        consent_scope=consent_scopes(policy),
        actions=frozenset(policy.actions),
        allow=allow,
        deny=deny,
        grants=policy.grants,
    )
