"""The decision-level diff of two policies: which held permissions a change adds or removes.

Exact and symbolic, never sampled. For one key (class, purpose, action) the
roles holding it are `inheritors(allow roles filed at the key's ancestors)`
minus `inheritors(deny roles filed there)` (spec rules 1-4); the users
likewise. A key can only change for someone when

- a grant covering it differs between the versions (grants are compared by
  content: effect, roles, classes, purposes, actions, obligations), or
- it is covered by a grant naming a role that entered or left some role's or
  user's closure (inheritance edited, a role or user added or removed), or
- one of its ids is declared in one version only,

so only those keys are evaluated, in both versions. `brute_force` in the
tests checks this against every declared id of either version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pdp.analysis.changes import review_changes
from pdp.analysis.review import Review, review
from pdp.analysis.timing import Requirements, asks_less
from pdp.core.change import PolicyChange, policy_change
from pdp.core.compile import CompiledPolicy, expand
from pdp.core.model import WILDCARD, Grant
from pdp.core.queries import descendants

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True, order=True)
class Access:
    """One held permission of one subject (a role or a user) that a change adds or removes."""

    subject: str
    info_class: str
    purpose: str
    action: str

    @property
    def key(self) -> Key:
        """The permission without its subject."""
        return (self.info_class, self.purpose, self.action)

    def to_dict(self, kind: str = "role") -> dict[str, str]:
        """The access as the diff's JSON shape: `{"role", "info_class", "purpose", "action"}`."""
        return {
            kind: self.subject,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
        }


@dataclass(frozen=True, slots=True, order=True)
class ObligationChange:
    """A permission a role holds in both versions whose obligations changed."""

    role: str
    info_class: str
    purpose: str
    action: str
    old: tuple[str, ...]
    new: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The change as plain data."""
        return {
            "role": self.role,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
            "old": list(self.old),
            "new": list(self.new),
        }


@dataclass(frozen=True, slots=True, order=True)
class Loosening:
    """A permission a role holds in both versions that the new version gives for less.

    `grants` are the new version's allow grants behind it whose requirements no
    grant of the old version asked as little as; `asks` is what each asks
    (`pdp.analysis.timing.Requirements.words`), `before` what the old grants asked.
    """

    role: str
    info_class: str
    purpose: str
    action: str
    grants: tuple[str, ...]
    asks: tuple[str, ...]
    before: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The loosening as plain data."""
        return {
            "role": self.role,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
            "grants": list(self.grants),
            "asks": list(self.asks),
            "before": list(self.before),
        }


@dataclass
class PolicyDiff:
    """What a change from `old` to `new` does to held permissions, obligations and findings."""

    old: CompiledPolicy
    new: CompiledPolicy
    added: list[Access]
    removed: list[Access]
    users_added: list[Access]
    users_removed: list[Access]
    obligations: list[ObligationChange]
    keys_evaluated: int = 0
    new_findings: list[Any] = field(default_factory=list)
    resolved_findings: list[Any] = field(default_factory=list)
    findings_note: str = ""
    loosened: list[Loosening] = field(default_factory=list)

    def level_of(self, info_class: str) -> str:
        """The sensitivity level of a class, in the new version when declared there."""
        for side in (self.new, self.old):
            cls = side.policy.classes.get(info_class)
            if cls is not None:
                return cls.level
        return ""

    def level_rank(self, level: str) -> int:
        """The rank of a level in the new policy's levels (-1 when unknown)."""
        return level_rank(level, self.new, self.old)

    def added_at_or_above(self, level: str | None) -> list[Access]:
        """The added role permissions whose class is at or above `level` (all when None)."""
        if level is None:
            return self.added
        floor = self.level_rank(level)
        return [a for a in self.added if self.level_rank(self.level_of(a.info_class)) >= floor]

    def loosened_at_or_above(self, level: str | None) -> list[Loosening]:
        """The loosened role permissions whose class is at or above `level` (all when None)."""
        if level is None:
            return self.loosened
        floor = self.level_rank(level)
        return [x for x in self.loosened if self.level_rank(self.level_of(x.info_class)) >= floor]

    def top_level(self, accesses: Iterable[Access]) -> str:
        """The highest level any of these accesses reaches, or "" when there are none."""
        levels = {self.level_of(a.info_class) for a in accesses}
        return max(levels, key=self.level_rank, default="")

    def summary(self) -> dict[str, Any]:
        """Counts for the diff's JSON `summary`."""
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "roles_gaining": len({a.subject for a in self.added}),
            "roles_losing": len({a.subject for a in self.removed}),
            "users_gaining": len({a.subject for a in self.users_added}),
            "users_losing": len({a.subject for a in self.users_removed}),
            "obligations_changed": len(self.obligations),
            "loosened": len(self.loosened),
            "highest_level_added": self.top_level(self.added) or None,
            "new_findings": len(self.new_findings),
            "resolved_findings": len(self.resolved_findings),
            "keys_evaluated": self.keys_evaluated,
        }

    def to_dict(self) -> dict[str, Any]:
        """The diff as its JSON shape."""
        return {
            "old_version": self.old.version,
            "new_version": self.new.version,
            "added": [a.to_dict() for a in self.added],
            "removed": [a.to_dict() for a in self.removed],
            "summary": self.summary(),
            "users": {
                "added": [a.to_dict("user") for a in self.users_added],
                "removed": [a.to_dict("user") for a in self.users_removed],
            },
            "obligations_changed": [o.to_dict() for o in self.obligations],
            "loosened": [x.to_dict() for x in self.loosened],
            "findings": {
                "new": [_finding_dict(f) for f in self.new_findings],
                "resolved": [_finding_dict(f) for f in self.resolved_findings],
                "note": self.findings_note or None,
            },
        }


def _finding_dict(finding: Any) -> dict[str, Any]:
    result: dict[str, Any] = finding.to_dict()
    return result


class _Side:
    """One version of the policy with the inverse closures the per-key holder query needs.

    Inverse closures are computed on demand, for the roles the evaluated keys
    name: a change usually touches a few hundred keys of a policy with
    thousands of roles and users.
    """

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.class_desc = descendants(compiled.policy.classes)
        self.purpose_desc = descendants(compiled.policy.purposes)
        self._heirs: dict[str, list[str]] = defaultdict(list)  # role -> roles inheriting it
        for role in compiled.policy.roles.values():
            for parent in role.inherits:
                self._heirs[parent].append(role.id)
        self._assigned: dict[str, list[str]] = defaultdict(list)  # role -> users given it
        for user in compiled.policy.users.values():
            for role_id in user.roles:
                self._assigned[role_id].append(user.id)
        # A grant filed under `*` reaches every subject whose closure is not empty.
        self._role_inheritors: dict[str, frozenset[str]] = {
            WILDCARD: frozenset(compiled.role_closure)
        }
        self._user_inheritors: dict[str, frozenset[str]] = {
            WILDCARD: frozenset(u for u, c in compiled.user_closure.items() if c)
        }

    def role_inheritors(self, role: str) -> frozenset[str]:
        """The roles whose closure holds `role` (all of them for `WILDCARD`)."""
        found = self._role_inheritors.get(role)
        if found is None:
            reached = {role} if role in self.compiled.role_closure else set()
            pending = list(reached)
            while pending:
                for heir in self._heirs.get(pending.pop(), ()):
                    if heir not in reached:
                        reached.add(heir)
                        pending.append(heir)
            found = self._role_inheritors[role] = frozenset(reached)
        return found

    def user_inheritors(self, role: str) -> frozenset[str]:
        """The users whose closure holds `role` (all with a role for `WILDCARD`)."""
        found = self._user_inheritors.get(role)
        if found is None:
            assigned = self._assigned
            found = frozenset(u for r in self.role_inheritors(role) for u in assigned.get(r, ()))
            self._user_inheritors[role] = found
        return found

    def declares(self, key: Key) -> bool:
        """True when the class, purpose and action of a key are all declared in this version."""
        c = self.compiled
        return key[0] in c.class_ancestors and key[1] in c.purpose_ancestors and key[2] in c.actions

    def filed(self, key: Key) -> tuple[set[str], set[str]]:
        """The roles (or `WILDCARD`) named by the allow and by the deny grants reaching a key."""
        c = self.compiled
        allows: set[str] = set()
        denies: set[str] = set()
        if not self.declares(key):
            return allows, denies
        cls, purpose, action = key
        for a_cls in c.class_ancestors[cls]:
            for a_purp in c.purpose_ancestors[purpose]:
                k = (a_cls, a_purp, action)
                filed = c.allow.get(k)
                if filed:
                    allows.update(filed)
                filed = c.deny.get(k)
                if filed:
                    denies.update(filed)
        return allows, denies

    def holders(self, key: Key) -> tuple[set[str], set[str]]:
        """The roles and the users that hold a key in this version (rules 1-4)."""
        allows, denies = self.filed(key)
        roles: set[str] = set()
        users: set[str] = set()
        if not allows:
            return roles, users
        for role in allows:
            roles |= self.role_inheritors(role)
            users |= self.user_inheritors(role)
        for role in denies:
            roles -= self.role_inheritors(role)
            users -= self.user_inheritors(role)
        return roles, users

    def direct_obligations(self, key: Key) -> dict[str, frozenset[str]]:
        """For each role (or `WILDCARD`) an allow grant reaching a key names: their obligations."""
        c = self.compiled
        result: dict[str, set[str]] = defaultdict(set)
        cls, purpose, action = key
        for a_cls in c.class_ancestors[cls]:
            for a_purp in c.purpose_ancestors[purpose]:
                for role, indexes in c.allow.get((a_cls, a_purp, action), {}).items():
                    bucket = result[role]
                    for i in indexes:
                        bucket.update(c.grants[i].obligations)
        return {role: frozenset(obl) for role, obl in result.items()}

    def footprint(self, grant: Grant) -> Iterator[Key]:
        """Every concrete key a grant covers in this version."""
        policy = self.compiled.policy
        actions = expand(grant, policy, "actions")
        purposes = [
            sub for p in expand(grant, policy, "purposes") for sub in self.purpose_desc.get(p, ())
        ]
        for cls in expand(grant, policy, "classes"):
            for sub_cls in self.class_desc.get(cls, ()):
                for purp in purposes:
                    for act in actions:
                        yield (sub_cls, purp, act)

    def keys_with(
        self, classes: Iterable[str], purposes: Iterable[str], actions: Iterable[str]
    ) -> Iterator[Key]:
        """Every declared key of this version using one of the given (one-version) ids."""
        c = self.compiled.policy
        cls_only, purp_only, act_only = set(classes), set(purposes), set(actions)
        for cls in cls_only:
            for purp in c.purposes:
                for act in c.actions:
                    yield (cls, purp, act)
        for purp in purp_only:
            for cls in c.classes:
                for act in c.actions:
                    yield (cls, purp, act)
        for act in act_only:
            for cls in c.classes:
                for purp in c.purposes:
                    yield (cls, purp, act)


def keys_to_evaluate(old_side: _Side, new_side: _Side, change: PolicyChange) -> set[Key]:
    """The keys where a held permission can differ."""
    keys: set[Key] = set()
    for grant in change.removed_grants:
        keys.update(old_side.footprint(grant))
    for grant in change.added_grants:
        keys.update(new_side.footprint(grant))
    moved = change.moved_roles
    if moved:
        for side in (old_side, new_side):
            for grant in side.compiled.grants:
                if WILDCARD in grant.roles or moved.intersection(grant.roles):
                    keys.update(side.footprint(grant))
    keys.update(
        old_side.keys_with(change.classes_removed, change.purposes_removed, change.actions_removed)
    )
    keys.update(
        new_side.keys_with(change.classes_added, change.purposes_added, change.actions_added)
    )
    return keys


def _obligations(side: _Side, direct: dict[str, frozenset[str]], role: str) -> tuple[str, ...]:
    closure = side.compiled.role_closure[role]
    found: set[str] = set(direct.get(WILDCARD, ()))  # a role's closure is never empty
    for member in closure & direct.keys():
        found |= direct[member]
    return tuple(sorted(found))


def _obligation_changes(
    old_side: _Side,
    new_side: _Side,
    key: Key,
    both: set[str],
    closure_changed: set[str],
) -> list[ObligationChange]:
    """Obligation changes at one key, for the roles that hold it in both versions."""
    old_direct = old_side.direct_obligations(key)
    new_direct = new_side.direct_obligations(key)
    suspects = closure_changed & both
    if old_direct != new_direct:
        for role in old_direct.keys() | new_direct.keys():
            if old_direct.get(role) != new_direct.get(role):
                suspects |= both & (old_side.role_inheritors(role) | new_side.role_inheritors(role))
    changes = []
    for role in suspects:
        before = _obligations(old_side, old_direct, role)
        after = _obligations(new_side, new_direct, role)
        if before != after:
            changes.append(ObligationChange(role, *key, before, after))
    return changes


def diff_policies(
    old: CompiledPolicy, new: CompiledPolicy, change: PolicyChange | None = None
) -> PolicyDiff:
    """The exact permission diff of two compiled policies (findings not included).

    `change` is `policy_change(old, new)`, when the caller has it already.
    """
    change = change if change is not None else policy_change(old, new)
    old_side, new_side = _Side(old), _Side(new)
    keys = keys_to_evaluate(old_side, new_side, change)
    closure_changed = set(change.reclosed_roles)
    added: list[Access] = []
    removed: list[Access] = []
    users_added: list[Access] = []
    users_removed: list[Access] = []
    obligations: list[ObligationChange] = []
    for key in keys:
        roles_old, users_old = old_side.holders(key)
        roles_new, users_new = new_side.holders(key)
        added.extend(Access(r, *key) for r in roles_new - roles_old)
        removed.extend(Access(r, *key) for r in roles_old - roles_new)
        users_added.extend(Access(u, *key) for u in users_new - users_old)
        users_removed.extend(Access(u, *key) for u in users_old - users_new)
        both = roles_old & roles_new
        if both:
            obligations.extend(_obligation_changes(old_side, new_side, key, both, closure_changed))
    return PolicyDiff(
        old,
        new,
        sorted(added, key=_access_order),
        sorted(removed, key=_access_order),
        sorted(users_added, key=_access_order),
        sorted(users_removed, key=_access_order),
        sorted(obligations),
        keys_evaluated=len(keys),
    )


def _access_order(access: Access) -> tuple[str, str, str, str]:
    """The dataclass order of an `Access`, as a plain tuple (sorting compares tuples in C)."""
    return (access.subject, access.info_class, access.purpose, access.action)


def level_rank(level: str, *sides: CompiledPolicy) -> int:
    """The rank of a level in the first of `sides` that declares it (-1 when none does)."""
    for side in sides:
        if level in side.policy.levels:
            return side.policy.levels.index(level)
    return -1


def diff_with_findings(old: CompiledPolicy, new: CompiledPolicy) -> PolicyDiff:
    """`diff_policies` with the findings the change introduces and resolves filled in.

    Only what the change can reach is reviewed in both versions
    (`pdp.analysis.changes.review_changes`); the answer is that of reviewing
    both in full. One `PolicyChange` feeds both.
    """
    change = policy_change(old, new)
    diff = diff_policies(old, new, change)
    diff.new_findings, diff.resolved_findings = review_changes(old, new, change=change)
    return diff


def review_function() -> Callable[[CompiledPolicy], Review]:
    """The privilege review (`pdp.analysis.review.review`), as `pdp test` and `pdp ci` call it.

    The seam `pdp ci` memoises, so its policy tests and review gate share one review.
    """
    return review


def loosened_access(old: CompiledPolicy, new: CompiledPolicy) -> list[Loosening]:
    """The permissions roles hold in both versions whose weakest requirements ask less in `new`.

    Both are what holds at one time (`pdp.analysis.timing.policy_at`). A role's
    permission is loosened when one of the new allow grants behind it asks
    less than every old one (`timing.asks_less`). That needs a new grant the
    old version lacks (by content), or a role that entered the role's closure:
    only the permissions those grants cover for the roles they reach are
    judged, in both versions, with the core's `held`.
    """
    old_grants = set(old.policy.grants)
    old_side = _Side(old)
    candidates: dict[str, set[int]] = defaultdict(set)
    all_roles = frozenset(new.role_closure)
    for index, grant in enumerate(new.grants):
        if grant.effect != "allow" or grant in old_grants:
            continue
        named = all_roles if WILDCARD in grant.roles else frozenset(grant.roles)
        for role, closure in new.role_closure.items():
            if role in old.role_closure and not closure.isdisjoint(named):
                candidates[role].add(index)
    for role, closure in new.role_closure.items():
        before = old.role_closure.get(role)
        if before is None or before == closure:
            continue
        entered = closure - before
        for index, grant in enumerate(new.grants):
            if grant.effect == "allow" and (WILDCARD in grant.roles or entered & set(grant.roles)):
                candidates[role].add(index)
    new_side = _Side(new)
    found: list[Loosening] = []
    for role, indexes in candidates.items():
        seen: set[Key] = set()
        for index in sorted(indexes):
            for key in new_side.footprint(new.grants[index]):
                if key in seen or not old_side.declares(key):
                    continue
                seen.add(key)
                change = _loosening(old, new, role, key)
                if change is not None:
                    found.append(change)
    return sorted(found)


def _loosening(old: CompiledPolicy, new: CompiledPolicy, role: str, key: Key) -> Loosening | None:
    """The loosening of one role's permission, or None (not held in both, or not looser)."""
    held_new = new.held(new.role_closure[role], *key)
    if not held_new.held:
        return None
    held_old = old.held(old.role_closure[role], *key)
    if not held_old.held:
        return None
    before = {old.grants[i].id: Requirements.of(old.grants[i]) for i in held_old.allows}
    after = {new.grants[i].id: Requirements.of(new.grants[i]) for i in held_new.allows}
    weaker = asks_less(after.values(), before.values())
    if not weaker:
        return None
    ids = tuple(gid for gid, req in after.items() if req in weaker)
    return Loosening(
        role,
        *key,
        ids,
        tuple(_words(after[g]) for g in ids),
        tuple(_words(r) for r in before.values()),
    )


def _words(requirements: Requirements) -> str:
    return ", ".join(requirements.words()) or "nothing"
