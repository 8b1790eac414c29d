"""Small random policies and mutations of them, for the diff's brute-force comparison."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import check_texts

CLASSES = ["a", "a.x", "a.x.deep", "a.y", "b", "b.z", "c"]
PURPOSES = ["p", "p.q", "p.r", "s", "t"]
ACTIONS = ["use", "disclose", "store"]
ROLES = ["r0", "r1", "r2", "r3", "r4"]
USERS = ["u0", "u1", "u2"]
OBLIGATIONS = ["mask", "mfa"]


def _closed(ids: list[str]) -> list[str]:
    """Only the ids whose parents are present too."""
    kept: list[str] = []
    for item in sorted(ids):
        parent = item.rpartition(".")[0]
        if not parent or parent in kept:
            kept.append(item)
    return kept


def sanitize(policy: dict[str, Any]) -> dict[str, Any]:
    """Drop references to undeclared ids (and grants left naming nothing)."""
    classes = set(policy["classes"])
    purposes = set(policy["purposes"])
    roles = set(policy["roles"])
    actions = set(policy["actions"])
    for role in policy["roles"].values():
        role["inherits"] = [r for r in role["inherits"] if r in roles]
        if "duties" in role:
            role["duties"] = [p for p in role["duties"] if p in purposes]
    for user in policy["users"].values():
        user["roles"] = [r for r in user["roles"] if r in roles]
    grants = []
    for grant in policy["grants"]:
        for name, known in (
            ("roles", roles),
            ("classes", classes),
            ("purposes", purposes),
            ("actions", actions),
        ):
            grant[name] = [v for v in grant[name] if v == "*" or v in known]
        if all(grant[n] for n in ("roles", "classes", "purposes", "actions")):
            grants.append(grant)
    policy["grants"] = grants
    rules = []
    for rule in policy.get("separation_of_duties", []):
        if "roles" in rule:
            rule["roles"] = [r for r in rule["roles"] if r in roles]
            if len(rule["roles"]) > rule["max"]:
                rules.append(rule)
            continue
        for pattern in rule["permissions"]:
            pattern["classes"] = [c for c in pattern["classes"] if c in classes]
            pattern["actions"] = [a for a in pattern["actions"] if a in actions]
        if all(p["classes"] and p["actions"] for p in rule["permissions"]):
            rules.append(rule)
    policy["separation_of_duties"] = rules
    return policy


def _some(draw: st.DrawFn, pool: list[str], wildcard: bool = True) -> list[str]:
    options = [*pool, "*"] if wildcard else pool
    return draw(st.lists(st.sampled_from(options), min_size=1, max_size=2, unique=True))


def _grant(draw: st.DrawFn, policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "effect": draw(st.sampled_from(["allow", "allow", "deny"])),
        "roles": _some(draw, sorted(policy["roles"])),
        "classes": _some(draw, sorted(policy["classes"])),
        "purposes": _some(draw, sorted(policy["purposes"])),
        "actions": _some(draw, list(policy["actions"])),
        "obligations": draw(st.lists(st.sampled_from(OBLIGATIONS), max_size=2, unique=True)),
    }


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid policy as plain data."""
    classes = _closed(draw(st.lists(st.sampled_from(CLASSES), min_size=1, unique=True)))
    purposes = _closed(draw(st.lists(st.sampled_from(PURPOSES), min_size=1, unique=True)))
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=1, unique=True))
    n_roles = draw(st.integers(1, len(ROLES)))
    roles = {}
    for i, rid in enumerate(ROLES[:n_roles]):
        roles[rid] = {
            "inherits": draw(st.lists(st.sampled_from(ROLES[:i] or [rid]), max_size=2, unique=True))
            if i
            else []
        }
        if purposes and draw(st.booleans()):
            roles[rid]["duties"] = draw(
                st.lists(st.sampled_from(purposes), max_size=2, unique=True)
            )
    users = {
        uid: {"roles": draw(st.lists(st.sampled_from(sorted(roles)), max_size=2, unique=True))}
        for uid in USERS[: draw(st.integers(0, len(USERS)))]
    }
    policy: dict[str, Any] = {
        "version": 1,
        "actions": actions,
        "classes": {c: {"level": draw(st.sampled_from(["C1", "C2", "C3"]))} for c in classes},
        "purposes": {p: {} for p in purposes},
        "roles": roles,
        "users": users,
        "grants": [],
    }
    policy["grants"] = [_grant(draw, policy) for _ in range(draw(st.integers(0, 6)))]
    policy["separation_of_duties"] = [
        _rule(draw, policy, f"R{i}") for i in range(draw(st.integers(0, 3)))
    ]
    return sanitize(policy)


def _rule(draw: st.DrawFn, policy: dict[str, Any], rid: str) -> dict[str, Any]:
    """A separation-of-duty rule over roles, or a toxic combination of two patterns."""
    severity = draw(st.sampled_from(["low", "high", "critical"]))
    if not policy["classes"] or draw(st.booleans()):
        return {"id": rid, "roles": sorted(ROLES[:3]), "max": 1, "severity": severity}
    return {
        "id": rid,
        "permissions": [
            {
                "classes": _some(draw, sorted(policy["classes"]), wildcard=False),
                "actions": _some(draw, list(policy["actions"]), wildcard=False),
            }
            for _ in range(2)
        ],
        "severity": severity,
    }


MUTATIONS = [
    "add_grant",
    "drop_grant",
    "flip_effect",
    "widen_class",
    "wildcard",
    "obligations",
    "inherit",
    "uninherit",
    "add_role",
    "drop_role",
    "user_roles",
    "drop_user",
    "add_class",
    "drop_class",
    "add_purpose",
    "drop_purpose",
    "add_action",
    "drop_action",
    "add_rule",
    "drop_rule",
    "duties",
    "level",
]


def _mutate(draw: st.DrawFn, policy: dict[str, Any], kind: str) -> None:
    grants = policy["grants"]
    if kind == "add_grant":
        grants.append(_grant(draw, policy))
    elif kind in ("drop_grant", "flip_effect", "widen_class", "wildcard", "obligations") and grants:
        i = draw(st.integers(0, len(grants) - 1))
        g = grants[i]
        if kind == "drop_grant":
            grants.pop(i)
        elif kind == "flip_effect":
            g["effect"] = "deny" if g["effect"] == "allow" else "allow"
        elif kind == "widen_class":
            g["classes"] = sorted({c.split(".")[0] if c != "*" else c for c in g["classes"]})
        elif kind == "wildcard":
            g[draw(st.sampled_from(["roles", "classes", "purposes", "actions"]))] = ["*"]
        else:
            g["obligations"] = draw(st.lists(st.sampled_from(OBLIGATIONS), max_size=2, unique=True))
    elif kind in ("inherit", "uninherit"):
        rid = draw(st.sampled_from(sorted(policy["roles"])))
        earlier = [r for r in sorted(policy["roles"]) if r < rid]
        if kind == "inherit" and earlier:
            policy["roles"][rid]["inherits"] = sorted(
                {*policy["roles"][rid]["inherits"], draw(st.sampled_from(earlier))}
            )
        else:
            policy["roles"][rid]["inherits"] = []
    elif kind == "add_role":
        free = [r for r in ROLES if r not in policy["roles"]]
        if free:
            rid = free[0]
            for role in policy["roles"].values():  # a new role has no heirs (a dropped one did)
                role["inherits"] = [r for r in role["inherits"] if r != rid]
            policy["roles"][rid] = {
                "inherits": draw(st.lists(st.sampled_from(sorted(policy["roles"])), max_size=1))
            }
    elif kind == "drop_role" and len(policy["roles"]) > 1:
        policy["roles"].pop(draw(st.sampled_from(sorted(policy["roles"]))))
    elif kind == "user_roles":
        uid = draw(st.sampled_from(USERS))
        policy["users"][uid] = {
            "roles": draw(
                st.lists(st.sampled_from(sorted(policy["roles"])), max_size=2, unique=True)
            )
        }
    elif kind == "drop_user" and policy["users"]:
        policy["users"].pop(draw(st.sampled_from(sorted(policy["users"]))))
    elif kind in ("add_class", "add_purpose"):
        tree, pool = ("classes", CLASSES) if kind == "add_class" else ("purposes", PURPOSES)
        missing = [i for i in pool if i not in policy[tree]]
        if missing:
            new = _closed([*policy[tree], draw(st.sampled_from(missing))])
            policy[tree] = {
                i: policy[tree].get(i, {"level": "C3"} if tree == "classes" else {}) for i in new
            }
    elif kind in ("drop_class", "drop_purpose"):
        tree = "classes" if kind == "drop_class" else "purposes"
        if len(policy[tree]) > 1:
            victim = draw(st.sampled_from(sorted(policy[tree])))
            kept = [i for i in policy[tree] if i != victim and not i.startswith(victim + ".")]
            if kept:
                policy[tree] = {i: policy[tree][i] for i in kept}
    elif kind == "add_action":
        missing = [a for a in ACTIONS if a not in policy["actions"]]
        if missing:
            policy["actions"].append(missing[0])
    elif kind == "drop_action" and len(policy["actions"]) > 1:
        policy["actions"].pop()
    elif kind == "add_rule":
        rules = policy["separation_of_duties"]
        taken = {r["id"] for r in rules}
        rules.append(_rule(draw, policy, next(f"R{n}" for n in range(9) if f"R{n}" not in taken)))
    elif kind == "drop_rule" and policy["separation_of_duties"]:
        policy["separation_of_duties"].pop(0)
    elif kind == "duties" and policy["purposes"]:
        rid = draw(st.sampled_from(sorted(policy["roles"])))
        policy["roles"][rid]["duties"] = draw(
            st.lists(st.sampled_from(sorted(policy["purposes"])), max_size=2, unique=True)
        )
    elif kind == "level" and policy["classes"]:
        cid = draw(st.sampled_from(sorted(policy["classes"])))
        policy["classes"][cid] = {"level": draw(st.sampled_from(["C1", "C2", "C3"]))}


@st.composite
def policy_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A policy and a version of it changed by one to three mutations."""
    old = draw(policies())
    new = copy.deepcopy(old)
    for kind in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        _mutate(draw, new, kind)
    return old, sanitize(new)


def compiled(data: dict[str, Any], name: str = "policy.yaml") -> CompiledPolicy:
    """Compile a plain-data policy through the real loader."""
    result = check_texts([(name, yaml.safe_dump(data, sort_keys=False))])
    assert result.policy is not None, result.problems
    return compile_policy(result.policy)


def brute_force(
    old: CompiledPolicy, new: CompiledPolicy, kind: str = "role"
) -> tuple[set[tuple[str, str, str, str]], set[tuple[str, str, str, str]]]:
    """Added and removed (subject, class, purpose, action), deciding every declared id of both."""

    def held(c: CompiledPolicy, subject: str, key: tuple[str, str, str]) -> bool:
        closure = c.closure_of(kind, subject)  # type: ignore[arg-type]
        if closure is None or key[0] not in c.class_ancestors:
            return False
        if key[1] not in c.purpose_ancestors or key[2] not in c.actions:
            return False
        return c.held(closure, *key).held

    subjects = (
        old.role_closure.keys() | new.role_closure.keys()
        if kind == "role"
        else old.user_closure.keys() | new.user_closure.keys()
    )
    added, removed = set(), set()
    for s in subjects:
        for cls in old.policy.classes.keys() | new.policy.classes.keys():
            for purp in old.policy.purposes.keys() | new.policy.purposes.keys():
                for act in set(old.actions) | set(new.actions):
                    a, b = held(old, s, (cls, purp, act)), held(new, s, (cls, purp, act))
                    if b and not a:
                        added.add((s, cls, purp, act))
                    elif a and not b:
                        removed.add((s, cls, purp, act))
    return added, removed


# A small policy whose review has findings of most kinds: r0 -> r1 inherit a C3 grant,
# r2 holds the same by its own grants; toxic rule T pairs disclose on `a` and on `b`.
SMALL: dict[str, Any] = {
    "version": 1,
    "actions": ["use", "disclose"],
    "classes": {"a": {"level": "C3"}, "a.x": {"level": "C3"}, "b": {"level": "C1"}},
    "purposes": {"p": {}, "s": {}},
    "roles": {
        "r0": {"inherits": [], "duties": ["s"]},
        "r1": {"inherits": ["r0"]},
        "r2": {"inherits": [], "duties": ["s"]},
    },
    "users": {"u0": {"roles": ["r1"]}, "u1": {"roles": ["r2"]}},
    "grants": [
        {
            "id": "G0",
            "effect": "allow",
            "roles": ["r0"],
            "classes": ["a.x"],
            "purposes": ["p"],
            "actions": ["disclose"],
        },
        {
            "id": "G1",
            "effect": "allow",
            "roles": ["r1", "r2"],
            "classes": ["b"],
            "purposes": ["p"],
            "actions": ["disclose"],
        },
        {
            "id": "G2",
            "effect": "allow",
            "roles": ["r2"],
            "classes": ["a.x"],
            "purposes": ["p"],
            "actions": ["disclose"],
        },
    ],
    "separation_of_duties": [
        {
            "id": "T",
            "severity": "high",
            "permissions": [
                {"classes": ["a"], "actions": ["disclose"]},
                {"classes": ["b"], "actions": ["disclose"]},
            ],
        },
    ],
}
