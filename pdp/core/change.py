"""What differs between two compiled versions of a policy: grants, roles, users, ids, frame.

One `PolicyChange` feeds both readers of a change: the decision-level diff
(`pdp.policyci.diff`), which evaluates only the keys a change can reach, and
the review's focus (`pdp.analysis.focus`), which judges only the subjects and
grants a change can reach. Grants are compared two ways, as each reader needs:
by meaning regardless of id (`removed_grants`, `added_grants`: the diff of
held permissions), and by id (`grant_ids`: a finding names its grant's id).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pdp.core.compile import CompiledPolicy, grant_signature
from pdp.core.model import WILDCARD, Grant, Policy


@dataclass(frozen=True)
class PolicyChange:
    """The grant, role, user and id changes from an old compiled version to a new one."""

    removed_grants: tuple[Grant, ...]  # grants whose meaning `old` has more often than `new`
    added_grants: tuple[Grant, ...]  # and the other way round
    grant_ids: frozenset[str]  # grants (by id) whose meaning differs or in one version only
    named_roles: frozenset[str]  # the roles the grants of `grant_ids` name, in either version
    roles_added: frozenset[str]
    roles_removed: frozenset[str]
    reclosed_roles: frozenset[str]  # roles whose closure differs, or in one version only
    moved_roles: frozenset[str]  # roles that entered or left some role's or user's closure
    reassigned_users: frozenset[str]  # users whose role set differs, or in one version only
    classes_added: frozenset[str]
    classes_removed: frozenset[str]
    purposes_added: frozenset[str]
    purposes_removed: frozenset[str]
    actions_added: frozenset[str]
    actions_removed: frozenset[str]
    same_frame: bool  # same classes, purposes, actions, levels, class levels and rules

    @property
    def regranted(self) -> frozenset[str] | None:
        """The roles whose own grants may differ (None: every role, a `*` grant changed).

        Every other role is named by the same grants in both versions.
        """
        return None if WILDCARD in self.named_roles else self.named_roles | self.roles_added


def policy_change(old: CompiledPolicy, new: CompiledPolicy) -> PolicyChange:
    """The change from `old` to `new`."""
    a, b = old.policy, new.policy
    removed, added = _changed_meanings(old.grants, new.grants)
    grant_ids, named = _changed_ids(a, b)
    reclosed, moved_by_roles = _closure_moves(old.role_closure, new.role_closure)
    _, moved_by_users = _closure_moves(old.user_closure, new.user_closure)
    return PolicyChange(
        removed_grants=tuple(removed),
        added_grants=tuple(added),
        grant_ids=frozenset(grant_ids),
        named_roles=frozenset(named),
        roles_added=frozenset(b.roles.keys() - a.roles.keys()),
        roles_removed=frozenset(a.roles.keys() - b.roles.keys()),
        reclosed_roles=frozenset(reclosed),
        moved_roles=frozenset(moved_by_roles | moved_by_users),
        reassigned_users=frozenset(_reassigned(a, b)),
        classes_added=frozenset(b.classes.keys() - a.classes.keys()),
        classes_removed=frozenset(a.classes.keys() - b.classes.keys()),
        purposes_added=frozenset(b.purposes.keys() - a.purposes.keys()),
        purposes_removed=frozenset(a.purposes.keys() - b.purposes.keys()),
        actions_added=frozenset(set(b.actions) - set(a.actions)),
        actions_removed=frozenset(set(a.actions) - set(b.actions)),
        same_frame=_same_frame(a, b),
    )


def _same_frame(a: Policy, b: Policy) -> bool:
    """True when both versions declare the same ids, levels, class levels and rules."""
    return (
        a.levels == b.levels
        and a.rules == b.rules
        and a.purposes.keys() == b.purposes.keys()
        and set(a.actions) == set(b.actions)
        and {c: k.level for c, k in a.classes.items()} == {c: k.level for c, k in b.classes.items()}
    )


def _changed_meanings(
    old: tuple[Grant, ...], new: tuple[Grant, ...]
) -> tuple[list[Grant], list[Grant]]:
    """The grants whose signature is in one version more often than in the other.

    Grants equal at the same position in both versions have one signature and
    cancel out, so only the others are compared (a change usually leaves all
    but a few grants where they were).
    """
    same = [x == y for x, y in zip(old, new, strict=False)]
    same += [False] * (max(len(old), len(new)) - len(same))
    old_rest = [g for g, kept in zip(old, same, strict=False) if not kept]
    new_rest = [g for g, kept in zip(new, same, strict=False) if not kept]
    old_signatures = [grant_signature(g) for g in old_rest]
    new_signatures = [grant_signature(g) for g in new_rest]
    old_count, new_count = Counter(old_signatures), Counter(new_signatures)
    only_old = {s for s, n in old_count.items() if n > new_count.get(s, 0)}
    only_new = {s for s, n in new_count.items() if n > old_count.get(s, 0)}
    return (
        [g for g, s in zip(old_rest, old_signatures, strict=True) if s in only_old],
        [g for g, s in zip(new_rest, new_signatures, strict=True) if s in only_new],
    )


def _changed_ids(old: Policy, new: Policy) -> tuple[set[str], set[str]]:
    """The ids of grants whose meaning differs, and the roles the differing grants name.

    Grant ids are unique within a policy (the loader rejects a repeated one).
    """
    before = {g.id: g for g in old.grants}
    after = {g.id: g for g in new.grants}
    changed = {
        gid
        for gid in before.keys() | after.keys()
        if gid not in before
        or gid not in after
        or (
            before[gid] != after[gid]  # equal grants (location aside) mean the same; fast
            and grant_signature(before[gid]) != grant_signature(after[gid])
        )
    }
    named = {
        r for grants in (before, after) for g in map(grants.get, changed) if g for r in g.roles
    }
    return changed, named


def _closure_moves(
    old: Mapping[str, frozenset[str]], new: Mapping[str, frozenset[str]]
) -> tuple[set[str], set[str]]:
    """The subjects whose closure differs, and the roles that entered or left such a closure."""
    moved: set[str] = set()
    subjects: set[str] = set()
    empty: frozenset[str] = frozenset()
    for subject in old.keys() | new.keys():
        x, y = old.get(subject, empty), new.get(subject, empty)
        if x != y or (subject in old) != (subject in new):
            subjects.add(subject)
            moved |= x ^ y
    return subjects, moved


def _reassigned(old: Policy, new: Policy) -> set[str]:
    """The users declared in one version only, or whose set of assigned roles differs."""
    a, b = old.users, new.users
    return {
        uid
        for uid in a.keys() | b.keys()
        if uid not in a
        or uid not in b
        or (a[uid].roles != b[uid].roles and set(a[uid].roles) != set(b[uid].roles))
    }
