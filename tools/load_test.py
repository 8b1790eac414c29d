"""Load test of `pdp serve --workers 1` (decision log on) against a bare FastAPI baseline.

    .venv/bin/python tools/load_test.py [--duration 10] [--connections 16] [--json]

In one run, on loopback, bounded in time: single-decision throughput of pdp
and of `tools/bare_app.py` (same body, same validation, constant answer) and
their ratio (target >= 0.7); batch throughput with batches of 1,000 (target
>= 100,000 decisions/s); p50/p99 latency of each. Uses wrk when installed
(`apt-get install -y wrk`), else an asyncio/httpx generator (slower: it then
measures the generator as much as the server). Not a test: numbers depend on
the machine.

First, in process (`--in-process-only` stops there): the CPU time of a batch
of 1,000 through the ASGI app (validation, deciding, log records, metrics,
monitor, encoding), against `DecisionPoint.decide_many` of the same requests
in the same run; and single decisions through pdp's app against the bare
app's, without the HTTP server both share. On a shared machine the HTTP
figures move with other work; these do not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PDP = Path(sys.executable).parent / "pdp"
POLICY = ROOT / "policies"


@dataclass
class Result:
    """One measured load: requests and decisions per second, latency percentiles in ms."""

    name: str
    requests: int
    seconds: float
    errors: int
    rps: float
    decisions_per_s: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], path: str, seconds: float = 60) -> None:
    """Poll until the server answers 200 on `path` (or fail if it exits)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} not ready after {seconds}s")


def start_pdp(
    port: int, log_url: str, policy: Path = POLICY, workers: int = 1
) -> subprocess.Popen[bytes]:
    """Start `pdp serve` with the decision log on."""
    process = subprocess.Popen(
        [
            str(PDP),
            "serve",
            str(policy),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log",
            log_url,
            "--no-watch",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_ready(f"http://127.0.0.1:{port}", process, "/readyz")
    return process


def start_bare(port: int) -> subprocess.Popen[bytes]:
    """Start the bare FastAPI baseline."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "bare_app.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_ready(f"http://127.0.0.1:{port}", process, "/openapi.json")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server cleanly (SIGINT: uvicorn drains, the log writes its queue)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def corpus(n: int = 200, seed: int = 7) -> list[dict[str, Any]]:
    """Requests over the bundled policy's ids: half reach an allow grant with a context that
    meets its requirements (mostly allows), half are drawn at random (mostly denies)."""
    from bench_decide import matching_queries

    from pdp.core.compile import compile_policy
    from pdp.core.load import load_policy

    policy = load_policy(POLICY)
    rng = random.Random(seed)
    roles, users = sorted(policy.roles), sorted(policy.users)
    classes, purposes = sorted(policy.classes), sorted(policy.purposes)
    # Break-glass is the exception (a handful of uses a day, each raising an alert that is
    # logged and delivered), not the traffic a service is sized for: left out.
    requests = matching_queries(compile_policy(policy), n - n // 2, seed, break_glass=False)
    for i in range(n // 2):
        subject = {"role": rng.choice(roles)} if i % 3 else {"user": rng.choice(users)}
        requests.append(
            {
                **subject,
                "info_class": rng.choice(classes),
                "purpose": rng.choice(purposes),
                "action": rng.choice(policy.actions),
            }
        )
    rng.shuffle(requests)
    return requests


WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "%(path)s", nil, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format(
    "JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"errors\\": %%d, "
    .. "\\"non2xx\\": %%d, \\"p50\\": %%f, \\"p99\\": %%f}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def run_wrk(
    name: str,
    url: str,
    path: str,
    bodies: list[str],
    per_request: int,
    args: argparse.Namespace,
    connections: int,
) -> Result:
    """Drive one endpoint with wrk for `args.duration` seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "bodies.txt"
        body_file.write_text("\n".join(bodies) + "\n")
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT % {"bodies": body_file, "path": path})
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{args.duration}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 60,
            check=True,
        ).stdout
    match = re.search(r"^JSON (.*)$", out, re.M)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    data = json.loads(match.group(1))
    rps = data["requests"] / data["seconds"]
    return Result(
        name,
        data["requests"],
        data["seconds"],
        data["errors"] + data["non2xx"],
        rps,
        rps * per_request,
        data["p50"],
        data["p99"],
    )


def run_httpx(
    name: str,
    url: str,
    path: str,
    bodies: list[str],
    per_request: int,
    args: argparse.Namespace,
    connections: int,
) -> Result:
    """Drive one endpoint with an asyncio/httpx generator (used when wrk is missing)."""
    import asyncio

    async def main() -> Result:
        latencies: list[float] = []
        errors = 0
        cycle = itertools.cycle(bodies)
        deadline = time.monotonic() + args.duration
        limits = httpx.Limits(max_connections=connections)
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(base_url=url, limits=limits) as client:

            async def worker() -> None:
                nonlocal errors
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    response = await client.post(path, content=next(cycle), headers=headers)
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code != 200

            began = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(connections)))
            seconds = time.monotonic() - began
        latencies.sort()
        n = len(latencies)
        rps = n / seconds
        return Result(
            name,
            n,
            seconds,
            errors,
            rps,
            rps * per_request,
            latencies[n // 2] * 1000,
            latencies[min(n - 1, int(n * 0.99))] * 1000,
        )

    return asyncio.run(main())


def median(values: list[float]) -> float:
    """The median of a few values."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the loads, bare and pdp interleaved round by round, and return the figures.

    Both servers run side by side (an idle one costs nothing); alternating
    them in short rounds makes the ratio robust to other load on the machine.
    """
    drive = run_wrk if shutil.which("wrk") and not args.httpx else run_httpx
    requests = corpus()
    singles = [json.dumps(r) for r in requests]
    rng = random.Random(11)
    batches = [
        json.dumps({"requests": [rng.choice(requests) for _ in range(args.batch)]})
        for _ in range(8)
    ]
    tmp = tempfile.mkdtemp(prefix="pdp-load-")
    db = Path(tmp) / "load.db"
    bare_port, pdp_port = free_port(), free_port()
    bare_url, pdp_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{pdp_port}"
    warm = argparse.Namespace(duration=2, httpx=args.httpx)
    rounds: list[tuple[Result, Result]] = []
    latency: Result | None = None
    batch_results: list[Result] = []
    bare = start_bare(bare_port)
    server = start_pdp(pdp_port, f"sqlite:///{db}", workers=args.workers)
    try:
        drive("warm-up", bare_url, "/v1/decisions", singles, 1, warm, args.connections)
        warm_pdp = drive("warm-up", pdp_url, "/v1/decisions", singles, 1, warm, args.connections)
        for _ in range(args.rounds):
            rounds.append(
                (
                    drive(
                        "bare FastAPI, single",
                        bare_url,
                        "/v1/decisions",
                        singles,
                        1,
                        args,
                        args.connections,
                    ),
                    drive(
                        "pdp serve, single",
                        pdp_url,
                        "/v1/decisions",
                        singles,
                        1,
                        args,
                        args.connections,
                    ),
                )
            )
        latency = drive("pdp serve, single, 1 conn", pdp_url, "/v1/decisions", singles, 1, args, 1)
        for _ in range(args.rounds):
            batch_results.append(
                drive(
                    f"pdp serve, batch of {args.batch}",
                    pdp_url,
                    "/v1/decisions/batch",
                    batches,
                    args.batch,
                    args,
                    args.batch_connections,
                )
            )
    finally:
        stop(bare)
        stop(server)
    logged, dropped = verify_log(db)
    answered = warm_pdp.requests + sum(p.requests for _, p in rounds)
    answered += (latency.requests if latency is not None else 0) + sum(
        r.requests * args.batch for r in batch_results
    )
    ratios = [p.rps / b.rps for b, p in rounds]
    batch_best = max(batch_results, key=lambda r: r.rps)
    return {
        "generator": drive.__name__.removeprefix("run_"),
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "rounds": [[asdict(b), asdict(p)] for b, p in rounds],
        "batches": [asdict(r) for r in batch_results],
        "latency_one_connection": None if latency is None else asdict(latency),
        "single_ratio_median": median(ratios),
        "single_ratios": ratios,
        "bare_rps_median": median([b.rps for b, _ in rounds]),
        "pdp_rps_median": median([p.rps for _, p in rounds]),
        "batch_decisions_per_s_median": median([r.decisions_per_s for r in batch_results]),
        "batch_decisions_per_s_best": batch_best.decisions_per_s,
        "errors": sum(r.errors for pair in rounds for r in pair)
        + sum(r.errors for r in batch_results),
        "logged_decisions": logged,
        "answered_decisions": answered,
        "dropped_log_records": dropped,
        "log": f"sqlite:///{db}",
    }


async def asgi_post(app: Any, path: str, body: bytes) -> int:
    """POST a JSON body to an ASGI app directly (no server, no network); the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8181),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


SINGLES = 1000  # single decisions a round, in process


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    """Server-side cost of a batch: the ASGI app called directly, against the decision point alone.

    No network and no load generator; CPU time of this process (time spent
    descheduled by other work does not count; the decision log's writer
    process is not counted). Per round: `--batches` batches through the app
    (validation, deciding, log records, metrics, monitor, encoding), then the
    same requests through `DecisionPoint.decide_many` alone (the baseline);
    then `SINGLES` single decisions through the bare FastAPI app and through
    pdp's (the ratio bare CPU / pdp CPU: pdp's single throughput relative to
    the bare endpoint's, without the HTTP server both share).
    """
    import asyncio

    from pdp.decision_point import DecisionPoint
    from pdp.service import ServiceConfig, create_app
    from pdp.service.app import freeze_startup_heap
    from pdp.wire import decode_batch

    sys.path.insert(0, str(ROOT / "tools"))
    from bare_app import app as bare

    rng = random.Random(11)
    requests = corpus()
    bodies = [
        json.dumps({"requests": [rng.choice(requests) for _ in range(args.batch)]}).encode()
        for _ in range(8)
    ]
    questions = [[r.decide_args() for r in decode_batch(b).requests] for b in bodies]
    tmp = tempfile.mkdtemp(prefix="pdp-asgi-load-")
    dp = DecisionPoint.from_path(POLICY)
    app = create_app(dp, ServiceConfig(log=f"sqlite:///{tmp}/asgi.db", watch=False))
    freeze_startup_heap()

    async def service(count: int) -> float:
        started = time.process_time()
        for i in range(count):
            if await asgi_post(app, "/v1/decisions/batch", bodies[i % len(bodies)]) != 200:
                raise SystemExit("the batch endpoint did not answer 200")
        return time.process_time() - started

    def core(count: int) -> float:
        started = time.process_time()
        for i in range(count):
            dp.decide_many(questions[i % len(questions)])
        return time.process_time() - started

    singles = [json.dumps(r).encode() for r in requests]

    async def single(target: Any, count: int) -> float:
        started = time.process_time()
        for i in range(count):
            if await asgi_post(target, "/v1/decisions", singles[i % len(singles)]) != 200:
                raise SystemExit("a single decision was not answered 200")
        return time.process_time() - started

    async def run() -> tuple[list[float], list[float], list[float]]:
        await service(args.batches)  # warm the memo and the log writer
        await single(app, SINGLES)
        await single(bare, SINGLES)
        served, alone, ratios = [], [], []
        for _ in range(args.rounds):
            served.append(await service(args.batches) / args.batches)
            alone.append(core(args.batches) / args.batches)
            ratios.append(await single(bare, SINGLES) / await single(app, SINGLES))
            app.state.service.log.flush(30)  # the writer keeps up between rounds
        return served, alone, ratios

    try:
        served, alone, ratios = asyncio.run(run())
    finally:
        app.state.service.log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "in_process_batch_ms": median(served) * 1000,
        "in_process_batch_decisions_per_s": args.batch / median(served),
        "in_process_core_batch_ms": median(alone) * 1000,
        "in_process_batch_ms_rounds": [s * 1000 for s in served],
        "in_process_single_ratio_median": median(ratios),
        "in_process_single_ratios": ratios,
    }


def verify_log(db: Path) -> tuple[int, int]:
    """Check the log's chain with `pdp log verify`; count its decisions and dropped records."""
    import sqlite3

    check = subprocess.run(
        [str(PDP), "log", "verify", f"sqlite:///{db}"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise SystemExit(f"pdp log verify failed: {check.stdout}{check.stderr}")
    with sqlite3.connect(db) as conn:
        (decisions,) = conn.execute(
            "SELECT count(*) FROM pdp_log WHERE json_extract(body, '$.kind') = 'decision'"
        ).fetchone()
        (dropped,) = conn.execute(
            "SELECT coalesce(sum(json_extract(body, '$.detail.dropped')), 0) FROM pdp_log "
            "WHERE json_extract(body, '$.reasons[0]') = 'log_records_dropped'"
        ).fetchone()
    return int(decisions), int(dropped)


def main() -> None:
    """Parse options, measure, print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per load (max 60)")
    parser.add_argument("--rounds", type=int, default=5, help="bare/pdp rounds (max 10)")
    parser.add_argument("--workers", type=int, default=1, help="pdp serve --workers")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--httpx", action="store_true", help="use the httpx generator, not wrk")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep-log", action="store_true", help="keep the decision log")
    parser.add_argument("--batches", type=int, default=20, help="batches a round, in process")
    parser.add_argument(
        "--in-process-only", action="store_true", help="skip the HTTP loads (no server, no wrk)"
    )
    args = parser.parse_args()
    args.duration = max(1, min(args.duration, 60))
    args.rounds = max(1, min(args.rounds, 10))
    args.batches = max(1, min(args.batches, 200))
    figures = in_process(args)
    if not args.json:
        print(
            f"in process (ASGI app called directly, CPU time, {args.rounds} rounds of "
            f"{args.batches}): batch of {args.batch} {figures['in_process_batch_ms']:.1f} ms "
            f"({figures['in_process_batch_decisions_per_s']:,.0f} decisions/s); baseline, "
            f"DecisionPoint.decide_many alone: {figures['in_process_core_batch_ms']:.1f} ms; "
            f"single decisions pdp/bare: median {figures['in_process_single_ratio_median']:.2f} "
            f"({', '.join(f'{x:.2f}' for x in figures['in_process_single_ratios'])})"
        )
    if not args.in_process_only:
        figures |= measure(args)
        if not args.keep_log:  # a run's log holds millions of records (about 1 GB)
            log_dir = Path(figures["log"].removeprefix("sqlite:///")).parent
            shutil.rmtree(log_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    if args.in_process_only:
        return
    print(
        f"generator {figures['generator']}, {figures['cpus']} CPUs, pdp --workers "
        f"{figures['workers']}, decision log on, {args.rounds} rounds of {args.duration}s, loopback"
    )
    print(
        f"{'load':28} {'req/s':>10} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    rows = [r for pair in figures["rounds"] for r in pair]
    rows += [figures["latency_one_connection"], *figures["batches"]]
    for r in rows:
        print(
            f"{r['name']:28} {r['rps']:10.0f} {r['decisions_per_s']:12.0f} "
            f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}"
        )
    ratio = figures["single_ratio_median"]
    batch = figures["batch_decisions_per_s_median"]
    print(
        f"single-decision throughput pdp/bare: median ratio {ratio:.2f} over rounds "
        f"({', '.join(f'{x:.2f}' for x in figures['single_ratios'])}); target >= 0.70: "
        f"{'OK' if ratio >= 0.7 else 'BELOW TARGET'}"
    )
    print(
        f"batch throughput: median {batch:,.0f} decisions/s, best "
        f"{figures['batch_decisions_per_s_best']:,.0f}; target >= 100,000: "
        f"{'OK' if batch >= 100_000 else 'BELOW TARGET'}"
    )
    complete = figures["logged_decisions"] >= figures["answered_decisions"]
    print(
        f"errors: {figures['errors']}; decision log: {figures['logged_decisions']:,} decisions "
        f"for {figures['answered_decisions']:,} answered (warm-up included; "
        f"{'all logged' if complete else 'SOME MISSING'}), {figures['dropped_log_records']} "
        "dropped, `pdp log verify` OK"
    )


if __name__ == "__main__":
    main()
