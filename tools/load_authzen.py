"""Load test: AuthZEN evaluation against the native `/v1/decisions` on one `pdp serve`.

    .venv/bin/python tools/load_authzen.py [--duration 4] [--rounds 5] [--connections 16] [--json]

In one run, on loopback, bounded in time: the same questions (the bundled
policy, allows and denies mixed) asked as `POST /v1/decisions` and as
`POST /access/v1/evaluation` against the same server (decision log on), in
rounds where each API goes first every other time, and the median of the
per-round throughput ratios (target >= 0.9); then boxcars of `--batch`
evaluations against native batches of the same size. The log is verified
afterwards (`pdp log verify`, records dropped). Uses wrk when installed, else
an asyncio/httpx generator (the drivers of tools/load_test.py). Not a test:
numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import (  # a sibling script, not a package
    POLICY,
    Result,
    asgi_post,
    corpus,
    free_port,
    median,
    run_httpx,
    run_wrk,
    start_pdp,
    stop,
    verify_log,
)

NATIVE, AUTHZEN = "/v1/decisions", "/access/v1/evaluation"
NATIVE_BATCH, AUTHZEN_BATCH = "/v1/decisions/batch", "/access/v1/evaluations"


def evaluation_of(question: dict[str, Any]) -> dict[str, Any]:
    """The AuthZEN evaluation of a native request."""
    kind = "role" if "role" in question else "user"
    return {
        "subject": {"type": kind, "id": question[kind]},
        "resource": {"type": "info_class", "id": question["info_class"]},
        "action": {"name": question["action"]},
        "context": {"purpose": question["purpose"]},
    }


def bodies_of(size: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """The same questions as native and AuthZEN singles, native batches and boxcars of `size`."""
    questions = corpus()
    rng = random.Random(11)
    picks = [[rng.choice(questions) for _ in range(size)] for _ in range(8)]
    return (
        [json.dumps(q) for q in questions],
        [json.dumps(evaluation_of(q)) for q in questions],
        [json.dumps({"requests": p}) for p in picks],
        [json.dumps({"evaluations": [evaluation_of(q) for q in p]}) for p in picks],
    )


Load = tuple[str, str, list[str], int, int]  # name, path, bodies, decisions a body, connections


def one_round(
    drive: Callable[..., Result],
    url: str,
    args: argparse.Namespace,
    n: int,
    native: Load,
    authzen: Load,
) -> tuple[Result, Result]:
    """The native and the AuthZEN load of round `n`; each goes first in every other round."""
    order = (native, authzen) if n % 2 == 0 else (authzen, native)
    done = [
        drive(name, url, path, bodies, per, args, conns) for name, path, bodies, per, conns in order
    ]
    return (done[0], done[1]) if n % 2 == 0 else (done[1], done[0])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Alternate native and AuthZEN loads round by round on one server; the figures."""
    drive = run_wrk if shutil.which("wrk") and not args.httpx else run_httpx
    native, authzen, native_batches, boxcars = bodies_of(args.batch)
    tmp = tempfile.mkdtemp(prefix="pdp-load-authzen-")
    db = Path(tmp) / "load.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    warm = argparse.Namespace(duration=2, httpx=args.httpx)
    singles: list[tuple[Result, Result]] = []
    batches: list[tuple[Result, Result]] = []
    server = start_pdp(port, f"sqlite:///{db}")
    answered = 0
    try:
        for path, bodies in ((NATIVE, native), (AUTHZEN, authzen)):
            answered += drive("warm-up", url, path, bodies, 1, warm, args.connections).requests
        size, conns = args.batch, args.batch_connections
        for n in range(args.rounds):
            native_load = ("native, single", NATIVE, native, 1, args.connections)
            authzen_load = ("authzen, single", AUTHZEN, authzen, 1, args.connections)
            singles.append(one_round(drive, url, args, n, native_load, authzen_load))
        for n in range(args.rounds):
            native_load = (f"native, batch of {size}", NATIVE_BATCH, native_batches, size, conns)
            authzen_load = (f"authzen, boxcar of {size}", AUTHZEN_BATCH, boxcars, size, conns)
            batches.append(one_round(drive, url, args, n, native_load, authzen_load))
        answered += sum(r.requests for pair in singles for r in pair)
        answered += sum(r.requests * size for pair in batches for r in pair)
    finally:
        stop(server)
    logged, dropped = verify_log(db)
    if not args.keep_log:
        shutil.rmtree(tmp, ignore_errors=True)
    single_ratios = [a.rps / n.rps for n, a in singles]
    batch_ratios = [a.decisions_per_s / n.decisions_per_s for n, a in batches]
    return {
        "generator": drive.__name__.removeprefix("run_"),
        "singles": [[asdict(n), asdict(a)] for n, a in singles],
        "batches": [[asdict(n), asdict(a)] for n, a in batches],
        "native_rps_median": median([n.rps for n, _ in singles]),
        "authzen_rps_median": median([a.rps for _, a in singles]),
        "single_ratio_median": median(single_ratios),
        "single_ratios": single_ratios,
        "batch_ratio_median": median(batch_ratios),
        "batch_ratios": batch_ratios,
        "errors": sum(r.errors for pair in singles + batches for r in pair),
        "answered_decisions": answered,
        "logged_decisions": logged,
        "dropped_log_records": dropped,
    }


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    """Server-side cost: the ASGI app called directly, native and AuthZEN in alternating blocks.

    No network and no load generator: each block sends `--block` requests one
    after another, timed in CPU time of this process (time spent descheduled
    by other work on the machine does not count; the decision log's writer
    process is not counted, and writes as much for both). The ratio of a pair
    of blocks is native CPU time / AuthZEN CPU time: AuthZEN throughput
    relative to native.
    """
    import asyncio
    import time

    from pdp.decision_point import DecisionPoint
    from pdp.service import ServiceConfig, create_app
    from pdp.service.app import freeze_startup_heap

    native, authzen, native_batch, boxcar = (
        [b.encode() for b in group] for group in bodies_of(args.batch)
    )
    tmp = tempfile.mkdtemp(prefix="pdp-asgi-authzen-")
    app = create_app(
        DecisionPoint.from_path(POLICY), ServiceConfig(log=f"sqlite:///{tmp}/asgi.db", watch=False)
    )
    freeze_startup_heap()

    async def call(path: str, body: bytes) -> None:
        status = await asgi_post(app, path, body)
        if status != 200:
            raise SystemExit(f"{path} answered {status}")

    async def timed(path: str, bodies: list[bytes], count: int) -> float:
        started = time.process_time()
        for i in range(count):
            await call(path, bodies[i % len(bodies)])
        return time.process_time() - started

    async def ratios(loads: list[tuple[str, list[bytes]]], count: int, blocks: int) -> list[float]:
        found = []
        for n in range(blocks):
            (native_path, native_bodies), (authzen_path, authzen_bodies) = loads
            if n % 2 == 0:
                native_s = await timed(native_path, native_bodies, count)
                authzen_s = await timed(authzen_path, authzen_bodies, count)
            else:
                authzen_s = await timed(authzen_path, authzen_bodies, count)
                native_s = await timed(native_path, native_bodies, count)
            found.append(native_s / authzen_s)
        return found

    async def run() -> tuple[list[float], list[float]]:
        await timed(NATIVE, native, args.block)  # warm both paths and their memos
        await timed(AUTHZEN, authzen, args.block)
        singles = await ratios([(NATIVE, native), (AUTHZEN, authzen)], args.block, args.blocks)
        boxcars = await ratios(
            [(NATIVE_BATCH, native_batch), (AUTHZEN_BATCH, boxcar)], 4, max(2, args.blocks // 2)
        )
        return singles, boxcars

    try:
        singles, boxcars = asyncio.run(run())
    finally:
        app.state.service.log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "in_process_single_ratio_median": median(singles),
        "in_process_single_ratios": singles,
        "in_process_batch_ratio_median": median(boxcars),
        "in_process_batch_ratios": boxcars,
    }


def main() -> None:
    """Parse options, measure, print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per load (max 60)")
    parser.add_argument("--rounds", type=int, default=5, help="native/AuthZEN rounds (max 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--httpx", action="store_true", help="use the httpx generator, not wrk")
    parser.add_argument("--block", type=int, default=200, help="requests a block, in process")
    parser.add_argument("--blocks", type=int, default=30, help="block pairs, in process (max 60)")
    parser.add_argument(
        "--in-process-only", action="store_true", help="skip the HTTP loads (no server, no wrk)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep-log", action="store_true", help="keep the decision log")
    args = parser.parse_args()
    args.duration = max(1, min(args.duration, 60))
    args.rounds = max(1, min(args.rounds, 10))
    args.blocks = max(2, min(args.blocks, 60))
    figures = in_process(args)
    if not args.in_process_only:
        figures |= measure(args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    ratios = ", ".join(f"{x:.2f}" for x in figures["in_process_single_ratios"])
    print(
        f"in process (ASGI app called directly, {args.blocks} alternating blocks of "
        f"{args.block} requests): AuthZEN / native, single: median "
        f"{figures['in_process_single_ratio_median']:.2f} ({ratios}); target >= 0.9"
    )
    ratios = ", ".join(f"{x:.2f}" for x in figures["in_process_batch_ratios"])
    print(
        f"in process: AuthZEN boxcar / native batch of {args.batch}: median "
        f"{figures['in_process_batch_ratio_median']:.2f} ({ratios})"
    )
    if args.in_process_only:
        return
    print(
        f"generator {figures['generator']}, pdp --workers 1, decision log on, "
        f"{args.rounds} rounds of {args.duration}s per load, loopback"
    )
    print(
        f"{'load':28} {'req/s':>10} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for r in [r for pair in figures["singles"] + figures["batches"] for r in pair]:
        print(
            f"{r['name']:28} {r['rps']:>10.0f} {r['decisions_per_s']:>12.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}"
        )
    ratios = ", ".join(f"{x:.2f}" for x in figures["single_ratios"])
    print(
        f"AuthZEN / native, single: median {figures['single_ratio_median']:.2f} ({ratios}); "
        f"target >= 0.9"
    )
    print(f"AuthZEN / native, boxcar vs batch: median {figures['batch_ratio_median']:.2f}")
    print(
        f"decision log: {figures['logged_decisions']} logged of "
        f"{figures['answered_decisions']} answered, {figures['dropped_log_records']} dropped"
    )


if __name__ == "__main__":
    main()
