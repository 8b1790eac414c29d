"""Several processes appending to one SQLite log keep one valid chain."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from pdp.audit import open_log, read_records, verify_source
from tests.audit.conftest import make_record

PER_PROCESS = 600


def append_many(url: str, caller: str) -> None:
    """Append PER_PROCESS records in small batches, as one uvicorn worker would."""
    log = open_log(url, batch_size=25, flush_interval=0.001)
    for i in range(PER_PROCESS):
        log.append(make_record(i, caller=caller))
    log.close()
    assert log.write_failures == 0


def run_writers(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=append_many, args=(url, f"w{n}")) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0


def test_two_processes_append_to_one_sqlite_log(tmp_path: Path) -> None:
    url = str(tmp_path / "shared.db")
    run_writers(url)
    result = verify_source(url)
    assert result.ok and result.checked == 2 * PER_PROCESS
    callers = [r.caller for r in read_records(url)]
    assert callers.count("w0") == callers.count("w1") == PER_PROCESS
