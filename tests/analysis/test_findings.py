"""Findings of the review against a brute-force reading of the spec, on generated policies."""

from __future__ import annotations

import itertools
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.analysis.context import ReviewContext
from pdp.analysis.review import review
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import load_policy_text
from pdp.core.model import Policy, ancestors_of
from pdp.core.queries import held_permissions

CLASSES = {"a": "C1", "a.b": "C2", "a.b.c": "C3", "a.d": "C1", "e": "C2", "e.f": "C3"}
PURPOSES = ["p", "p.q", "p.q.s", "r"]
ACTIONS = ["use", "disclose", "store"]
ROLES = [f"r{i}" for i in range(5)]
USERS = [f"u{i}" for i in range(5)]
LEVELS = ["C1", "C2", "C3"]

Perm = tuple[str, str, str]


def _some(values: list[str], star: bool = True) -> st.SearchStrategy[list[str]]:
    picks = st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)
    return st.one_of(picks, st.just(["*"])) if star else picks


@st.composite
def policies(draw: st.DrawFn) -> str:
    """A random small policy as YAML text (valid by construction)."""
    levels = {c: draw(st.sampled_from(LEVELS)) for c in CLASSES}
    roles: dict[str, Any] = {}
    for i, rid in enumerate(ROLES):
        inherits = draw(st.lists(st.sampled_from(ROLES[:i]), unique=True, max_size=2)) if i else []
        duties = draw(st.lists(st.sampled_from(PURPOSES), unique=True, max_size=2))
        roles[rid] = {"inherits": inherits, "duties": duties}
    users = {
        u: {"roles": draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=3))}
        for u in draw(st.lists(st.sampled_from(USERS), unique=True, max_size=5))
    }
    grants = []
    for g in range(draw(st.integers(1, 8))):
        grants.append(
            {
                "id": f"G{g}",
                "effect": draw(st.sampled_from(["allow", "allow", "allow", "deny"])),
                "roles": draw(_some(ROLES)),
                "classes": draw(_some(list(CLASSES))),
                "purposes": draw(_some(PURPOSES)),
                "actions": draw(_some(ACTIONS)),
            }
        )
    rules: list[dict[str, Any]] = []
    for s in range(draw(st.integers(0, 2))):
        members = draw(st.lists(st.sampled_from(ROLES), unique=True, min_size=2, max_size=3))
        rules.append(
            {"id": f"SOD{s}", "roles": members, "max": draw(st.integers(1, len(members) - 1))}
        )
    for t in range(draw(st.integers(0, 3))):
        patterns = []
        for _ in range(draw(st.integers(1, 3))):
            pattern = {}
            for key, values in (
                ("classes", list(CLASSES)),
                ("purposes", PURPOSES),
                ("actions", ACTIONS),
            ):
                if draw(st.booleans()):
                    pattern[key] = draw(_some(values))
            patterns.append(pattern)
        rules.append({"id": f"TOX{t}", "permissions": patterns, "severity": "critical"})
    document = {
        "actions": ACTIONS,
        "classes": {c: {"level": levels[c]} for c in CLASSES},
        "purposes": {p: {} for p in PURPOSES},
        "roles": roles,
        "users": users,
        "grants": grants,
        "separation_of_duties": rules,
    }
    return yaml.safe_dump(document, sort_keys=False)


# --- the brute force: the spec read literally, over every declared permission ----------------


def closure(policy: Policy, roles: list[str] | tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    todo = list(roles)
    while todo:
        role = todo.pop()
        if role not in found:
            found.add(role)
            todo.extend(policy.roles[role].inherits)
    return found


def names(values: tuple[str, ...], ident: str, dotted: bool) -> bool:
    if "*" in values:
        return True
    return any(v in ancestors_of(ident) for v in values) if dotted else ident in values


def covers(grant: Any, c: str, p: str, a: str) -> bool:
    return (
        names(grant.classes, c, True)
        and names(grant.purposes, p, True)
        and names(grant.actions, a, False)
    )


def reaches(grant: Any, subject: set[str]) -> bool:
    # `*` names every declared role: a user with no roles holds nothing.
    return bool(subject) if "*" in grant.roles else bool(subject & set(grant.roles))


def every_permission(policy: Policy) -> list[Perm]:
    return list(itertools.product(policy.classes, policy.purposes, policy.actions))


def held(policy: Policy, subject: set[str]) -> set[Perm]:
    result = set()
    for c, p, a in every_permission(policy):
        matching = [g for g in policy.grants if reaches(g, subject) and covers(g, c, p, a)]
        if any(g.effect == "allow" for g in matching) and not any(
            g.effect == "deny" for g in matching
        ):
            result.add((c, p, a))
    return result


def subjects(policy: Policy) -> dict[tuple[str, str], set[str]]:
    table = {("role", r): closure(policy, [r]) for r in policy.roles}
    table.update({("user", u): closure(policy, user.roles) for u, user in policy.users.items()})
    return table


def matches(pattern: Any, perm: Perm) -> bool:
    c, p, a = perm
    return (
        names(pattern.classes, c, True)
        and names(pattern.purposes, p, True)
        and names(pattern.actions, a, False)
    )


def tree_key(perm: Perm) -> tuple[list[str], list[str], str]:
    """Tree order of permissions: class, then purpose (each id before its descendants), action."""
    c, p, a = perm
    return (c.split("."), p.split("."), a)


def toxic_details(policy: Policy, found: list[list[Perm]]) -> tuple[str, str, tuple[Perm, ...]]:
    """Per pattern match counts, the highest level of every match, the first match of each."""
    counts = " + ".join(str(len(matched)) for matched in found)
    level = max((policy.classes[x[0]].level for m in found for x in m), key=LEVELS.index)
    return counts, level, tuple(sorted({matched[0] for matched in found}))


def expected(policy: Policy) -> dict[str, set[Any]]:
    subs = subjects(policy)
    holds = {s: held(policy, roles) for s, roles in subs.items()}
    out: dict[str, set[Any]] = {
        k: set()
        for k in ("sod", "toxic", "duties", "dormant", "orphan", "broad", "redundant", "equivalent")
    }
    for rule in policy.rules:
        for s, roles in subs.items():
            if rule.kind == "sod" and len(roles & set(rule.roles)) > rule.max:
                out["sod"].add((rule.id, s))
            if rule.kind == "toxic":
                found = [
                    sorted((x for x in holds[s] if matches(pt, x)), key=tree_key)
                    for pt in rule.patterns
                ]
                if all(found):
                    out["toxic"].add((rule.id, s, *toxic_details(policy, found)))
    for r in policy.roles:
        duties = {d for x in closure(policy, [r]) for d in policy.roles[x].duties}
        if duties:
            outside = {
                x for x in holds[("role", r)] if not any(d in ancestors_of(x[1]) for d in duties)
            }
            if outside:
                out["duties"].add((r, tuple(sorted(outside))))
    if policy.users:
        used = set().union(*(subs[("user", u)] for u in policy.users))
        out["dormant"] = {r for r in policy.roles if r not in used}
    out["orphan"] = {u for u, user in policy.users.items() if not user.roles and not user.disabled}
    rank = {c: LEVELS.index(k.level) for c, k in policy.classes.items()}
    for g in policy.grants:
        if g.effect != "allow":
            continue
        named = list(policy.classes) if "*" in g.classes else list(g.classes)
        wild = any("*" in v for v in (g.roles, g.classes, g.purposes))
        targets = ["*"] if "*" in g.roles else list(g.roles)
        for target in targets:
            roles = list(policy.roles) if target == "*" else [target]
            reached = set()
            for r in roles:
                for x in holds[("role", r)]:
                    if not covers(g, *x):
                        continue
                    via = [n for n in named if n in ancestors_of(x[0])]
                    if rank[x[0]] > max(rank[n] for n in via) or (wild and rank[x[0]] == 2):
                        reached.add(x)
            if reached:
                out["broad"].add((g.id, target, tuple(sorted(reached))))
        for target in targets:
            roles = list(policy.roles) if target == "*" else [target]
            if all(
                all(
                    any(
                        h is not g
                        and h.effect == "allow"
                        and reaches(h, closure(policy, [r]))
                        and covers(h, *x)
                        for h in policy.grants
                    )
                    for x in every_permission(policy)
                    if covers(g, *x)
                )
                for r in roles
            ):
                out["redundant"].add((g.id, target))
    by_held: dict[frozenset[Perm], list[str]] = {}
    for r in policy.roles:
        if holds[("role", r)]:
            by_held.setdefault(frozenset(holds[("role", r)]), []).append(r)
    out["equivalent"] = {tuple(sorted(rs)) for rs in by_held.values() if len(rs) > 1}
    return out


def found(compiled: CompiledPolicy) -> dict[str, set[Any]]:
    result = review(compiled)
    out: dict[str, set[Any]] = {
        k: set()
        for k in ("sod", "toxic", "duties", "dormant", "orphan", "broad", "redundant", "equivalent")
    }
    for f in result.findings:
        s = (f.subject_kind, f.subject_id)
        if f.kind == "sod_violation":
            out["sod"].add((f.rule_id, s))
        elif f.kind == "toxic_combination":
            counts = " + ".join(map(str, f.statistics["matches_per_pattern"]))
            out["toxic"].add((f.rule_id, s, counts, f.level, tuple(f.permissions)))
        elif f.kind == "outside_duties":
            out["duties"].add((f.subject_id, tuple(sorted(f.permissions))))
        elif f.kind == "dormant_role":
            out["dormant"].add(f.subject_id)
        elif f.kind == "orphan_user":
            out["orphan"].add(f.subject_id)
        elif f.kind == "over_broad_grant":
            out["broad"].add((f.rule_id, f.subject_id, tuple(sorted(f.permissions))))
        elif f.kind == "redundant_grant":
            out["redundant"].add((f.rule_id, f.subject_id))
        elif f.kind == "equivalent_roles":
            out["equivalent"].add(tuple(sorted(p[0].partition(":")[2] for p in f.evidence)))
    return out


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policies())
def test_findings_match_the_brute_force(text: str) -> None:
    policy = load_policy_text(text, "generated.yaml")
    compiled = compile_policy(policy)
    assert found(compiled) == expected(policy)


@SETTINGS
@given(policies())
def test_held_sets_match_the_core_and_the_brute_force(text: str) -> None:
    policy = load_policy_text(text, "generated.yaml")
    compiled = compile_policy(policy)
    ctx = ReviewContext.build(compiled)
    for (kind, ident), roles in subjects(policy).items():
        closure_ = compiled.closure_of(kind, ident)  # type: ignore[arg-type]
        assert closure_ is not None
        mine = set(ctx.space.decode(ctx.full.held(closure_)))
        core = {(h.info_class, h.purpose, h.action) for h in held_permissions(compiled, closure_)}
        assert mine == core == held(policy, roles)


@SETTINGS
@given(policies())
def test_toxic_witnesses_and_evidence_are_held(text: str) -> None:
    compiled = compile_policy(load_policy_text(text, "generated.yaml"))
    for f in review(compiled).findings:
        closure_ = compiled.closure_of(f.subject_kind, f.subject_id)  # type: ignore[arg-type]
        if f.kind in ("toxic_combination", "outside_duties", "high_exposure") and closure_:
            for c, p, a in f.permissions:
                assert compiled.held(closure_, c, p, a).held
        for path in f.evidence if f.kind != "equivalent_roles" else ():
            assert path[0] in (f"{f.subject_kind}:{f.subject_id}", f"role:{f.subject_id}")


def test_toxic_levels_are_each_rules_own() -> None:
    # Many rules whose patterns alternate between a C1 and a C3 class: each finding's level is
    # its own rule's (a level cache keyed by `id(space)` once gave a freed space's levels).
    rules = [
        {"id": f"TOX{i}", "permissions": [{"classes": [c]}, {"classes": [c]}]}
        for i, c in enumerate(["low", "high"] * 10)
    ]
    document = {
        "actions": ["use"],
        "classes": {"low": {"level": "C1"}, "high": {"level": "C3"}},
        "purposes": {"p": {}},
        "roles": {"r": {}},
        "grants": [
            {"id": "G", "roles": ["r"], "classes": ["*"], "purposes": ["*"], "actions": ["*"]}
        ],
        "separation_of_duties": rules,
    }
    compiled = compile_policy(load_policy_text(yaml.safe_dump(document), "levels.yaml"))
    levels = {
        f.rule_id: f.level for f in review(compiled).findings if f.kind == "toxic_combination"
    }
    assert levels == {f"TOX{i}": "C1" if i % 2 == 0 else "C3" for i in range(20)}


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_the_fingerprint_encoder_writes_what_json_dumps_writes(texts: list[str]) -> None:
    """Fingerprints hash `json.dumps(..., ensure_ascii=False)` text: stable across encoders."""
    import json

    from pdp.analysis.finding import COMPACT

    want = json.dumps(texts, separators=(",", ":"), ensure_ascii=False)
    assert COMPACT(texts) == want.encode("utf-8", "surrogatepass")


@given(
    st.text(),
    st.text() | st.none(),
    st.sampled_from(["role", "user"]),
    st.text(),
    st.lists(st.tuples(st.text(), st.text(), st.text()), max_size=4),
)
def test_a_fingerprint_is_the_documented_hash(
    kind: str, rule_id: str | None, subject_kind: str, subject_id: str, permissions: list[Any]
) -> None:
    """SHA-256 of the compact JSON of kind, rule id, subject and sorted permissions, cut to 32."""
    import hashlib
    import json

    from pdp.analysis.finding import fingerprint_of, identity_listing

    whole = [kind, rule_id or "", subject_kind, subject_id, [list(p) for p in sorted(permissions)]]
    text = json.dumps(whole, separators=(",", ":"), ensure_ascii=False)
    want = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    key = (kind, rule_id, subject_kind, subject_id)
    assert fingerprint_of(key, identity_listing(permissions)) == want
