"""The semantic checks of a policy: references, parents, levels, sensitivity, cycles, ids."""

from __future__ import annotations

from dataclasses import replace

from pdp.core.model import (
    DEFAULT_TIMEZONE,
    WILDCARD,
    Grant,
    InfoClass,
    Policy,
    Role,
    SodRule,
    ancestors_of,
)
from pdp.core.parse import Parsed
from pdp.errors import Location, Problem

RESERVED_REASONS = frozenset(
    {
        "default_deny",
        "error",
        "consent_required",
        # version 2
        "user_disabled",
        "mfa_required",
        "ticket_required",
        "approval_required",
        "relationship_required",
        "bulk_limit_exceeded",
        "outside_hours",
        "separate_consent_required",
        "audit_unavailable",
    }
)
"""Diagnostic codes a decision gives as reasons: no grant may take one as its id."""
RESERVED_PREFIXES = ("unknown_", "invalid_")

_KIND_SECTION = {
    "role": "roles",
    "class": "classes",
    "purpose": "purposes",
    "action": "actions",
    "level": "levels",
    "relationship": "relationships",
}


def _declared(
    parsed: Parsed,
    levels: tuple[str, ...],
    actions: tuple[str, ...],
    relationships: tuple[str, ...],
) -> dict[str, set[str]]:
    return {
        "role": set(parsed.roles),
        "class": set(parsed.classes),
        "purpose": set(parsed.purposes),
        "action": set(actions),
        "level": set(levels),
        "relationship": set(relationships),
    }


def _check_refs(parsed: Parsed, declared: dict[str, set[str]]) -> list[Problem]:
    problems = []
    for ref in parsed.refs:
        known = declared[ref.kind]
        if known.issuperset(ref.values):
            continue
        for position, value in enumerate(ref.values):
            if value == WILDCARD:
                if not ref.wildcard_ok:
                    problems.append(
                        Problem(
                            "invalid_wildcard",
                            f"`*` is not allowed in {ref.context}",
                            ref.location(position),
                            id=value,
                            hint=f"list the {_KIND_SECTION[ref.kind]} by name",
                        )
                    )
            elif value not in known:
                problems.append(
                    Problem(
                        f"undeclared_{ref.kind}",
                        f"{ref.kind} `{value}` in {ref.context} is not declared",
                        ref.location(position),
                        id=value,
                        hint=f"declare it under `{_KIND_SECTION[ref.kind]}` or fix the spelling",
                    )
                )
    return problems


def _check_parents(kind: str, ids: dict[str, Location]) -> list[Problem]:
    problems = []
    for item, where in ids.items():
        parent, sep, _ = item.rpartition(".")
        if sep and parent not in ids:
            problems.append(
                Problem(
                    "undeclared_parent",
                    f"{kind} `{item}` has no declared parent `{parent}`",
                    where,
                    id=item,
                    hint=f"declare `{parent}` too",
                )
            )
    return problems


def _resolve_levels(
    parsed: Parsed, levels: tuple[str, ...]
) -> tuple[dict[str, InfoClass], list[Problem]]:
    """Give every class its level: its own, else its parent's; a top class must have one."""
    problems = []
    resolved: dict[str, InfoClass] = {}
    for cid in sorted(parsed.classes, key=lambda c: c.count(".")):
        klass = parsed.classes[cid]
        level = parsed.class_levels.get(cid)
        if level is None:
            parent = resolved.get(klass.parent or "")
            if parent is None:
                if klass.parent is None:
                    problems.append(
                        Problem(
                            "missing_level",
                            f"top-level class `{cid}` has no `level`",
                            klass.location,
                            id=cid,
                            hint="add `level: " + (levels[0] if levels else "C1") + "` or higher",
                        )
                    )
                level = levels[0] if levels else ""
            else:
                level = parent.level
        resolved[cid] = replace(klass, level=level)
    return resolved, problems


def _resolve_sensitive(classes: dict[str, InfoClass], declared: dict[str, bool]) -> list[Problem]:
    """Mark sensitive every class declared so and every descendant; a descendant may not undo it.

    Changes `classes` in place (parents are resolved before their children).
    """
    problems = []
    for cid in sorted(classes, key=lambda c: c.count(".")):
        klass = classes[cid]
        inherited = klass.parent is not None and classes[klass.parent].sensitive
        if inherited and declared.get(cid) is False:
            problems.append(
                Problem(
                    "sensitive_lowered",
                    f"class `{cid}` says `sensitive: false` under a sensitive ancestor",
                    klass.location,
                    id=cid,
                    hint="sensitivity is inherited by descendants; remove `sensitive: false`",
                )
            )
        if inherited or declared.get(cid, False):
            classes[cid] = replace(klass, sensitive=True)
    return problems


def _check_separate_consent(parsed: Parsed) -> list[Problem]:
    """`consent: separate` only where the purpose or an ancestor has `legal_basis: consent`."""
    problems = []
    for pid, purpose in parsed.purposes.items():
        if purpose.consent is None:
            continue
        chain = [a for a in ancestors_of(pid) if a in parsed.purposes]
        if not any(parsed.purposes[a].legal_basis == "consent" for a in chain):
            problems.append(
                Problem(
                    "consent_without_basis",
                    f"purpose `{pid}` asks for separate consent but does not need consent",
                    purpose.location,
                    id=pid,
                    hint="give it (or an ancestor) `legal_basis: consent`",
                )
            )
    return problems


def find_cycles(roles: dict[str, Role]) -> list[list[str]]:
    """Every inheritance cycle, each as the list of roles around it, found once."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []
    for start in sorted(roles):
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            parents = [p for p in roles[node].inherits if p in roles]
            if index < len(parents):
                stack.append((node, index + 1))
                nxt = parents[index]
                if state.get(nxt) == 1:
                    cycles.append([*path[path.index(nxt) :], nxt])
                elif not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return cycles


def _check_unique_ids(parsed: Parsed) -> list[Problem]:
    problems = []
    seen: dict[str, Location] = {}
    items: list[Grant | SodRule] = [*parsed.grants, *parsed.rules]
    for item in items:
        if item.id in seen:
            problems.append(
                Problem(
                    "duplicate_id",
                    f"id `{item.id}` is used twice",
                    item.location,
                    id=item.id,
                    hint=f"first used at {seen[item.id]}; grant and rule ids must be unique",
                )
            )
        else:
            seen[item.id] = item.location
    for grant in parsed.grants:
        if grant.id in RESERVED_REASONS or grant.id.startswith(RESERVED_PREFIXES):
            problems.append(
                Problem(
                    "reserved_id",
                    f"grant id `{grant.id}` is a reserved diagnostic code",
                    grant.location,
                    id=grant.id,
                    hint="decisions give it as a reason: name the grant otherwise",
                )
            )
    for uid, user in parsed.users.items():
        if uid in parsed.roles:
            problems.append(
                Problem(
                    "id_collision",
                    f"user `{uid}` has the same id as a role",
                    user.location,
                    id=uid,
                    hint="user and role ids share one namespace (they are casbin subjects)",
                )
            )
    return problems


def validate(parsed: Parsed) -> tuple[Policy, list[Problem]]:
    """Check the cross-references of a parsed policy and build the `Policy`."""
    problems: list[Problem] = []
    levels = tuple(v for v, _ in parsed.levels) if parsed.levels is not None else ("C1", "C2", "C3")
    if parsed.actions is None:
        problems.append(
            Problem(
                "missing_key",
                "the policy declares no `actions`",
                Location(next(iter(parsed.section_files.values()), "")),
                id="actions",
                hint="add `actions: [collect, store, transmit, use, process, "
                "disclose, archive, destroy]`",
            )
        )
        actions: tuple[str, ...] = ()
    else:
        actions = tuple(dict.fromkeys(v for v, _ in parsed.actions))
    relationships = tuple(dict.fromkeys(v for v, _ in parsed.relationships or ()))
    problems += _check_refs(parsed, _declared(parsed, levels, actions, relationships))
    problems += _check_parents("class", {k: v.location for k, v in parsed.classes.items()})
    problems += _check_parents("purpose", {k: v.location for k, v in parsed.purposes.items()})
    classes, level_problems = _resolve_levels(parsed, levels)
    problems += level_problems
    if parsed.class_sensitive:
        problems += _resolve_sensitive(classes, parsed.class_sensitive)
    problems += _check_separate_consent(parsed)
    for cycle in find_cycles(parsed.roles):
        problems.append(
            Problem(
                "inheritance_cycle",
                "roles inherit in a cycle: " + " -> ".join(f"`{r}`" for r in cycle),
                parsed.roles[cycle[0]].location,
                id=cycle[0],
                hint="remove one `inherits` link of the cycle",
            )
        )
    problems += _check_unique_ids(parsed)
    policy = Policy(
        actions=actions,
        levels=levels,
        classes=classes,
        purposes=dict(parsed.purposes),
        roles=dict(parsed.roles),
        users=dict(parsed.users),
        grants=tuple(parsed.grants),
        rules=tuple(parsed.rules),
        version=parsed.version,
        timezone=parsed.timezone or DEFAULT_TIMEZONE,
        relationships=relationships,
    )
    return policy, problems
