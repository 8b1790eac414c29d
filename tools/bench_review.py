"""Benchmark of the privilege review on bank-sized generated policies.

    .venv/bin/python tools/bench_review.py [--users 10000,30000,100000] [--repeat 1]
        [--roles 3000] [--grants 30000] [--sod 50] [--toxic 50] [--classes 400]
        [--purposes 80] [--seed 7] [--usage EVENTS] [--jobs 2]

For each user count (`--repeat` times), a child process generates the policy
(`tools/generate_policy.py`'s `generate_policy`, or the small fallback below
when that tool is absent), writes it as YAML, loads and compiles it, then:

- `review s`: `pdp.analysis.review.review` — every finding decided, exact,
  sorted and counted (findings are kept as small entries);
- `report s`: the JSON report written, streamed to a byte counter (a UTF-8 text stream, as a file)
  (`pdp.analysis.report.render.write_report`: every finding built — message,
  evidence paths, permissions, fingerprint — and dumped), so `review s +
  report s` is the whole review as `pdp review --format json` does it;
  `report / review` is their ratio (the target: at most 2), measured in the
  same run;
- `jobs report s`: the same report with its findings encoded by `--jobs`
  processes, as `pdp review --jobs N` writes it (`pdp.cli.report_jobs`; the
  same bytes), and its ratio to the review, for a second review of the same
  policy (nothing the first report computed is reused); `jobs peak MB` is the largest
  worker's peak resident memory (a forked worker shares the parent's pages
  until it writes them);
- `SARIF results` and `SARIF gz MB`: the SARIF report's results and gzipped
  size (code scanning takes at most 25,000 results and 10 MB);
- memory: `peak MB` is the child's peak resident memory (`ru_maxrss`: Python,
  generator, YAML loader, compiled index and review); `review peak MB` is the
  peak during review and report alone (the kernel's high-water mark reset with
  `/proc/self/clear_refs` just before the review; it includes the policy and
  the compiled index already in memory).

Load and compile are reported apart and are not part of the review's time.
The seconds of each review stage (from the review's progress calls) go to
stderr. With `--usage N`, N random allowed decisions of the policy's users feed
the `unused_permission` check. Target: 100,000 users reviewed in under 60 s
and 4 GB; the JSON report within 2x the review. Prints a Markdown table, the
growth from the smallest to the largest size and, for sizes run more than once,
the spread of review + report and the median and range of both ratios (one
run on a shared machine can land on either side of a target).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Run one child per user count and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10000,30000,100000")
    parser.add_argument("--repeat", type=int, default=1, help="runs per user count")
    parser.add_argument("--roles", type=int, default=3000)
    parser.add_argument("--grants", type=int, default=30000)
    parser.add_argument("--sod", type=int, default=50)
    parser.add_argument("--toxic", type=int, default=50)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--purposes", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--usage", type=int, default=0, help="random usage events (0: none)")
    parser.add_argument("--jobs", type=int, default=2, help="processes of the --jobs report")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    rows = []
    sizes = [int(u) for u in args.users.split(",")]
    for users in (u for u in sizes for _ in range(args.repeat)):
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
            "jobs": args.jobs,
        }
        out = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(params)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        stages = ", ".join(f"{k} {v}" for k, v in row["stages"].items())
        print(f"done: {users} users: review {row['review_s']} s ({stages})", file=sys.stderr)
        print(table(rows), file=sys.stderr)
    print(table(rows))


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Generate, load, compile and review one policy; the timings and peak memory."""
    import gc

    gc.disable()  # the collector policy of `pdp review` (`pdp.cli.app.main`)
    from pdp.analysis.report.render import write_report
    from pdp.analysis.review import CHECKS, review
    from pdp.cli.jobs import Steps
    from pdp.cli.report_jobs import report_items
    from pdp.core.compile import compile_policy
    from pdp.core.load import load_policy

    usage_count = params.pop("usage")
    jobs = params.pop("jobs")
    start = time.perf_counter()
    generate, write, source = generator()
    document = generate(**params)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        write(document, path)
        del document  # the generator's plain data is not part of what is measured
        generated = time.perf_counter()
        policy = load_policy(path)
    loaded = time.perf_counter()
    compiled = compile_policy(policy)
    compiled_at = time.perf_counter()
    usage = None
    now = datetime(2026, 11, 26, tzinfo=UTC)
    if usage_count:
        usage = list(random_usage(compiled, usage_count, now, params["seed"]))
    # The review reports "context", then each check's name when it is done, then "sorting":
    # the time since the previous such report is that stage's.
    boundaries = {"context", "unused permissions", "sorting"}
    boundaries.update(check.__name__.replace("_", " ") for check in CHECKS)
    stages: dict[str, float] = {}
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        if stage in boundaries:
            moment = time.perf_counter()
            stages[stage] = stages.get(stage, 0.0) + moment - last[0]
            last[0] = moment

    rss_before = current_rss()
    reset_peak = reset_high_water_mark()
    before = last[0] = time.perf_counter()
    result = review(
        compiled,
        usage=usage,
        since=now - timedelta(days=90) if usage else None,
        now=now,
        progress=progress,
    )
    reviewed = time.perf_counter()
    stream, sink = byte_counter()
    write_report(result, "json", compiled, stream)
    stream.flush()
    built = time.perf_counter()
    # The jobs report of a fresh review: what the first report remembered (encoded parts,
    # phrases, paths, kept on the review's objects) must not speed it up.
    report_size = sink.size
    del result, sink, stream
    gc.collect()
    result = review(
        compiled, usage=usage, since=now - timedelta(days=90) if usage else None, now=now
    )
    jobs_start = time.perf_counter()
    stream, _ = byte_counter()
    with Steps(jobs) as steps:  # as `pdp review --jobs N` writes it
        write_report(result, "json", compiled, stream, items=partial(report_items, steps=steps))
    stream.flush()
    built_jobs = time.perf_counter()
    jobs_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    stream, sarif = byte_counter(gzipped=True)
    write_report(result, "sarif", compiled, stream)
    stream.flush()
    sarif_done = time.perf_counter()
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
        "report_s": round(built - reviewed, 2),
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "peak_rss_mb": round(rss / 2**20),
        "rss_before_review_mb": round(rss_before / 2**20),
        "review_peak_mb": round(high_water_mark() / 2**20) if reset_peak else None,
        "findings": result.summary["findings"],
        "report_mb": round(report_size / 2**20),
        "report_ratio": round((built - reviewed) / (reviewed - before), 2),
        "jobs": jobs,
        "report_jobs_s": round(built_jobs - jobs_start, 2),
        "jobs_ratio": round((built_jobs - jobs_start) / (reviewed - before), 2),
        "jobs_peak_mb": round(jobs_peak / 2**20),
        "sarif_s": round(sarif_done - built_jobs, 2),
        "sarif_results": sarif.results,
        "sarif_gz_mb": round(sarif.gzipped_size() / 2**20, 2),
        "by_kind": {k: v for k, v in result.summary["by_kind"].items() if v},
    }


RESULT = b'{"ruleId":'


class ByteSink(io.RawIOBase):
    """A binary stream that only counts the bytes written to it (and, for SARIF, the
    results and the gzipped size)."""

    def __init__(self, gzipped: bool = False) -> None:
        super().__init__()
        self.size = 0
        self.results = 0
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31) if gzipped else None
        self._gzipped = 0
        self._tail = b""  # the end of the last write (a result's opening may span two)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        """Count, do not keep."""
        data = bytes(data)
        self.size += len(data)
        if self._gzip is not None:
            self.results += (self._tail + data).count(RESULT)
            self._tail = data[-(len(RESULT) - 1) :]
            self._gzipped += len(self._gzip.compress(data))
        return len(data)

    def gzipped_size(self) -> int:
        """The bytes of the gzipped stream so far (0 unless `gzipped`)."""
        if self._gzip is None:
            return 0
        return self._gzipped + len(self._gzip.flush())


def byte_counter(gzipped: bool = False) -> tuple[io.TextIOWrapper, ByteSink]:
    """A UTF-8 text stream like a report file, and the sink counting what reaches it."""
    sink = ByteSink(gzipped)
    return io.TextIOWrapper(io.BufferedWriter(sink), encoding="utf-8"), sink


def _status(field: str) -> int:
    """A `/proc/self/status` memory field in bytes (0 where there is no /proc)."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def current_rss() -> int:
    """The process's resident memory now, in bytes."""
    return _status("VmRSS")


def high_water_mark() -> int:
    """The process's peak resident memory since start or the last reset, in bytes."""
    return _status("VmHWM")


def reset_high_water_mark() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux); False where not possible."""
    try:
        with Path("/proc/self/clear_refs").open("w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


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
    """The results as a Markdown table, with the machine, the growth and the spread."""
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; generator: {rows[0]['generator']}",
        "",
        "| users | roles | grants | rules | subject groups | load s | compile s | review s "
        "| report s | report / review | jobs | jobs report s | jobs report / review "
        "| review + report s | review peak MB | peak MB | jobs peak MB | findings "
        "| report MB | SARIF results | SARIF gz MB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        whole = round(r["review_s"] + r["report_s"], 2)
        review_peak = "n/a" if r["review_peak_mb"] is None else f"{r['review_peak_mb']:,}"
        lines.append(
            f"| {r['users']:,} | {r['roles']:,} | {r['grants']:,} | {r['rules']} "
            f"| {r['subject_groups']:,} | {r['load_s']} | {r['compile_s']} | {r['review_s']} "
            f"| {r['report_s']} | {r['report_ratio']} | {r['jobs']} | {r['report_jobs_s']} "
            f"| {r['jobs_ratio']} | {whole} | {review_peak} | {r['peak_rss_mb']:,} "
            f"| {r['jobs_peak_mb']:,} | {r['findings']:,} | {r['report_mb']:,} "
            f"| {r['sarif_results']:,} | {r['sarif_gz_mb']} |"
        )
    lines.append("")
    lines.extend(f"- {r['users']:,} users: {r['by_kind']}" for r in rows)
    by_size: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_size.setdefault(r["users"], []).append(r)
    sizes = sorted(by_size)
    if len(sizes) > 1:
        small, large = by_size[sizes[0]], by_size[sizes[-1]]

        def best(runs: list[dict[str, Any]], key: str) -> float:
            return float(min(r[key] + (r["report_s"] if key == "review_s" else 0) for r in runs))

        lines.append(
            f"- growth {sizes[0]:,} -> {sizes[-1]:,} users (x{sizes[-1] / sizes[0]:g}): "
            f"review + report x{best(large, 'review_s') / best(small, 'review_s'):.2f}, "
            f"peak MB x{best(large, 'peak_rss_mb') / best(small, 'peak_rss_mb'):.2f} "
            "(fastest run of each size)"
        )
    for size in sizes:
        runs = by_size[size]
        if len(runs) > 1:
            times = [r["review_s"] + r["report_s"] for r in runs]
            lines.append(
                f"- {size:,} users, {len(runs)} runs: review + report {min(times):.1f}-"
                f"{max(times):.1f} s (spread {100 * (max(times) / min(times) - 1):.0f}%); "
                f"report / review {ratios(runs, 'report_ratio')}, "
                f"jobs report / review {ratios(runs, 'jobs_ratio')}"
            )
    return "\n".join(lines)


def ratios(runs: list[dict[str, Any]], key: str) -> str:
    """The median of a ratio over runs of one size, and its range."""
    values = [r[key] for r in runs]
    return f"median {median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    main()
