"""Benchmark of accountability: what the context facts, the customer HMAC and the new alerts cost.

    .venv/bin/python tools/bench_accountability.py [--records 100000] [--repeat 5]

Measures, in one run and best of `--repeat` (the machine is shared):
- building and encoding a decision record (`decision_record` + `canonical_json`)
  with an empty context (the baseline), with a version-1 consent, and with a
  full version-2 context whose customer reference is HMAC'd; printed per record
  with the ratio to the baseline and the body's size in bytes;
- the monitor over the same decisions with the three older rules only (the
  baseline) and with `break_glass_used`, `bulk_access` and `off_hours` on.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from pdp.audit.accountability import CustomerKey, CustomerKeys
from pdp.audit.record import canonical_json, decision_record
from pdp.core.compile import compile_policy
from pdp.core.decision import Decision, Request
from pdp.core.load import load_policy_text
from pdp.monitor import AlertConfig, BreakGlass, BulkAccess, Monitor, Observation, OffHours

KEYS = CustomerKeys([CustomerKey("k2026", b"0123456789abcdef0123456789abcdef")])
V1 = {"consent": ["marketing"]}
V2 = {
    "consent": ["marketing"],
    "mfa": True,
    "ticket": "INC-2026-0042",
    "approver": "u2002",
    "relationship": "own_customer",
    "records": 3,
    "customer": "CIF-0000123456",
}
POLICY = """
version: 1
actions: [use]
classes: {account: {level: C2}, public: {level: C1}}
purposes: {customer_service: {legal_basis: contract}}
roles: {teller: {duties: [customer_service]}}
grants:
  - {id: G, roles: [teller], classes: [account], purposes: [customer_service], actions: [use]}
users: {u1: {roles: [teller]}}
"""


def best_of(repeat: int, run: Callable[[], None]) -> float:
    """The best wall time of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def records_run(n: int, context: Mapping[str, Any]) -> Callable[[], None]:
    request = Request("user", "u1001", "account.balance", "customer_service", "use", context)
    decision = Decision(True, ("G-RM",), ("mask",), "sha256:0123456789ab", "0" * 32)

    def run() -> None:
        for _ in range(n):
            canonical_json(
                decision_record(
                    request, decision, "crm", "0" * 32, "2026-12-07T10:00:00.000000Z", KEYS
                )
            )

    return run


def monitor_run(n: int, config: AlertConfig) -> Callable[[], None]:
    compiled = compile_policy(load_policy_text(POLICY))
    batch = [
        (
            Observation(
                f"app{i % 7}",
                "user",
                f"u{i % 500}",
                "account",
                "customer_service",
                "use",
                True,
                ("break_glass",) if i % 100 == 0 else (),
                1 + i % 3,
                "INC-1",
            ),
            1,
        )
        for i in range(1000)
    ]

    def run() -> None:
        monitor = Monitor(config, compiled)
        now = 1_800_000_000.0
        for start in range(0, n, 1000):
            monitor.observe_counted(batch, now + start / 1000)

    return run


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.records, args.repeat
    print(f"{n:,} records, best of {repeat}")
    base = best_of(repeat, records_run(n, {}))
    request = Request("user", "u1001", "account.balance", "customer_service", "use", {})
    print(f"record, empty context (baseline)  {base / n * 1e6:6.2f} µs")
    for label, context in (("v1 consent", V1), ("v2 context + customer HMAC", V2)):
        took = best_of(repeat, records_run(n, context))
        size = len(
            canonical_json(
                decision_record(
                    replace(request, context=context),
                    Decision(True, ("G-RM",), ("mask",), "v"),
                    "crm",
                    customer_keys=KEYS,
                )
            ).encode()
        )
        print(f"record, {label:27}{took / n * 1e6:6.2f} µs  ({took / base:.2f}x)  body {size} B")
    older = AlertConfig(
        break_glass=BreakGlass(False), bulk_access=BulkAccess(enabled=False), off_hours=OffHours()
    )
    newer = AlertConfig(off_hours=OffHours(enabled=True, hours="00:00-00:01"))
    base = best_of(repeat, monitor_run(n, older))
    took = best_of(repeat, monitor_run(n, newer))
    print(f"monitor, three older rules (baseline) {base / n * 1e6:6.2f} µs a decision")
    print(f"monitor, with the three new rules     {took / n * 1e6:6.2f} µs  ({took / base:.2f}x)")


if __name__ == "__main__":
    main()
