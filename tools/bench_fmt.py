"""Benchmark of `pdp fmt --check` on a bank-sized generated policy.

    .venv/bin/python tools/bench_fmt.py [--grants 30000 --roles 3000 --users 100000 --seed 0]

Generates a policy with tools/generate_policy.py (one file per section) and
times, in CPU seconds of this process:

- `check`: what `pdp fmt --check` and the `pdp ci` format step run
  (`needs_format`, the layout normal form, nothing loaded);
- `write`: what `pdp fmt` runs on a file that changes (`format_text`, which
  also loads both texts to prove the data is the same);
- baseline: a ruamel.yaml round trip of every file (what `pdp fmt --check`
  ran before the layout normal form, and `--sort` runs today), timed in the
  same run.

Prints each time and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from generate_policy import generate_policy, write_policy  # type: ignore[import-not-found]  # noqa: E402

from pdp.policyci.fmt import format_text, needs_format, sorted_text  # noqa: E402


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    """Generate the policy, time the three ways, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=30_000)
    parser.add_argument("--roles", type=int, default=3_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        policy = generate_policy(
            grants=args.grants, roles=args.roles, users=args.users, seed=args.seed
        )
        texts = [f.read_text(encoding="utf-8") for f in sorted(write_policy(policy, tmp).iterdir())]
    lines = sum(t.count("\n") for t in texts)
    print(f"{len(texts)} files, {lines:,} lines, {args.grants:,} grants")
    baseline = _cpu(lambda: [sorted_text(t) for t in texts])
    check = _cpu(lambda: [needs_format(t) for t in texts])
    write = _cpu(lambda: [format_text(t) for t in texts])
    print(f"baseline  ruamel.yaml round trip   {baseline:7.2f} s")
    print(f"check     pdp fmt --check          {check:7.2f} s  {baseline / check:5.1f}x faster")
    print(f"write     pdp fmt (verified)       {write:7.2f} s  {baseline / write:5.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
