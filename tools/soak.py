"""Soak test of `pdp serve`: a fixed request rate for a long time, memory sampled every minute.

    .venv/bin/python tools/soak.py                     # 10 minutes at 100 requests/s
    .venv/bin/python tools/soak.py --duration 120      # a shortened run

Starts `pdp serve --workers 1` (decision log on, a token required, file
watching on), warms up, then sends single decisions and batches at a fixed
rate (open loop) for `--duration` seconds, sampling the RSS of the server
and its decision-log writer process together every `--sample` seconds.
Passes (exit 0) when: RSS grew at most 10% from the first sample after
warm-up, no request failed, every decision id returned is in the decision log,
and `pdp log verify` passes after a clean shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import PDP, POLICY, corpus, free_port, stop, wait_ready

TOKEN = "soak-token"
MAX_IN_FLIGHT = 32  # when the server falls behind, the rate drops rather than the queue growing


def rss_kib(pid: int) -> int:
    """The resident set size of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def children(pid: int) -> list[int]:
    """The child processes of a process (the decision log's writer process)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_rss(pid: int) -> tuple[int, int]:
    """RSS in KiB of the server, and of the server and its child processes together."""
    server = rss_kib(pid)
    return server, server + sum(rss_kib(c) for c in children(pid))


def start(port: int, db: Path, tmp: Path) -> subprocess.Popen[bytes]:
    """Start `pdp serve` with a token and the decision log."""
    from pdp.service.auth import hash_token

    config = tmp / "pdp.yaml"
    config.write_text(
        f"tokens:\n  - {{name: soak, sha256: {hash_token(TOKEN)}, scopes: [decide]}}\n"
    )
    process = subprocess.Popen(
        [
            str(PDP),
            "serve",
            str(POLICY),
            "--port",
            str(port),
            "--workers",
            "1",
            "--config",
            str(config),
            "--log",
            f"sqlite:///{db}",
            "--watch",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_ready(f"http://127.0.0.1:{port}", process, "/readyz")
    return process


class Load:
    """An open-loop load at a fixed rate; collects decision ids and failures."""

    def __init__(self, url: str, rate: float, batch_every: int, batch_size: int) -> None:
        self.url = url
        self.rate = rate
        self.batch_every = batch_every
        self.batch_size = batch_size
        self.ids: list[str] = []
        self.failures: list[str] = []
        self.sent = 0
        self.late = 0
        self.requests = corpus()
        self.rng = random.Random(3)

    async def one(self, client: httpx.AsyncClient, n: int) -> None:
        try:
            if self.batch_every and n % self.batch_every == 0:
                body = {"requests": self.rng.sample(self.requests, self.batch_size)}
                response = await client.post("/v1/decisions/batch", json=body)
                if response.status_code == 200:
                    self.ids += [r["decision_id"] for r in response.json()["results"]]
            else:
                response = await client.post("/v1/decisions", json=self.rng.choice(self.requests))
                if response.status_code == 200:
                    self.ids.append(response.json()["decision_id"])
            if response.status_code != 200:
                self.failures.append(f"{response.status_code}: {response.text[:200]}")
        except httpx.HTTPError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    async def run(self, seconds: float, on_tick: object = None) -> None:
        headers = {"authorization": f"Bearer {TOKEN}"}
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, limits=limits, timeout=10
        ) as client:
            began = time.monotonic()
            tasks: set[asyncio.Task[None]] = set()
            n = 0
            while (elapsed := time.monotonic() - began) < seconds:
                due = int(elapsed * self.rate)
                while n < due and len(tasks) < MAX_IN_FLIGHT:
                    task = asyncio.create_task(self.one(client, self.sent))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    n += 1
                    self.sent += 1
                if n < due:
                    self.late += due - n
                    n = due
                await asyncio.sleep(0.005)
            if tasks:
                await asyncio.gather(*tasks)


async def soak(args: argparse.Namespace, process: subprocess.Popen[bytes], url: str) -> list[int]:
    """Warm up, then run the load while sampling RSS; return the samples (KiB)."""
    load = args.load
    await load.run(args.warmup)
    server, total = tree_rss(process.pid)
    samples = [total]
    print(
        f"t=0s rss={total / 1024:.1f} MiB (server {server / 1024:.1f}, log writer "
        f"{(total - server) / 1024:.1f}; after {args.warmup:.0f}s warm-up)",
        flush=True,
    )
    elapsed = 0.0
    while elapsed < args.duration:
        step = min(args.sample, args.duration - elapsed)
        await load.run(step)
        elapsed += step
        server, total = tree_rss(process.pid)
        samples.append(total)
        print(
            f"t={elapsed:.0f}s rss={total / 1024:.1f} MiB (server {server / 1024:.1f}, log "
            f"writer {(total - server) / 1024:.1f}) sent={load.sent} "
            f"ok={len(load.ids)} failed={len(load.failures)} skipped(late)={load.late}",
            flush=True,
        )
    return samples


def logged_ids(db: Path) -> tuple[set[str], int]:
    """The decision ids in the log, and how many records it holds."""
    from pdp.audit import read_records

    ids: set[str] = set()
    total = 0
    for record in read_records(f"sqlite:///{db}"):
        total += 1
        if record.kind == "decision":
            ids.add(record.decision_id)
    return ids, total


def main() -> None:
    """Run the soak and print the verdict; exit 1 on any failed check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds (max 3600)")
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument("--sample", type=float, default=60, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--batch-every", type=int, default=20, help="every Nth request a batch")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--max-growth", type=float, default=0.10)
    args = parser.parse_args()
    args.duration = max(1.0, min(args.duration, 3600.0))
    tmp = Path(tempfile.mkdtemp(prefix="pdp-soak-"))
    db = tmp / "soak.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(port, db, tmp)
    args.load = Load(url, args.rate, args.batch_every, args.batch_size)
    try:
        samples = asyncio.run(soak(args, process, url))
    finally:
        stop(process)
    load: Load = args.load
    ids, total = logged_ids(db)
    verify = subprocess.run(
        [str(PDP), "log", "verify", f"sqlite:///{db}"], capture_output=True, text=True, check=False
    )
    growth = (samples[-1] - samples[0]) / samples[0]
    missing = set(load.ids) - ids
    checks = {
        f"rss growth {growth:+.1%} <= {args.max_growth:.0%}": growth <= args.max_growth,
        f"failed requests: {len(load.failures)}": not load.failures,
        f"decisions answered {len(load.ids)}, missing from the log {len(missing)}": not missing,
        f"server exit code {process.returncode}": process.returncode == 0,
        f"pdp log verify: {verify.stdout.strip() or verify.stderr.strip()}": verify.returncode == 0,
    }
    seconds = args.duration + args.warmup
    summary = {
        "rss_mib": [round(s / 1024, 1) for s in samples],
        "requests_sent": load.sent,
        "request_rate": round(load.sent / seconds, 1),
        "skipped_late": load.late,
        "decisions": len(load.ids),
        "log_records": total,
    }
    print(json.dumps(summary))
    for text, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    if load.failures:
        print("first failures:", *load.failures[:5], sep="\n  ")
    print(f"log: sqlite:///{db}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
