"""Benchmark: the cost of a decision in pdp, plain pycasbin and cedarpy, and of loading a policy.

    .venv/bin/python tools/bench_decide.py [--sizes 100,3000,30000] [--queries 2000]
        [--casbin-samples 200] [--cedar-samples 500] [--seed 0] [--pdp-only]
        [--conditions]

For each generated policy (tools/generate_policy.py; roles and users scale with
the grants: 30,000 grants come with 3,000 roles and 100,000 users) it measures,
in one run:
- load+compile: `check_policy` on the written YAML file, then `compile_policy`
  (the collector off, as in `pdp`'s batch commands);
- pdp cold: `DecisionPoint.decide` with the memo cleared before each call;
- pdp memo: the same queries again, answered from the memo;
- pycasbin: `casbin.Enforcer.enforce` on the same compiled model, in memory;
- cedarpy: the policy translated to Cedar (roles, users, classes and purposes
  as entities with parents; one `permit`/`forbid` per grant; consent as a
  `forbid` unless `context.purpose in context.consent`), decided one request
  at a time with `is_authorized` on pre-parsed policies and entities.
Each engine's answers are compared with pdp's on the same queries; mismatches
are counted and reported. Medians of per-call wall time; a Markdown table.

`--conditions` measures instead, for each size, the cost of a cold decision
on a grant with version-2 conditions against one without, in the same run:
the generated policy as is (baseline), and the same policy with every allow
grant given a validity window and `when: {mfa, ticket, approver,
relationship, max_records, hours}`, asked the same queries with a context
that meets every requirement (so each matched grant's requirements are all
judged). Both are also asked with the full context on the plain policy, to
separate the cost of reading the context from that of the requirements.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_policy import generate_policy, write_policy

from pdp.casbin_engine import casbin_enforcer
from pdp.core.compile import CompiledPolicy, compile_policy, expand
from pdp.core.load import check_policy
from pdp.core.model import Grant
from pdp.decision_point import DecisionPoint

SCALE = {100: (30, 1_000), 3_000: (300, 10_000), 30_000: (3_000, 100_000)}


def _queries(compiled: CompiledPolicy, count: int, seed: int) -> list[dict[str, Any]]:
    """Random requests over declared ids, half by role and half by user, random consent."""
    rng = random.Random(seed)
    policy = compiled.policy
    roles, users = list(policy.roles), list(policy.users)
    classes, purposes = list(policy.classes), list(policy.purposes)
    result = []
    for n in range(count):
        kind, pool = ("role", roles) if n % 2 or not users else ("user", users)
        purpose = rng.choice(purposes)
        result.append(
            {
                kind: rng.choice(pool),
                "info_class": rng.choice(classes),
                "purpose": purpose,
                "action": rng.choice(policy.actions),
                "context": {"consent": [purpose] if rng.random() < 0.5 else []},
            }
        )
    return result


FULL_CONTEXT = {
    "mfa": True,
    "ticket": "CHG-1",
    "approver": "u-second",
    "relationship": "own_customer",
    "records": 3,
}
CONDITIONS = {
    "mfa": True,
    "ticket": True,
    "approver": True,
    "relationship": ["own_customer", "own_branch"],
    "max_records": 50,
    "hours": "00:00-23:59",
}


NOON = datetime(2026, 6, 15, 12, tzinfo=UTC)


def with_relationships(data: dict[str, Any]) -> dict[str, Any]:
    """The generated policy, version 2, declaring the relationships the context names."""
    return {**data, "version": 2, "relationships": ["own_customer", "own_branch"]}


def with_conditions(data: dict[str, Any]) -> dict[str, Any]:
    """The generated policy with a window and every requirement on each allow grant."""
    grants = [
        g
        if g.get("effect") == "deny"
        else {**g, "when": CONDITIONS, "valid_from": "2020-01-01", "valid_until": "2100-01-01"}
        for g in data["grants"]
    ]
    return {**with_relationships(data), "grants": grants}


def matching_queries(
    compiled: CompiledPolicy, count: int, seed: int, break_glass: bool = True
) -> list[dict[str, Any]]:
    """Requests that an allow grant reaches: a role (or a user holding it) it names, a
    class, purpose and action it covers, consent to the purpose, and a context that
    meets the grant's requirements (MFA, a ticket, an approver, a relationship).
    `break_glass=False` leaves break-glass grants out."""
    rng = random.Random(seed)
    policy = compiled.policy
    allows = [
        g for g in policy.grants if g.effect == "allow" and (break_glass or not g.break_glass)
    ]
    holders: dict[str, list[str]] = {}
    for uid, user in policy.users.items():
        for rid in user.roles:
            holders.setdefault(rid, []).append(uid)
    result = []
    for n in range(count):
        grant = rng.choice(allows)
        role = rng.choice(expand(grant, policy, "roles"))
        subject = {"role": role}
        if n % 2 and holders.get(role):
            subject = {"user": rng.choice(holders[role])}
        purpose = rng.choice(expand(grant, policy, "purposes"))
        result.append(
            {
                **subject,
                "info_class": rng.choice(expand(grant, policy, "classes")),
                "purpose": purpose,
                "action": rng.choice(expand(grant, policy, "actions")),
                "context": {"consent": [purpose], **requirements_met(grant)},
            }
        )
    return result


def requirements_met(grant: Grant) -> dict[str, Any]:
    """Context facts meeting a grant's requirements (`hours` and windows aside: the clock's)."""
    when = grant.when
    if when is None:
        return {}
    facts: dict[str, Any] = {}
    if when.mfa:
        facts["mfa"] = True
    if when.ticket:
        facts["ticket"] = "CHG-1"
    if when.approver:
        facts["approver"] = "u-approver"
    if when.relationship:
        facts["relationship"] = when.relationship[0]
    return facts


def _cold_ns(dp: DecisionPoint, queries: list[dict[str, Any]]) -> float:
    """The median cost of a decision with the memo cleared before each."""
    state = dp._state

    def cold(q: dict[str, Any]) -> Callable[[], Any]:
        def call() -> Any:
            state.clear()
            return dp.decide(**q)

        return call

    return _median_ns([cold(q) for q in queries])


def bench_conditions(grants: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Cold decisions on grants with conditions against the same grants without, one run."""
    roles, users = SCALE.get(grants, (max(10, grants // 10), grants * 3))
    data = generate_policy(grants=grants, roles=roles, users=users, seed=args.seed)
    plain = DecisionPoint.from_path(
        write_policy(with_relationships(data), workdir / f"plain-{grants}.yaml"),
        clock=lambda: NOON,
    )
    conditioned = DecisionPoint.from_path(
        write_policy(with_conditions(data), workdir / f"when-{grants}.yaml"), clock=lambda: NOON
    )
    queries = matching_queries(plain.compiled, args.queries, args.seed + 1)
    full = [{**q, "context": {**q["context"], **FULL_CONTEXT}} for q in queries]
    row: dict[str, Any] = {"grants": grants, "roles": roles, "users": users}
    row["plain_ns"] = _cold_ns(plain, queries)
    row["plain_full_ns"] = _cold_ns(plain, full)
    row["when_ns"] = _cold_ns(conditioned, full)
    answers = [(plain.decide(**q), conditioned.decide(**q)) for q in full]
    row["allowed"] = sum(a.allowed for a, _ in answers)
    row["mismatch"] = sum(
        (a.allowed, a.reasons, a.obligations) != (b.allowed, b.reasons, b.obligations)
        for a, b in answers
    )
    return row


def conditions_table(rows: list[dict[str, Any]]) -> str:
    """The `--conditions` measurements as a Markdown table."""
    lines = [
        "| grants | roles | users | no conditions (consent only) | no conditions, full context "
        "| every requirement + window | ratio (target ≤ 2×) | allowed | mismatches |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['grants']:,} | {r['roles']:,} | {r['users']:,} | {_us(r['plain_ns'])} "
            f"| {_us(r['plain_full_ns'])} | {_us(r['when_ns'])} "
            f"| {r['when_ns'] / r['plain_ns']:.2f}× | {r['allowed']} | {r['mismatch']} |"
        )
    return "\n".join(lines)


def _median_ns(calls: list[Callable[[], Any]]) -> float:
    times = []
    clock = time.perf_counter_ns
    for call in calls:
        start = clock()
        call()
        times.append(clock() - start)
    return float(statistics.median(times))


def _cedar_text(compiled: CompiledPolicy) -> str:
    policy = compiled.policy

    def any_of(var: str, kind: str, ids: tuple[str, ...]) -> str | None:
        if "*" in ids:
            return f'{var} in {kind}::"__all__"' if kind == "Role" else None
        return "(" + " || ".join(f'{var} in {kind}::"{i}"' for i in ids) + ")"

    parts = []
    for grant in policy.grants:
        conds = [
            any_of("principal", "Role", grant.roles),
            any_of("resource", "Class", grant.classes),
            any_of("context.purpose", "Purpose", grant.purposes),
        ]
        scope = (
            "action"
            if "*" in grant.actions
            else "action in [" + ", ".join(f'Action::"{a}"' for a in grant.actions) + "]"
        )
        effect = "forbid" if grant.effect == "deny" else "permit"
        when = " && ".join(c for c in conds if c) or "true"
        parts.append(
            f'@id("{grant.id}")\n{effect}(principal, {scope}, resource) when {{ {when} }};'
        )
    for pid, purpose in policy.purposes.items():
        if purpose.legal_basis == "consent":
            parts.append(
                f"forbid(principal, action, resource) when {{ "
                f'context.purpose in Purpose::"{pid}" && !(context.purpose in context.consent) }};'
            )
    return "\n".join(parts)


def _cedar_entities(compiled: CompiledPolicy) -> list[dict[str, Any]]:
    policy = compiled.policy

    def ref(kind: str, eid: str) -> dict[str, str]:
        return {"type": kind, "id": eid}

    entities: list[dict[str, Any]] = [{"uid": ref("Role", "__all__"), "attrs": {}, "parents": []}]
    for rid, role in policy.roles.items():
        parents = [ref("Role", p) for p in role.inherits] + [ref("Role", "__all__")]
        entities.append({"uid": ref("Role", rid), "attrs": {}, "parents": parents})
    for uid, user in policy.users.items():
        parents = [ref("Role", r) for r in user.roles]
        entities.append({"uid": ref("User", uid), "attrs": {}, "parents": parents})
    for kind, tree in (("Class", policy.classes), ("Purpose", policy.purposes)):
        for cid in tree:
            parent, dot, _ = cid.rpartition(".")
            parents = [ref(kind, parent)] if dot else []
            entities.append({"uid": ref(kind, cid), "attrs": {}, "parents": parents})
    return entities


def _cedar_request(query: dict[str, Any]) -> dict[str, Any]:
    kind = "Role" if "role" in query else "User"
    subject = query.get("role") or query["user"]
    return {
        "principal": f'{kind}::"{subject}"',
        "action": f'Action::"{query["action"]}"',
        "resource": f'Class::"{query["info_class"]}"',
        "context": {
            "purpose": {"__entity": {"type": "Purpose", "id": query["purpose"]}},
            "consent": [
                {"__entity": {"type": "Purpose", "id": c}} for c in query["context"]["consent"]
            ],
        },
    }


def _held(dp: DecisionPoint, query: dict[str, Any]) -> bool:
    decision = dp.decide(**query)
    return decision.allowed or decision.reasons == ("consent_required",)


def bench_size(grants: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every measurement for one policy size."""
    roles, users = SCALE.get(grants, (max(10, grants // 10), grants * 3))
    data = generate_policy(grants=grants, roles=roles, users=users, seed=args.seed)
    path = write_policy(data, workdir / f"policy-{grants}.yaml")
    # Loading runs with the collector off, as `pdp`'s batch commands do (`pdp.cli.app.main`);
    # deciding runs with it on, as in `pdp serve`.
    gc.disable()
    start = time.perf_counter()
    result = check_policy(path)
    loaded = time.perf_counter()
    assert result.policy is not None, result.problems[:3]
    compiled = compile_policy(result.policy)
    compiled_at = time.perf_counter()
    gc.enable()
    row: dict[str, Any] = {
        "grants": grants,
        "roles": roles,
        "users": users,
        "load_s": loaded - start,
        "compile_s": compiled_at - loaded,
    }
    dp = DecisionPoint(compiled)
    queries = _queries(compiled, args.queries, args.seed + 1)
    state = dp._state

    def cold(q: dict[str, Any]) -> Callable[[], Any]:
        def call() -> Any:
            state.clear()
            return dp.decide(**q)

        return call

    row["pdp_cold_ns"] = _median_ns([cold(q) for q in queries])
    for q in queries:
        dp.decide(**q)
    row["pdp_memo_ns"] = _median_ns([lambda q=q: dp.decide(**q) for q in queries])
    row["allowed"] = sum(dp.decide(**q).allowed for q in queries)
    if args.pdp_only:
        return row

    enforcer = casbin_enforcer(compiled)
    samples = queries[: args.casbin_samples if grants < 30_000 else min(args.casbin_samples, 12)]
    answers: list[bool] = []

    def enforce(q: dict[str, Any]) -> Callable[[], Any]:
        subject = q.get("role") or q["user"]
        return lambda: answers.append(
            bool(enforcer.enforce(subject, q["info_class"], q["purpose"], q["action"]))
        )

    row["casbin_ns"] = _median_ns([enforce(q) for q in samples])
    row["casbin_n"] = len(samples)
    row["casbin_mismatch"] = sum(a != _held(dp, q) for a, q in zip(answers, samples, strict=True))

    import cedarpy

    policy_set = cedarpy.PolicySet.from_str(_cedar_text(compiled))
    entities = cedarpy.Entities.from_json_str(json.dumps(_cedar_entities(compiled)))
    cedar_samples = queries[: args.cedar_samples]
    cedar_answers: list[bool] = []

    def authorize(q: dict[str, Any]) -> Callable[[], Any]:
        request = _cedar_request(q)
        return lambda: cedar_answers.append(
            cedarpy.is_authorized(request, policy_set, entities).allowed
        )

    row["cedar_ns"] = _median_ns([authorize(q) for q in cedar_samples])
    row["cedar_n"] = len(cedar_samples)
    row["cedar_mismatch"] = sum(
        a != dp.decide(**q).allowed for a, q in zip(cedar_answers, cedar_samples, strict=True)
    )
    batch = [_cedar_request(q) for q in cedar_samples]
    start = time.perf_counter_ns()
    batch_results = cedarpy.is_authorized_batch(batch, policy_set, entities)
    row["cedar_batch_ns"] = (time.perf_counter_ns() - start) / max(1, len(batch))
    row["cedar_batch_mismatch"] = sum(
        r.allowed != a for r, a in zip(batch_results, cedar_answers, strict=True)
    )
    return row


def _us(ns: float) -> str:
    if ns != ns:  # not measured (--pdp-only)
        return "—"
    return f"{ns / 1000:,.2f} µs" if ns < 1e6 else f"{ns / 1e6:,.1f} ms"


def table(rows: list[dict[str, Any]]) -> str:
    """The measurements as a Markdown table, with the speed-ups over pdp's cold path."""
    lines = [
        "| grants | roles | users | load + compile | pdp cold | pdp memo | pycasbin (n) "
        "| cedarpy (n) | cedarpy batch/req | casbin × cold | cedar × cold | mismatches c/cedar |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "casbin_ns" not in r:  # --pdp-only
            r = {
                **r,
                **dict.fromkeys(("casbin_ns", "cedar_ns", "cedar_batch_ns"), float("nan")),
                **dict.fromkeys(("casbin_n", "cedar_n"), 0),
                **dict.fromkeys(("casbin_mismatch", "cedar_mismatch", "cedar_batch_mismatch"), 0),
            }
        lines.append(
            f"| {r['grants']:,} | {r['roles']:,} | {r['users']:,} "
            f"| {r['load_s']:.2f} s + {r['compile_s']:.2f} s | {_us(r['pdp_cold_ns'])} "
            f"| {_us(r['pdp_memo_ns'])} | {_us(r['casbin_ns'])} ({r['casbin_n']}) "
            f"| {_us(r['cedar_ns'])} ({r['cedar_n']}) | {_us(r['cedar_batch_ns'])} "
            f"| {r['casbin_ns'] / r['pdp_cold_ns']:,.0f}× "
            f"| {r['cedar_ns'] / r['pdp_cold_ns']:,.0f}× "
            f"| {r['casbin_mismatch']}/{r['cedar_mismatch'] + r['cedar_batch_mismatch']} |"
        )
    if len(rows) > 1:
        ratio = rows[-1]["pdp_cold_ns"] / rows[0]["pdp_cold_ns"]
        memo = rows[-1]["pdp_memo_ns"] / rows[0]["pdp_memo_ns"]
        lines.append("")
        lines.append(
            f"pdp per-decision cost, largest vs smallest policy: cold {ratio:.2f}×, "
            f"memo {memo:.2f}× (target ≤ 2×)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,3000,30000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--casbin-samples", type=int, default=200)
    parser.add_argument("--cedar-samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pdp-only", action="store_true", help="measure pdp only (no pycasbin, no cedarpy)"
    )
    parser.add_argument(
        "--conditions",
        action="store_true",
        help="measure decisions on grants with conditions against grants without",
    )
    args = parser.parse_args(argv)
    rows = []
    if args.conditions:
        with tempfile.TemporaryDirectory() as tmp:
            for size in (int(s) for s in args.sizes.split(",")):
                rows.append(bench_conditions(size, args, Path(tmp)))
                print(conditions_table(rows), file=sys.stderr, flush=True)
        print(conditions_table(rows))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            row = bench_size(size, args, Path(tmp))
            rows.append(row)
            print(table(rows), file=sys.stderr, flush=True)  # so far, in case the run is cut
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
