"""Benchmark of `pdp diff` on two bank-sized policies differing by one widened grant.

    .venv/bin/python tools/bench_diff.py [--roles 3000 --grants 30000 --classes 200
                                          --purposes 40 --users 20000 --seed 1 --findings
                                          --runs 3]

Generates a policy with tools/generate_policy.py (or the fallback generator of
tools/bench_review.py while that is missing), widens one allow grant from a
leaf class to its top-level category, and times each phase: load + compile of
each version one after the other, and of both at once (as `pdp diff --jobs 2`
does: the second in a worker process), the symbolic diff, the rendering, and
the whole `pdp diff` command in a subprocess (with `--findings`, also the
findings the change introduces and resolves, against the baseline of
reviewing both versions in full and comparing every finding's fingerprint;
the symbolic diff and the findings at once, as `pdp diff --jobs 2` computes
them; and the command with findings: with the default jobs, with `--jobs 1`,
and with the compiled-policy cache, whose first run fills it). Each command
runs `--runs` times; the range is printed. The collector is off, as in `pdp`.
Baseline, measured in the same run: the naive diff that compares
`held_permissions` of every role in both versions, timed on a sample of roles
and extrapolated to all of them. The issue's target: the whole
diff under 10 s.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from pdp.analysis.changes import review_changes  # noqa: E402
from pdp.analysis.review import review  # noqa: E402
from pdp.cli.diff import diff_of, load_both  # noqa: E402
from pdp.cli.jobs import Steps  # noqa: E402
from pdp.core.compile import compile_policy  # noqa: E402
from pdp.core.load import load_policy  # noqa: E402
from pdp.core.queries import held_permissions  # noqa: E402
from pdp.policyci.diff import diff_policies  # noqa: E402
from pdp.policyci.render import render_text  # noqa: E402


def generator() -> tuple[
    Callable[..., dict[str, Any]], Callable[[dict[str, Any], Path], None], str
]:
    """`generate_policy` and `write_policy`, from tools/generate_policy.py or a fallback."""
    try:
        from generate_policy import generate_policy, write_policy  # type: ignore[import-not-found]
    except ImportError:
        try:
            from bench_review import fallback_policy, write_yaml  # type: ignore[import-not-found]
        except ImportError:
            sys.exit("error: needs tools/generate_policy.py (or tools/bench_review.py's fallback)")
        return fallback_policy, write_yaml, "fallback of tools/bench_review.py"
    return generate_policy, write_policy, "tools/generate_policy.py"


def widen_one_grant(document: dict[str, Any], seed: int) -> tuple[dict[str, Any], str]:
    """A copy of the policy with one allow grant on a leaf class widened to its top category."""
    classes = set(document["classes"])
    parents = {c.rpartition(".")[0] for c in classes}
    rng = random.Random(seed)
    grants = document["grants"]
    candidates = [
        i
        for i, g in enumerate(grants)
        if g.get("effect", "allow") == "allow"
        and len(g["classes"]) == 1
        and "." in g["classes"][0]
        and g["classes"][0] not in parents
        and "*" not in g["roles"]
    ]
    if not candidates:  # widen the first class of any grant naming a leaf
        candidates = [
            i
            for i, g in enumerate(grants)
            if g.get("effect", "allow") == "allow"
            and any("." in c and c not in parents for c in g["classes"])
        ]
    index = rng.choice(candidates)
    changed = copy.deepcopy(document)
    grant = changed["grants"][index]
    leaf = next(c for c in grant["classes"] if "." in c and c not in parents)
    top = leaf.split(".")[0]
    grant["classes"] = sorted({top if c == leaf else c for c in grant["classes"]})
    return changed, f"grant #{index} ({grant.get('id', '?')}): `{leaf}` -> `{top}`"


def full_comparison(old: Any, new: Any) -> tuple[list[str], list[str]]:
    """The plain reading: review both versions in full, compare every finding's fingerprint."""
    before = {f.fingerprint for f in review(old).findings}
    after = {f.fingerprint for f in review(new).findings}
    return sorted(after - before), sorted(before - after)


def timed(label: str, func: Callable[[], Any]) -> Any:
    """Run func, print how long it took."""
    started = time.perf_counter()
    value = func()
    print(f"  {label:<44} {time.perf_counter() - started:8.2f} s")
    return value


def main() -> None:
    """Generate, widen, time every phase, and compare with the naive baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=3000)
    parser.add_argument("--grants", type=int, default=30000)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--purposes", type=int, default=40)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=int, default=20, help="roles timed for the baseline")
    parser.add_argument("--findings", action="store_true", help="also time the review diff")
    parser.add_argument("--runs", type=int, default=3, help="runs of each `pdp diff` command")
    args = parser.parse_args()
    gc.disable()  # the collector policy of `pdp`'s batch commands (`pdp.cli.app.main`)

    generate, write, source = generator()
    print(
        f"policy: {args.roles} roles, {args.grants} grants, {args.classes} classes, "
        f"{args.purposes} purposes, {args.users} users (generator: {source}, seed {args.seed})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        old_path, new_path = Path(tmp) / "old.yaml", Path(tmp) / "new.yaml"
        document = generate(
            grants=args.grants,
            roles=args.roles,
            users=args.users,
            classes=args.classes,
            purposes=args.purposes,
            sod_rules=20,
            toxic_rules=10,
            seed=args.seed,
        )
        changed, what = widen_one_grant(document, args.seed)
        write(document, old_path)
        write(changed, new_path)
        print(f"change: {what}")
        total = time.perf_counter()
        old = timed("load + compile old", lambda: compile_policy(load_policy(old_path)))
        new = timed("load + compile new", lambda: compile_policy(load_policy(new_path)))
        sequential = time.perf_counter() - total
        diff = timed("symbolic diff", lambda: diff_policies(old, new))
        timed("render text", lambda: render_text(diff))
        in_process = time.perf_counter() - total
        started = time.perf_counter()
        with Steps(2) as steps:
            both = load_both(steps, str(old_path), str(new_path), str(old_path), None)
        at_once = time.perf_counter() - started
        assert [c.version for c in both] == [old.version, new.version]
        print(
            f"  {'load + compile both at once (--jobs 2)':<44} {at_once:8.2f} s   "
            f"({sequential / at_once:.2f}x the one-after-the-other {sequential:.2f} s)"
        )
        if args.findings:
            findings = timed(
                "new/resolved findings (focused review)", lambda: review_changes(old, new)
            )
            diff.new_findings, diff.resolved_findings = findings
            started = time.perf_counter()
            with Steps(2) as steps:
                together = diff_of(steps, old, new, findings=True)
            at_once = time.perf_counter() - started
            print(f"  {'diff and findings at once (--jobs 2)':<44} {at_once:8.2f} s")
            assert together.to_dict() == diff.to_dict(), "--jobs 2 differs from --jobs 1"
            plain = timed(
                "baseline: full reviews, every fingerprint", lambda: full_comparison(old, new)
            )
            same = plain == (
                [f.fingerprint for f in diff.new_findings],
                [f.fingerprint for f in diff.resolved_findings],
            )
            print(f"  {'same new/resolved findings as the baseline':<44} {'yes' if same else 'NO'}")
        s = diff.summary()
        print(
            f"  -> {s['added']} added, {s['removed']} removed, {s['roles_gaining']} roles and "
            f"{s['users_gaining']} users gaining, {s['obligations_changed']} obligation changes, "
            f"{s['keys_evaluated']} keys evaluated"
        )
        print(f"  {'in-process total (load, compile, diff, render)':<44} {in_process:8.2f} s")
        cache_dir = Path(tmp) / "cache"
        runs: list[list[str]] = [["--no-findings", "--no-cache"]]
        if args.findings:
            runs += [["--no-cache"], ["--jobs", "1", "--no-cache"], []]
        for flags in runs:
            command = ["diff", str(old_path), str(new_path), *flags, "--format", "json"]
            times, codes = [], set()
            for _ in range(args.runs):
                started = time.perf_counter()
                done = subprocess.run(
                    [str(ROOT / ".venv" / "bin" / "pdp"), *command],
                    capture_output=True,
                    check=False,
                    env={**os.environ, "PDP_CACHE_DIR": str(cache_dir)},
                )
                times.append(time.perf_counter() - started)
                codes.add(done.returncode)
            label = f"`pdp diff {' '.join(flags)} --format json` (exit {'/'.join(map(str, codes))})"
            spread = f"{min(times):.2f}-{max(times):.2f}" if len(times) > 1 else f"{times[0]:.2f}"
            print(
                f"  {label.replace('  ', ' '):<44} {spread:>8} s   ({len(times)} runs; "
                f"target < 10 s: {'met' if max(times) < 10 else 'MISSED'})"
            )

        roles = sorted(old.role_closure)[: args.sample]
        started = time.perf_counter()
        for role in roles:
            held_permissions(old, old.role_closure[role])
            held_permissions(new, new.role_closure[role])
        per_role = (time.perf_counter() - started) / max(1, len(roles))
        print(
            f"baseline: naive held_permissions of every role in both versions: "
            f"{per_role * 1000:.1f} ms/role x {len(old.role_closure)} roles ≈ "
            f"{per_role * len(old.role_closure):.0f} s (extrapolated from {len(roles)} roles)"
        )


if __name__ == "__main__":
    main()
