"""The decision log written by a writer process: one chain, nothing lost on close, losses logged."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pytest

from pdp.audit import open_log, read_records, verify_source
from pdp.audit.process_writer import ProcessDecisionLog
from pdp.audit.record import canonical_json
from pdp.audit.thread_writer import ThreadDecisionLog
from pdp.audit.writer import serve_pipe
from tests.audit.conftest import make_record
from tests.audit.test_postgres import pg_url

__all__ = ["pg_url"]  # the PostgreSQL fixture, used below


def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_records_and_bodies_are_chained_by_the_writer_process(log_path: Path) -> None:
    log = open_log(str(log_path), writer="process", batch_size=7)
    assert isinstance(log, ProcessDecisionLog) and log.healthy
    log.append(make_record(1))
    log.append_bodies([canonical_json(make_record(i)) for i in range(2, 40)])
    log.flush()
    assert len(log) == 39 and log.written == 39 and log.backlog == 0
    assert [r.subject for r in log.query(allowed=False)] == [
        make_record(i).subject for i in range(3, 40, 3)
    ]
    assert log.verify().ok
    log.close()
    assert list(read_records(str(log_path))) == [make_record(i) for i in range(1, 40)]


def test_a_clean_close_stores_everything_queued(log_path: Path) -> None:
    log = open_log(str(log_path), writer="process", flush_interval=60)
    log.append_bodies([canonical_json(make_record(i)) for i in range(1, 1001)])
    log.close()  # no flush: close ships and waits for the writer
    assert verify_source(str(log_path)).checked == 1000
    log.append(make_record(1001))  # after close: dropped and counted
    assert log.dropped == 1


def test_a_killed_writer_is_replaced_and_its_loss_logged(log_path: Path) -> None:
    log = open_log(str(log_path), writer="process")
    assert isinstance(log, ProcessDecisionLog)
    log.append(make_record(1))
    log.flush()
    child = log._child
    assert child is not None
    pid = child.process.pid
    os.kill(pid, signal.SIGSTOP)  # shipped but never stored: lost with the writer
    log.append_bodies([canonical_json(make_record(i)) for i in range(2, 12)])
    log.flush(timeout=0.5)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not log.healthy)
    assert not log.healthy and log.write_failures >= 1 and log.dropped == 10
    time.sleep(1.1)  # restarts are at least a second apart
    log.append(make_record(12))
    log.flush()
    assert log.healthy
    log.close()
    first, alert, last = read_records(str(log_path))
    assert (first, last) == (make_record(1), make_record(12))
    assert alert.reasons == ("log_records_dropped",) and alert.detail == {"dropped": 10}
    assert verify_source(str(log_path)).ok


def test_the_pipe_protocol(log_path: Path) -> None:
    bodies = [canonical_json(make_record(i)) for i in range(1, 4)]
    payload = "\n".join(bodies).encode()
    cut = canonical_json(make_record(4)).encode()
    source = io.BytesIO(
        b"D %d\n%b" % (len(payload), payload) + b"F 7\n" + b"D %d\n%b" % (len(cut) + 5, cut)
    )
    out = io.BytesIO()
    serve_pipe(ThreadDecisionLog(str(log_path)), source, out)
    lines = out.getvalue().decode().splitlines()
    assert lines[0] == "S 1 0 0 0 1 0"  # healthy failures dropped written accepting spooled
    assert "F 7 1 0 0 3 1 0" in lines  # acknowledged once the first three were stored
    assert lines[-1] == "S 1 0 0 3 0 0"  # the shipment cut short is not stored; closed
    assert list(read_records(str(log_path))) == [make_record(i) for i in range(1, 4)]


def test_a_malformed_url_raises_before_any_process_starts() -> None:
    from pdp.errors import StorageError

    with pytest.raises(StorageError):
        open_log("mysql://nowhere/db", writer="process")


@pytest.mark.postgres
def test_the_writer_process_writes_to_postgresql(pg_url: str) -> None:
    log = open_log(pg_url, writer="process", batch_size=50)
    log.append_bodies([canonical_json(make_record(i)) for i in range(1, 201)])
    log.close()
    assert list(read_records(pg_url)) == [make_record(i) for i in range(1, 201)]
    assert verify_source(pg_url).ok


def test_a_silent_writer_is_taken_as_hung(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pdp.audit.process_writer as writer

    log = open_log(str(log_path), writer="process")
    assert isinstance(log, ProcessDecisionLog)
    time.sleep(1.2)  # the writer reports at least once a second while idle
    assert log.healthy
    monkeypatch.setattr(writer, "STALE_AFTER", 0.3)
    child = log._child
    assert child is not None
    os.kill(child.process.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: not log.healthy, 3)
        assert not log.healthy and child.alive
    finally:
        os.kill(child.process.pid, signal.SIGCONT)
    wait_until(lambda: log.healthy, 3)
    assert log.healthy
    log.close()


def test_the_writer_process_gets_the_url_by_environment_not_argv(log_path: Path) -> None:
    url = f"sqlite:///{log_path}"
    log = open_log(url, writer="process")
    assert isinstance(log, ProcessDecisionLog)
    try:
        child = log._child
        assert child is not None
        cmdline = Path(f"/proc/{child.process.pid}/cmdline").read_bytes()
        assert str(log_path).encode() not in cmdline and b"sqlite" not in cmdline
        environ = Path(f"/proc/{child.process.pid}/environ").read_bytes()
        assert url.encode() not in environ  # sent down the pipe
        log.append(make_record(1))
        log.flush()
        assert len(log) == 1
    finally:
        log.close()
