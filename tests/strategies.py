"""Hypothesis strategies: random valid pdp policies (as dict or YAML text) and random queries.

Policies have roles with random acyclic inheritance, class and purpose trees
1-4 deep, purposes needing consent, grants with `*` in any field, allow and
deny grants at every level of the trees and of inheritance, users with 0-3
roles, and obligations. Queries mix declared and unknown ids and consent
contexts.

Version-2 policies (`policies(version=2)`) add a timezone, relationships,
sensitive classes, separate-consent purposes, conditions (`when`) and
break-glass on allow grants, windows on grants and on role assignments, and
disabled users; their queries (`queries_v2`) carry every context key, some
invalid, and times on and around the edges of the windows and hours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from hypothesis import strategies as st

ACTIONS = ["read", "use", "disclose", "destroy"]
OBLIGATIONS = ["mask", "mfa", "dual_control", "log"]
WILDCARD = "*"


@st.composite
def dotted_tree(draw: st.DrawFn, prefix: str, max_size: int = 7) -> list[str]:
    """Dotted ids of a tree at most 4 deep: each new id is a root or a child of an earlier one."""
    size = draw(st.integers(1, max_size))
    ids: list[str] = []
    for n in range(size):
        parents = [i for i in ids if i.count(".") < 3]
        parent = draw(st.sampled_from([None, *parents])) if parents else None
        ids.append(f"{prefix}{n}" if parent is None else f"{parent}.{prefix}{n}")
    return ids


def _field(draw: st.DrawFn, ids: list[str], max_size: int = 2) -> list[str]:
    if draw(st.integers(0, 9)) == 0:
        return [WILDCARD]
    return draw(st.lists(st.sampled_from(ids), min_size=1, max_size=max_size, unique=True))


@st.composite
def policies(
    draw: st.DrawFn,
    max_roles: int = 6,
    max_grants: int = 10,
    deny_ratio: int = 4,
    version: int = 1,
) -> dict[str, Any]:
    """A valid policy as the plain data of the YAML format (version 1, or 2 with its keys)."""
    classes = draw(dotted_tree("c"))
    purposes = draw(dotted_tree("p"))
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4, unique=True))
    role_count = draw(st.integers(1, max_roles))
    roles = [f"r{i}" for i in range(role_count)]
    role_table: dict[str, Any] = {}
    for i, rid in enumerate(roles):
        inherits = draw(st.lists(st.sampled_from(roles[:i]), max_size=2, unique=True)) if i else []
        entry: dict[str, Any] = {}
        if inherits:
            entry["inherits"] = inherits
        if draw(st.booleans()):
            entry["duties"] = draw(st.lists(st.sampled_from(purposes), max_size=2, unique=True))
        role_table[rid] = entry
    purpose_table: dict[str, Any] = {}
    for pid in purposes:
        basis = draw(st.sampled_from([None, "consent", "contract", "legal_obligation", "other"]))
        purpose_table[pid] = {} if basis is None else {"legal_basis": basis}
    class_table: dict[str, Any] = {}
    for cid in classes:
        if "." not in cid or draw(st.booleans()):
            class_table[cid] = {"level": draw(st.sampled_from(["C1", "C2", "C3"]))}
        else:
            class_table[cid] = {}
    grants = []
    for n in range(draw(st.integers(0, max_grants))):
        grant: dict[str, Any] = {}
        if draw(st.booleans()):
            grant["id"] = f"g{n}"
        if draw(st.integers(0, deny_ratio)) == 0:
            grant["effect"] = "deny"
        grant["roles"] = _field(draw, roles)
        grant["classes"] = _field(draw, classes)
        grant["purposes"] = _field(draw, purposes)
        grant["actions"] = _field(draw, actions)
        if draw(st.booleans()):
            grant["obligations"] = draw(
                st.lists(st.sampled_from(OBLIGATIONS), min_size=1, max_size=2, unique=True)
            )
        grants.append(grant)
    users = {
        f"u{i}": {"roles": draw(st.lists(st.sampled_from(roles), max_size=3, unique=True))}
        for i in range(draw(st.integers(0, 3)))
    }
    policy: dict[str, Any] = {
        "version": 1,
        "actions": actions,
        "classes": class_table,
        "purposes": purpose_table,
        "roles": role_table,
        "grants": grants,
    }
    if users:
        policy["users"] = users
    if version == 2:
        add_version_2(draw, policy)
    return policy


def policy_texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """A valid policy as YAML text."""
    return policies(**kwargs).map(to_yaml)


def to_yaml(policy: dict[str, Any]) -> str:
    """The YAML text of a policy dict, keys in the order given."""
    return str(yaml.safe_dump(policy, sort_keys=False))


@st.composite
def queries(draw: st.DrawFn, policy: dict[str, Any]) -> dict[str, Any]:
    """A request for `policy`: mostly declared ids, sometimes unknown ones, random consent."""

    def pick(ids: list[str], unknown: str) -> str:
        if not ids or draw(st.integers(0, 9)) == 5:
            return unknown
        return draw(st.sampled_from(ids))

    users = list(policy.get("users", {}))
    kind = "user" if users and draw(st.booleans()) else "role"
    subject = pick(users if kind == "user" else list(policy["roles"]), f"no_{kind}")
    purposes = list(policy["purposes"])
    consent = draw(st.lists(st.sampled_from([*purposes, "nowhere"]), max_size=2))
    return {
        kind: subject,
        "info_class": pick(list(policy["classes"]), "no_class"),
        "purpose": pick(purposes, "no_purpose"),
        "action": pick(list(policy["actions"]), "no_action"),
        "context": {"consent": consent},
    }


@st.composite
def policy_and_queries(
    draw: st.DrawFn, count: int = 25, version: int = 1
) -> tuple[dict[str, Any], list[Any]]:
    """A policy and a list of requests for it (version 2: with `queries_v2`)."""
    policy = draw(policies(version=version))
    ask = queries if version == 1 else queries_v2
    return policy, [draw(ask(policy)) for _ in range(count)]


# Version 2. Times cluster on three days around the 2026 spring DST change in
# Europe, at a few clocks that are also the edges of `hours`, so requests land
# on, just before and just after the edges of windows and hours.
TIMEZONES = ["UTC", "Asia/Shanghai", "Europe/London", "America/New_York"]
RELATIONSHIPS = ["own_customer", "own_branch"]
DAYS = [dt.date(2026, 3, 28), dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
CLOCKS = ["00:00", "01:30", "08:00", "12:00", "20:00", "23:30"]
OFFSETS = ["+00:00", "+01:00", "+08:00", "-04:00", "-05:00"]
NUDGES = [dt.timedelta(0), dt.timedelta(seconds=-1), dt.timedelta(seconds=1)]
INVALID_CONTEXTS: list[dict[str, Any]] = [
    {"consent": "p0"},
    {"mfa": "yes"},
    {"ticket": ""},
    {"approver": 5},
    {"relationship": "stranger"},
    {"records": 0},
    {"records": True},
    {"records": "3"},
    {"time": "2026-03-29"},
    {"time": "2026-03-29T08:00:00"},
    {"time": "yesterday"},
    {"customer": 7},
    {"colour": "red"},
]


def _instant(draw: st.DrawFn) -> dt.datetime:
    """An aware instant on one of `DAYS` at one of `CLOCKS`, nudged by a second or not."""
    day = draw(st.sampled_from(DAYS))
    hour, minute = (int(x) for x in draw(st.sampled_from(CLOCKS)).split(":"))
    offset = dt.datetime.strptime(draw(st.sampled_from(OFFSETS)), "%z").tzinfo
    start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=offset)
    return start + draw(st.sampled_from(NUDGES))


def _bound(draw: st.DrawFn) -> Any:
    """A `valid_from`/`valid_until` value: a date (YAML or text) or a date-time with offset."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.sampled_from(DAYS))
    if kind == 1:
        return draw(st.sampled_from(DAYS)).isoformat()
    return _instant(draw).isoformat()


def _start(value: Any) -> dt.datetime:
    """Where a window bound lies in time, to keep `valid_from` before `valid_until`."""
    if isinstance(value, str) and "T" in value:
        return dt.datetime.fromisoformat(value)
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _window(draw: st.DrawFn, item: dict[str, Any]) -> None:
    """Give an item (grant or assignment) a window open at one end, or closed."""
    shape = draw(st.integers(1, 3))
    if shape == 1:
        item["valid_from"] = _bound(draw)
    elif shape == 2:
        item["valid_until"] = _bound(draw)
    elif shape == 3:
        first, second = _bound(draw), _bound(draw)
        if _start(first) < _start(second):
            item["valid_from"], item["valid_until"] = first, second


def _conditions(draw: st.DrawFn, relationships: list[str]) -> dict[str, Any]:
    """A `when`: a random subset of the requirements."""
    when: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(["mfa", "ticket", "approver"]), unique=True)):
        when[key] = True
    if relationships and draw(st.booleans()):
        when["relationship"] = draw(
            st.lists(st.sampled_from(relationships), min_size=1, unique=True)
        )
    if draw(st.booleans()):
        when["max_records"] = draw(st.sampled_from([1, 10, 50]))
    if draw(st.booleans()):
        start, end = draw(st.lists(st.sampled_from(CLOCKS), min_size=2, max_size=2, unique=True))
        when["hours"] = f"{start}-{end}"
    return when


def _needs_consent(purposes: dict[str, Any], pid: str) -> bool:
    return any(
        (pid == other or pid.startswith(other + ".")) and entry.get("legal_basis") == "consent"
        for other, entry in purposes.items()
    )


def add_version_2(draw: st.DrawFn, policy: dict[str, Any]) -> None:
    """Turn a version-1 policy dict into a version-2 one, drawing each new key at random."""
    policy["version"] = 2
    if draw(st.booleans()):
        policy["timezone"] = draw(st.sampled_from(TIMEZONES))
    relationships = draw(st.lists(st.sampled_from(RELATIONSHIPS), unique=True))
    if relationships:
        policy["relationships"] = relationships
    for entry in policy["classes"].values():
        if draw(st.integers(0, 3)) == 0:
            entry["sensitive"] = True
    purposes = policy["purposes"]
    for entry in purposes.values():
        if draw(st.integers(0, 2)) == 1:
            entry["legal_basis"] = "consent"
    for pid, entry in purposes.items():
        if _needs_consent(purposes, pid) and draw(st.integers(0, 2)) == 0:
            entry["consent"] = "separate"
    for grant in policy["grants"]:
        if grant.get("effect") != "deny":
            when = _conditions(draw, relationships) if draw(st.booleans()) else {}
            if when:
                grant["when"] = when
            if draw(st.integers(0, 4)) == 0:
                grant["break_glass"] = True
        if draw(st.integers(0, 2)) == 0:
            _window(draw, grant)
    if not policy.get("users"):
        roles = list(policy["roles"])
        policy["users"] = {"u9": {"roles": draw(st.lists(st.sampled_from(roles), unique=True))}}
    for user in policy["users"].values():
        if draw(st.integers(0, 5)) == 0:
            user["disabled"] = True
        assigned: list[Any] = []
        for role in user["roles"]:
            assignment: dict[str, Any] = {"role": role}
            if draw(st.integers(0, 2)) == 0:
                _window(draw, assignment)
            assigned.append(assignment if len(assignment) > 1 else role)
        user["roles"] = assigned


def _edges(policy: dict[str, Any]) -> list[dt.datetime]:
    """The instants where the windows of a policy's grants and assignments open or close."""
    items = list(policy["grants"])
    for user in policy.get("users", {}).values():
        items += [a for a in user["roles"] if isinstance(a, dict)]
    edges = []
    for item in items:
        for key in ("valid_from", "valid_until"):
            if key in item:
                edge = _start(item[key])
                whole_day = not (isinstance(item[key], str) and "T" in item[key])
                edges.append(
                    edge + dt.timedelta(days=1) if key == "valid_until" and whole_day else edge
                )
    return sorted(edges)


@st.composite
def edge_times(draw: st.DrawFn, policy: dict[str, Any]) -> dt.datetime:
    """A time on, or a second before, the edge of one of the policy's windows (else any)."""
    edges = _edges(policy)
    if not edges:
        return _instant(draw)
    return draw(st.sampled_from(edges)) + draw(st.sampled_from(NUDGES[:2]))


def _valid_context(draw: st.DrawFn, policy: dict[str, Any]) -> dict[str, Any]:
    purposes = list(policy["purposes"])
    users = list(policy.get("users", {}))
    values: dict[str, Any] = {
        "consent": st.lists(st.sampled_from([*purposes, "nowhere"]), max_size=3),
        "mfa": st.booleans(),
        "ticket": st.just("INC-1"),
        "approver": st.sampled_from([*users, "u-second"]),
        "records": st.sampled_from([1, 10, 11, 50, 51]),
        "customer": st.just("cust-1"),
    }
    if policy.get("relationships"):
        values["relationship"] = st.sampled_from(policy["relationships"])
    context = {key: draw(value) for key, value in values.items() if draw(st.booleans())}
    if draw(st.integers(0, 9)):
        moment = draw(edge_times(policy)) if draw(st.booleans()) else _instant(draw)
        text = moment.isoformat()
        context["time"] = text.replace("+00:00", "Z") if draw(st.booleans()) else text
    return context


def _holders(policy: dict[str, Any], roles: list[str]) -> list[tuple[str, str]]:
    """The subjects (kind, id) that hold one of `roles` directly: the roles and their users."""
    named = list(policy["roles"]) if WILDCARD in roles else roles
    users = [
        ("user", uid)
        for uid, user in policy.get("users", {}).items()
        for entry in user["roles"]
        if (entry if isinstance(entry, str) else entry["role"]) in named
    ]
    return [("role", r) for r in named] + users


def _aim(draw: st.DrawFn, policy: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    """Aim a query at an allow grant: a subject, class, purpose and action it names."""
    allows = [g for g in policy["grants"] if g.get("effect") != "deny"]
    if not allows:
        return {}
    grant = draw(st.sampled_from(allows))
    holders = _holders(policy, grant["roles"])
    users = [h for h in holders if h[0] == "user"]
    kind, subject = draw(st.sampled_from(users if users and draw(st.booleans()) else holders))
    query.pop("role", None)
    query.pop("user", None)
    query[kind] = subject
    for key, field in (("info_class", "classes"), ("purpose", "purposes")):
        named = draw(st.sampled_from(grant[field]))
        below = [i for i in policy[field] if named in (WILDCARD, i) or i.startswith(named + ".")]
        query[key] = draw(st.sampled_from(sorted(below)))
    named_action = draw(st.sampled_from(grant["actions"]))
    query["action"] = (
        draw(st.sampled_from(policy["actions"])) if named_action == WILDCARD else named_action
    )
    return dict(grant.get("when", {}))


def _meet(draw: st.DrawFn, when: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    """Context facts that meet a `when` (hours aside) but for the approver, perhaps, and consent."""
    facts: dict[str, Any] = {"mfa": True, "ticket": "INC-2", "records": 1}
    facts["approver"] = query.get("user", "u-second") if draw(st.booleans()) else "u-second"
    parts = query["purpose"].split(".")
    facts["consent"] = [".".join(parts[: draw(st.integers(1, len(parts)))])]
    if when.get("relationship"):
        facts["relationship"] = draw(st.sampled_from(when["relationship"]))
    return facts


@st.composite
def queries_v2(draw: st.DrawFn, policy: dict[str, Any]) -> dict[str, Any]:
    """A version-1 query for `policy` with a version-2 context: mostly valid, sometimes not.

    Half of them are aimed at an allow grant; half of those carry the facts its
    conditions ask for, so that conditions, windows and consent decide.
    """
    query = draw(queries(policy))
    when = _aim(draw, policy, query) if draw(st.booleans()) else None
    context = _valid_context(draw, policy)
    if when is not None and draw(st.booleans()):
        context.update(_meet(draw, when, query))
    if "consent" in context and draw(st.booleans()):  # name the purpose or one of its ancestors
        parts = query["purpose"].split(".")
        context["consent"].append(".".join(parts[: draw(st.integers(1, len(parts)))]))
    if draw(st.integers(0, 14)) == 7:
        context.update(draw(st.sampled_from(INVALID_CONTEXTS)))
    query["context"] = context
    return query
