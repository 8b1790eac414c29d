"""Benchmark of the decision log: append + flush throughput on SQLite and PostgreSQL.

    .venv/bin/python tools/bench_log.py [--records 200000] [--batch-size 1000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Measures, in one run: the hashing loop alone (the floor), then for each backend
the time from the first `append` to the end of `flush()` for `--records`
decision records (writer batches of `--batch-size`), and `verify` speed.
PostgreSQL is skipped when unreachable. Writes to a temporary directory and a
temporary schema, both removed afterwards. Target: >= 100,000 decisions/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from pdp.audit import LogRecord, open_log
from pdp.audit.chain import EMPTY_HEAD
from pdp.audit.record import now_iso
from pdp.audit.store import link

ROLES = ("teller", "branch_manager", "call_centre_agent", "data_analyst", "auditor")
CLASSES = ("identity.name", "identity.id_number", "account.balance", "contact.phone")


def records(n: int) -> list[LogRecord]:
    """`n` realistic decision records (distinct ids, a few subjects and classes)."""
    now = now_iso()
    return [
        LogRecord(
            kind="decision",
            decision_id=uuid.uuid4().hex,
            time=now,
            caller="crm",
            subject_kind="role",
            subject=ROLES[i % len(ROLES)],
            info_class=CLASSES[i % len(CLASSES)],
            purpose="customer_service",
            action="read",
            allowed=i % 3 != 0,
            reasons=("g_teller_read",) if i % 3 else ("default_deny",),
            obligations=("mask_id_number",) if i % 3 else (),
            policy_version="sha256:0123456789ab",
        )
        for i in range(n)
    ]


def bench(url: str, batch: list[LogRecord], batch_size: int) -> tuple[float, float]:
    """Append every record and flush: (appends+flush per second, verify rows per second)."""
    log = open_log(url, batch_size=batch_size, flush_interval=0.05)
    start = time.perf_counter()
    for record in batch:
        log.append(record)
    log.flush()
    elapsed = time.perf_counter() - start
    assert log.healthy and log.write_failures == 0, "writes failed"
    start = time.perf_counter()
    result = log.verify()
    verify_elapsed = time.perf_counter() - start
    assert result.ok and result.checked == len(batch), result
    log.close()
    return len(batch) / elapsed, len(batch) / verify_elapsed


def postgres_schema(url: str) -> str | None:
    """A fresh schema name when the server answers, else None."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return f"bench_{uuid.uuid4().hex[:8]}"
    except psycopg.Error:
        return None


def drop_schema(url: str, schema: str) -> None:
    """Remove the benchmark's schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    batch = records(args.records)
    print(f"{args.records:,} records, writer batches of {args.batch_size:,}")

    start = time.perf_counter()
    for i in range(0, len(batch), args.batch_size):
        link(batch[i : i + args.batch_size], EMPTY_HEAD)
    print(f"hash chain only      {len(batch) / (time.perf_counter() - start):>12,.0f} records/s")

    with tempfile.TemporaryDirectory() as tmp:
        rate, verify_rate = bench(str(Path(tmp) / "log.db"), batch, args.batch_size)
    print(f"sqlite append+flush  {rate:>12,.0f} records/s   verify {verify_rate:>10,.0f} rows/s")

    schema = postgres_schema(args.postgres)
    if schema is None:
        print(f"postgresql skipped: {args.postgres} unreachable")
        return
    try:
        url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}"
        rate, verify_rate = bench(url, batch, args.batch_size)
        print(
            f"postgres append+flush{rate:>12,.0f} records/s   verify {verify_rate:>10,.0f} rows/s"
        )
    finally:
        drop_schema(args.postgres, schema)


if __name__ == "__main__":
    main()
