"""A reviewable YAML policy fragment of mined roles: roles, users' assignments, and grants.

From a pdp policy, each mined role gets allow grants that give exactly its
permissions. A grant on a class or purpose also covers its descendants, so a
permission is granted only where all of its descendants belong to the role too;
a permission that cannot be granted without also granting a descendant the
role lacks (the work of a deny in the source policy) is listed in a comment
instead, unless a deny on those descendants (scoped to the mined role) takes
nothing any of the role's users holds. From a plain UP file there are no pdp
permissions: each role's permissions are listed in a comment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import yaml

from pdp.analysis.mining.mine import MiningResult
from pdp.analysis.mining.relation import UserPermissions, natural_key
from pdp.core.compile import CompiledPolicy
from pdp.core.model import parent_of
from pdp.core.queries import descendants

Triple = tuple[str, str, str]
GrantParts = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def split_permission(name: str) -> Triple:
    """`class:purpose:action` back into its three parts."""
    info_class, purpose, action = name.split(":")
    return info_class, purpose, action


def grants_for(
    permissions: Iterable[Triple],
    protected: set[Triple],
    class_tree: dict[str, tuple[str, ...]],
    purpose_tree: dict[str, tuple[str, ...]],
) -> tuple[list[GrantParts], list[GrantParts], list[Triple]]:
    """Allow and deny grants giving exactly `permissions`, and what they cannot give.

    A permission whose descendants the role lacks is granted with denies on the
    missing descendants, but only where a deny takes nothing from `protected`
    (every permission of every user of the role: a deny reaches all of them).
    """
    held = set(permissions)

    def below(item: Triple) -> set[Triple]:
        c, p, a = item
        return {(sc, sp, a) for sc in class_tree[c] for sp in purpose_tree[p]}

    allows = {item for item in held if below(item) <= held}
    denies: set[Triple] = set()
    left = []
    for item in sorted(held - {x for a in allows for x in below(a)}):
        missing = below(item) - held
        deniable = {m for m in missing if not below(m) & protected}
        if {x for m in deniable for x in below(m)} >= missing:
            allows.add(item)
            denies |= deniable
        else:
            left.append(item)
    return _group(_tops(allows)), _group(_tops(denies)), left


def _tops(items: set[Triple]) -> set[Triple]:
    """The items neither of whose parents (by class or by purpose) is also an item."""
    return {
        (c, p, a)
        for c, p, a in items
        if (parent_of(c), p, a) not in items and (c, parent_of(p), a) not in items
    }


def _group(items: set[Triple]) -> list[GrantParts]:
    """Few (classes, purposes, actions) products whose union is exactly `items`."""
    actions: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c, p, a in items:
        actions[c, p].add(a)
    classes: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (c, p), acts in actions.items():
        classes[p, tuple(sorted(acts))].append(c)
    purposes: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (p, action_list), cs in classes.items():
        purposes[tuple(sorted(cs)), action_list].append(p)
    return sorted((cs, tuple(sorted(ps)), acts) for (cs, acts), ps in purposes.items())


def policy_fragment(
    result: MiningResult, relation: UserPermissions, compiled: CompiledPolicy, source: str
) -> str:
    """The YAML fragment of mined roles for a pdp policy: roles, users and grants."""
    policy = compiled.policy
    class_tree, purpose_tree = descendants(policy.classes), descendants(policy.purposes)
    lines = [
        f"# pdp mine: {len(result.roles)} roles mined from `{source}` ({compiled.version})",
        f"# they reproduce the held permissions of {result.users} users exactly (verified);",
        f"# the policy declares {len(policy.roles)} roles. Review before use: obligations of",
        "# the source grants are not carried over; a deny only ever takes from the users of",
        "# its role permissions none of them holds; separation-of-duty rules are not included.",
    ]
    grants: list[dict[str, object]] = []
    for role in result.roles:
        protected = {split_permission(p) for u in role.users for p in relation.assignments[u]}
        allows, denies, left = grants_for(
            (split_permission(p) for p in role.permissions), protected, class_tree, purpose_tree
        )
        prefix = role.id.upper().replace("_", "-")
        for number, (cs, ps, acts) in enumerate(allows, start=1):
            grants.append(_grant(f"{prefix}-{number:02d}", role.id, cs, ps, acts))
        for number, (cs, ps, acts) in enumerate(denies, start=1):
            grants.append(_grant(f"{prefix}-D{number:02d}", role.id, cs, ps, acts, deny=True))
        for c, p, a in left:
            lines.append(f"# not grantable without a deny: {role.id} holds `{c}:{p}:{a}`")
    document = {
        "roles": {r.id: {} for r in result.roles},
        "users": _users(result, policy.users),
        "grants": grants,
    }
    return "\n".join(lines) + "\n" + _dump(document)


def up_fragment(result: MiningResult, source: str) -> str:
    """The YAML fragment of mined roles for a UP file: roles, users, permissions as comments."""
    lines = [
        f"# pdp mine: {len(result.roles)} roles mined from `{source}`, reproducing the",
        f"# permissions of {result.users} users exactly (verified). The permissions are not",
        "# pdp (class, purpose, action) permissions, so no grants: each role lists them above it.",
        "roles:",
    ]
    for role in result.roles:
        lines.append(f"  # {role.id}: {', '.join(role.permissions)}")
        lines.append(f"  {role.id}: {{}}")
    return "\n".join(lines) + "\n" + _dump({"users": _users(result, ())})


def _grant(
    grant_id: str,
    role: str,
    classes: tuple[str, ...],
    purposes: tuple[str, ...],
    actions: tuple[str, ...],
    *,
    deny: bool = False,
) -> dict[str, object]:
    grant: dict[str, object] = {"id": grant_id, "roles": [role]}
    if deny:
        grant["effect"] = "deny"
    grant.update(classes=list(classes), purposes=list(purposes), actions=list(actions))
    return grant


def _users(result: MiningResult, declared: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    roles_of: dict[str, list[str]] = {u: [] for u in declared}
    for role in result.roles:
        for user in role.users:
            roles_of.setdefault(user, []).append(role.id)
    return {u: {"roles": roles_of[u]} for u in sorted(roles_of, key=natural_key)}


def _dump(document: dict[str, object]) -> str:
    return yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
