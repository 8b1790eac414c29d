"""Benchmark of the privilege review on bank-sized generated policies.

    .venv/bin/python tools/bench_review.py [--users 10000,30000,100000] [--roles 3000]
        [--grants 30000] [--sod 50] [--toxic 50] [--classes 400] [--purposes 80]
        [--seed 7] [--usage EVENTS]

For each user count, a child process generates the policy
(`tools/generate_policy.py`'s `generate_policy`, or the small fallback below
when that tool is absent), writes it as YAML, loads and compiles it, then runs
`pdp.analysis.review.review` on it — all findings, exact — and reports the
seconds of each step and the process's peak resident memory (`ru_maxrss`, the
whole process: Python, the policy, the compiled index and the review).
With `--usage N`, N random allowed decisions of the policy's users feed the
`unused_permission` check. Target: 100,000 users reviewed in under 60 s and
4 GB. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Run one child per user count and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10000,30000,100000")
    parser.add_argument("--roles", type=int, default=3000)
    parser.add_argument("--grants", type=int, default=30000)
    parser.add_argument("--sod", type=int, default=50)
    parser.add_argument("--toxic", type=int, default=50)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--purposes", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--usage", type=int, default=0, help="random usage events (0: none)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    rows = []
    for users in (int(u) for u in args.users.split(",")):
        params = {
            "grants": args.grants,
            "roles": args.roles,
            "users": users,
            "classes": args.classes,
            "purposes": args.purposes,
            "sod_rules": args.sod,
            "toxic_rules": args.toxic,
            "seed": args.seed,
            "usage": args.usage,
        }
        out = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(params)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done: {users} users", file=sys.stderr)
    print(table(rows))


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Generate, load, compile and review one policy; the timings and peak memory."""
    from pdp.analysis.review import review
    from pdp.core.compile import compile_policy
    from pdp.core.load import load_policy

    usage_count = params.pop("usage")
    start = time.perf_counter()
    generate, write, source = generator()
    document = generate(**params)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        write(document, path)
        generated = time.perf_counter()
        policy = load_policy(path)
    loaded = time.perf_counter()
    compiled = compile_policy(policy)
    compiled_at = time.perf_counter()
    usage = None
    now = datetime(2026, 11, 26, tzinfo=UTC)
    if usage_count:
        usage = list(random_usage(compiled, usage_count, now, params["seed"]))
    before = time.perf_counter()
    result = review(
        compiled, usage=usage, since=now - timedelta(days=90) if usage else None, now=now
    )
    reviewed = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "generator": source,
        "users": len(policy.users),
        "roles": len(policy.roles),
        "grants": len(policy.grants),
        "rules": len(policy.rules),
        "classes": len(policy.classes),
        "purposes": len(policy.purposes),
        "subject_groups": result.summary["subject_groups"],
        "usage_events": usage_count,
        "generate_s": round(generated - start, 2),
        "load_s": round(loaded - generated, 2),
        "compile_s": round(compiled_at - loaded, 2),
        "review_s": round(reviewed - before, 2),
        "peak_rss_mb": round(rss / 2**20),
        "findings": result.summary["findings"],
        "by_kind": {k: v for k, v in result.summary["by_kind"].items() if v},
    }


def random_usage(compiled: Any, count: int, now: datetime, seed: int) -> Any:
    """Random allowed decisions of the policy's users, within the last 120 days."""
    from pdp.analysis.usage import UsageEvent

    rng = random.Random(seed)
    users = sorted(compiled.policy.users)
    classes = sorted(compiled.policy.classes)
    purposes = sorted(compiled.policy.purposes)
    actions = sorted(compiled.policy.actions)
    for _ in range(count):
        yield UsageEvent(
            now - timedelta(days=rng.uniform(0, 120)),
            "user",
            rng.choice(users),
            rng.choice(classes),
            rng.choice(purposes),
            rng.choice(actions),
            True,
        )


def generator() -> tuple[Any, Any, str]:
    """`generate_policy` and `write_policy` of tools/generate_policy.py, or the fallback."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from generate_policy import generate_policy, write_policy  # type: ignore[import-not-found]
    except ImportError:
        return fallback_policy, write_yaml, "fallback"
    return generate_policy, write_policy, "tools/generate_policy.py"


def write_yaml(document: dict[str, Any], path: Path) -> None:
    """Write a policy document as YAML."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(document, Dumper=dumper, sort_keys=False), encoding="utf-8")


def fallback_policy(
    grants: int,
    roles: int,
    users: int,
    classes: int,
    purposes: int,
    sod_rules: int,
    toxic_rules: int,
    seed: int,
) -> dict[str, Any]:
    """A bank-shaped random policy, for when tools/generate_policy.py is not there."""
    rng = random.Random(seed)
    actions = ["collect", "store", "transmit", "use", "process", "disclose", "archive", "destroy"]
    class_ids = _tree(rng, "c", classes, roots=10)
    levels = {}
    for cid in class_ids:
        parent = cid.rpartition(".")[0]
        if not parent:
            levels[cid] = rng.choice(["C1", "C2", "C2", "C2"])
        else:
            levels[cid] = "C3" if rng.random() < 0.08 else levels[parent]
    purpose_ids = _tree(rng, "p", purposes, roots=8)
    role_ids = [f"r{i:05d}" for i in range(roles)]
    role_docs: dict[str, Any] = {}
    for i, rid in enumerate(role_ids):
        doc: dict[str, Any] = {"duties": rng.sample(purpose_ids, rng.randint(1, 3))}
        if i > 20 and rng.random() < 0.5:
            doc["inherits"] = sorted(set(rng.choices(role_ids[:i], k=rng.randint(1, 2))))
        role_docs[rid] = doc
    grant_docs = []
    for g in range(grants):
        deny = rng.random() < 0.04
        grant: dict[str, Any] = {
            "id": f"G{g:06d}",
            "roles": ["*"] if deny and g % 40 == 0 else rng.sample(role_ids, rng.randint(1, 2)),
            "classes": rng.sample(class_ids, rng.randint(1, 4)),
            "purposes": rng.sample(purpose_ids, rng.randint(1, 2)),
            "actions": rng.sample(actions, rng.randint(1, 3)),
        }
        if deny:
            grant["effect"] = "deny"
        grant_docs.append(grant)
    popular = role_ids[: max(1, roles // 10)]
    user_docs = {}
    for u in range(users):
        count = rng.choice([1, 1, 1, 2, 2, 3])
        pool = popular if rng.random() < 0.8 else role_ids
        user_docs[f"u{u:07d}"] = {"roles": sorted(set(rng.sample(pool, count)))}
    rules: list[dict[str, Any]] = []
    for s in range(sod_rules):
        rules.append({"id": f"SOD{s:03d}", "roles": rng.sample(popular, 2)})
    for t in range(toxic_rules):
        rules.append(
            {
                "id": f"TOX{t:03d}",
                "permissions": [
                    {
                        "classes": [rng.choice(class_ids)],
                        "purposes": [rng.choice(purpose_ids)],
                        "actions": rng.sample(actions, 2),
                    }
                    for _ in range(2)
                ],
            }
        )
    return {
        "version": 1,
        "actions": actions,
        "classes": {c: {"level": levels[c]} for c in class_ids},
        "purposes": {p: {} for p in purpose_ids},
        "roles": role_docs,
        "users": user_docs,
        "grants": grant_docs,
        "separation_of_duties": rules,
    }


def _tree(rng: random.Random, prefix: str, size: int, roots: int) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(min(roots, size))]
    while len(ids) < size:
        parent = rng.choice(ids)
        if parent.count(".") >= 3:
            continue
        ids.append(f"{parent}.{prefix}{len(ids)}")
    return ids


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, with the machine."""
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; generator: {rows[0]['generator']}",
        "",
        "| users | roles | grants | rules | subject groups | load s | compile s | review s "
        "| peak RSS MB | findings |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['users']:,} | {r['roles']:,} | {r['grants']:,} | {r['rules']} "
            f"| {r['subject_groups']:,} | {r['load_s']} | {r['compile_s']} | {r['review_s']} "
            f"| {r['peak_rss_mb']:,} | {r['findings']:,} |"
        )
    lines.append("")
    lines.extend(f"- {r['users']:,} users: {r['by_kind']}" for r in rows)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
