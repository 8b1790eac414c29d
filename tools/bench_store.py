"""Benchmarks of the policy store and its replicas, on loopback, bounded in count and time.

    .venv/bin/python tools/bench_store.py [--pushes 50] [--seconds 10] [--json]

1. Push to all replicas: three `pdp serve --db` replicas; each of `--pushes`
   pushes alternates two versions of the bundled policy; the time from the
   push's commit to the moment every replica answers with the new version
   (median and worst; target: every push within 2 s). The baseline of the
   same run: the time to push alone. This is where the 2 s is measured:
   tests/store/test_replicas.py only checks that every push arrives.
2. Decisions/s: batch decisions (batches of 1,000) for `--seconds` against
   three replicas with the PostgreSQL decision log, and against one replica
   with the SQLite log (the embedded default); the ratio of the two.

Needs PostgreSQL at 127.0.0.1:5432 (trust auth); creates and drops a database
of its own. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pdp.store.db import upgrade  # noqa: E402
from pdp.store.policy_store import PolicyStore  # noqa: E402
from pdp.store.source import named_texts  # noqa: E402
from tools.load_test import free_port  # noqa: E402

PDP = Path(sys.executable).parent / "pdp"
POLICIES = ROOT / "policies"
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PUSH_TARGET_S = 2.0  # a push reaches every replica within this (issue: replicas in sync)
ASK = {
    "role": "teller",
    "info_class": "identity.id_number",
    "purpose": "account_opening",
    "action": "use",
}


def admin(statement: str) -> None:
    """Run one statement on the `postgres` database, outside a transaction."""
    engine = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def start(args: list[str]) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `pdp serve ARGS` on a free port; wait until it is ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(PDP), "serve", *args, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("pdp serve did not become ready")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the servers (SIGINT, then wait)."""
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def push_to_all(db: str, urls: list[str], pushes: int, work: Path) -> dict[str, float]:
    """Median and worst push-to-all-replicas time, and the push alone (the baseline)."""
    partial = work / "partial"
    shutil.copytree(POLICIES, partial)
    (partial / "50-prohibitions.yaml").unlink()
    versions = [named_texts(POLICIES)[0], named_texts(partial)[0]]
    store = PolicyStore.open(db)
    spread, alone = [], []
    clients = [httpx.Client(base_url=url, timeout=5) for url in urls]
    try:
        for n in range(pushes):
            started = time.perf_counter()
            version = store.push(versions[(n + 1) % 2], f"bench {n}").version
            pushed = time.perf_counter()
            pending = list(clients)
            while pending:
                pending = [c for c in pending if c.get("/v1/policy").json()["version"] != version]
            spread.append(time.perf_counter() - pushed)
            alone.append(pushed - started)
    finally:
        store.close()
        for client in clients:
            client.close()
    return {
        "push_to_all_median_s": statistics.median(spread),
        "push_to_all_worst_s": max(spread),
        "push_to_all_within_2s": sum(s <= PUSH_TARGET_S for s in spread) / len(spread),
        "push_alone_median_s": statistics.median(alone),
    }


def decisions_per_second(urls: list[str], seconds: float) -> float:
    """Batch decisions per second over all `urls` (one client thread per URL)."""
    body = {"requests": [ASK] * 1000}
    counts = [0] * len(urls)
    stop_at = time.monotonic() + seconds

    def hammer(index: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.monotonic() < stop_at:
                if client.post("/v1/decisions/batch", json=body).status_code == 200:
                    counts[index] += 1000

    threads = [threading.Thread(target=hammer, args=(i, u)) for i, u in enumerate(urls)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    name = f"pdp_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin(f'CREATE DATABASE "{name}"')
    db = f"postgresql://postgres@127.0.0.1:5432/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            upgrade(db)
            store = PolicyStore.open(db)
            store.push(named_texts(POLICIES)[0], "baseline")
            store.close()
            replicas = []
            for _ in range(3):
                url, process = start(["--db", db, "--log", db])
                replicas.append(url)
                processes.append(process)
            results.update(push_to_all(db, replicas, options.pushes, work))
            results["three_replicas_pg_log_decisions_per_s"] = decisions_per_second(
                replicas, options.seconds
            )
            stop(processes)
            processes.clear()
            url, process = start([str(POLICIES), "--log", f"sqlite:///{work / 'log.db'}"])
            processes.append(process)
            results["one_sqlite_decisions_per_s"] = decisions_per_second([url], options.seconds)
            results["ratio_three_pg_to_one_sqlite"] = (
                results["three_replicas_pg_log_decisions_per_s"]
                / results["one_sqlite_decisions_per_s"]
            )
        finally:
            stop(processes)
            admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            admin(f'DROP DATABASE IF EXISTS "{name}"')
    results["pushes"] = options.pushes
    results["cpus"] = os.cpu_count()
    if options.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key:40} {value:.3f}" if isinstance(value, float) else f"{key:40} {value}")


if __name__ == "__main__":
    main()
