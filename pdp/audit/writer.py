"""A decision log written by a process of its own: the serving process only encodes records.

    log = open_log("var/decisions.db", writer="process")

`ProcessDecisionLog` keeps records as their canonical JSON (cheap: the service
builds decision bodies from cached parts, `record.decision_parts`) and ships
them, every `flush_interval` or as soon as a batch is full, down a pipe to
`python -m pdp.audit.writer URL`. That child feeds a `SqlDecisionLog` — hash
chain, batched inserts, retries with backoff, the dropped-records alert — so
hashing and inserting never take the serving process's interpreter lock.

Pipe protocol. Parent to child (binary): `D <n>\\n` and n bytes, the bodies
joined by `\\n` (canonical JSON never holds a raw newline); `F <k>\\n`, flush k;
end of file, close. Child to parent (lines): `S <healthy> <failures> <dropped>
<written>` when any changes and at least once a second, and `F <k> <healthy>
<failures> <dropped> <written>` once everything before flush k is written (or
a write failed). A writer silent for 5 s is taken as hung: not healthy.

Shutdown and failures:
- `close()` ships what is queued, closes the pipe and waits for the child to
  store everything and exit: a clean shutdown loses nothing. The child ignores
  SIGINT and SIGTERM (it stops at end of file), so a Ctrl-C or a service
  manager's signal to the whole process group does not cut the log short.
- If the serving process dies, the child still stores what it had received.
- If the child dies, the records shipped to it and not yet stored are counted
  as dropped, a new child is started, and its first record is a
  `log_records_dropped` alert saying how many.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

from pdp.audit.log import DROPPED_REASON, MAX_PENDING, SqlDecisionLog, SqlReads, _open_logs
from pdp.audit.record import LogRecord, event_record, safe_canonical_json
from pdp.audit.store import SqlStore, open_store
from pdp.errors import StorageError

log = logging.getLogger("pdp.audit")

START_TIMEOUT = 30.0
RESTART_DELAY = 1.0
STATUS_INTERVAL = 0.1
HEARTBEAT_EVERY = 10  # status intervals: the writer reports at least once a second
STALE_AFTER = 5.0  # seconds without a report after which a writer is taken as hung


class _Child:
    """One writer process and what it last reported."""

    def __init__(self, url: str, batch_size: int, flush_interval: float) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pdp.audit.writer",
                url,
                "--batch-size",
                str(batch_size),
                "--flush-interval",
                str(flush_interval),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.ready = threading.Event()
        self.alive = True
        self.healthy = False
        self.failures = 0
        self.dropped = 0
        self.written = 0
        self.shipped = 0
        self.seen = time.monotonic()
        self.reader: threading.Thread | None = None

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    def update(self, fields: Sequence[bytes]) -> None:
        """Take a status report: healthy, failures, dropped, written."""
        healthy, failures, dropped, written = (int(f) for f in fields)
        self.healthy, self.failures, self.dropped, self.written = (
            bool(healthy),
            failures,
            dropped,
            written,
        )
        self.seen = time.monotonic()
        self.ready.set()

    @property
    def unaccounted(self) -> int:
        """Records shipped that the child has neither stored nor counted as dropped."""
        return max(0, self.shipped - self.written - self.dropped)


class ProcessDecisionLog(SqlReads):
    """A decision log whose records are chained and stored by a writer process."""

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = MAX_PENDING,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        super().__init__(
            url, batch_size=batch_size, flush_interval=flush_interval, max_pending=max_pending
        )
        self._lock = threading.Lock()  # guards _pending
        self._pending: list[str] = []
        self._ship_lock = threading.Lock()  # one shipment at a time; guards the child
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        self._close_lock = threading.Lock()
        self._dropped = 0  # here: queue full, appended after close, lost with a child
        self._lost = 0  # lost with a child and not yet reported by an alert
        self._past_failures = 0  # of children gone (each death counts one more)
        self._past_dropped = 0
        self._flush_ids = itertools.count(1)
        self._flushes: dict[int, threading.Event] = {}
        self._child: _Child | None = None
        self._last_start = 0.0
        self._store: SqlStore | None = None
        self._store_lock = threading.Lock()
        child = self._start()
        if child is not None:
            child.ready.wait(start_timeout)
        self._thread = threading.Thread(
            target=self._run, name="pdp-decision-log-shipper", daemon=True
        )
        self._thread.start()
        _open_logs.add(self)

    # -- the request path -------------------------------------------------------------

    def append(self, record: LogRecord) -> None:
        """Queue a record for writing; never blocks on storage and never raises."""
        try:
            body = safe_canonical_json(record)
        except Exception:  # never reaches the caller
            log.exception("decision log: a record could not be encoded; dropped")
            self._dropped += 1
            return
        self.append_bodies((body,))

    def append_bodies(self, bodies: Sequence[str]) -> None:
        """Queue records given as their canonical JSON; never blocks and never raises."""
        with self._lock:
            room = self._max_pending - len(self._pending)
            if self._closed or room < len(bodies):
                keep = 0 if self._closed else max(room, 0)
                self._dropped += len(bodies) - keep
                bodies = bodies[:keep]
            self._pending.extend(bodies)
            full = len(self._pending) >= self._batch_size
        if full and not self._wake.is_set():
            self._wake.set()

    @property
    def healthy(self) -> bool:
        """True when the writer reports (or was closed) and its last write succeeded.

        A writer silent for `STALE_AFTER` seconds (hung) is not healthy.
        """
        child = self._child
        if child is None or not child.healthy:
            return False
        if self._closed:
            return True
        return child.alive and time.monotonic() - child.seen < STALE_AFTER

    @property
    def write_failures(self) -> int:
        """Failed write attempts (batches) of the writer processes, plus each one lost."""
        child = self._child
        return self._past_failures + (child.failures if child is not None else 0)

    @property
    def dropped(self) -> int:
        """Records dropped: queue full, appended after close, or lost with a writer process."""
        child = self._child
        return self._dropped + self._past_dropped + (child.dropped if child is not None else 0)

    @property
    def written(self) -> int:
        """Records stored by the current writer process."""
        child = self._child
        return child.written if child is not None else 0

    @property
    def backlog(self) -> int:
        """About how many records are queued here or shipped and not yet stored."""
        child = self._child
        return len(self._pending) + (child.unaccounted if child is not None else 0)

    @property
    def pending(self) -> int:
        """Records queued here or shipped and not yet stored."""
        child = self._child
        return len(self._pending) + (child.unaccounted if child is not None else 0)

    # -- flushing and closing ----------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is written, a write fails, or `timeout` passes."""
        if self._closed:
            return
        marker = next(self._flush_ids)
        done = self._flushes[marker] = threading.Event()
        try:
            if self._ship(marker):
                done.wait(timeout)
        finally:
            self._flushes.pop(marker, None)

    def close(self) -> None:
        """Ship everything queued, then let the writer process store it and exit."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stopping = True
        self._wake.set()
        self._thread.join()
        with self._ship_lock:
            child = self._child
            if child is not None:
                with contextlib.suppress(OSError, ValueError):
                    child.stdin.close()
                child.process.wait()
            if child is not None and child.reader is not None:
                child.reader.join()
        if self.pending:
            log.error("decision log closed with %d record(s) unwritten", self.pending)
        with self._store_lock:
            if self._store is not None:
                self._store.dispose()
        _open_logs.discard(self)

    # -- the shipper thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stopping
            self._ship()
            if stopping:
                return

    def _start(self) -> _Child | None:
        """Start a writer process and the thread reading its reports (None if it cannot)."""
        self._last_start = time.monotonic()
        try:
            child = _Child(self._url, self._batch_size, self._interval)
        except OSError as exc:
            self._past_failures += 1
            log.error("decision log: cannot start the writer process: %s", exc)
            return None
        self._child = child
        child.reader = threading.Thread(
            target=self._read_reports, args=(child,), name="pdp-decision-log-reports", daemon=True
        )
        child.reader.start()
        return child

    def _live_child(self) -> _Child | None:
        """The running writer process, restarted (at most once a second) if it died."""
        child = self._child
        if child is not None and child.alive:
            return child
        if self._stopping or time.monotonic() - self._last_start < RESTART_DELAY:
            return None
        return self._start()

    def _ship(self, marker: int | None = None) -> bool:
        """Send the queued records (and a flush marker); False when no writer can take them."""
        with self._ship_lock:
            child = self._live_child()
            if child is None:
                return False
            with self._lock:
                bodies, self._pending = self._pending, []
                lost, self._lost = self._lost, 0
            if lost:
                bodies.insert(0, safe_canonical_json(_dropped_alert(lost)))
            data = b""
            if bodies:
                payload = "\n".join(bodies).encode("utf-8", "replace")
                data = b"D %d\n%b" % (len(payload), payload)
            if marker is not None:
                data += b"F %d\n" % marker
            if not data:
                return True
            try:
                child.stdin.write(data)
                child.stdin.flush()
            except (OSError, ValueError):  # the writer died: keep the records for the next one
                with self._lock:
                    self._pending[:0] = bodies
                return False
            child.shipped += len(bodies)
            return True

    def _read_reports(self, child: _Child) -> None:
        """Follow a writer's reports until it exits; then account for what it lost."""
        stdout = child.process.stdout
        assert stdout is not None
        for line in stdout:
            fields = line.split()
            with contextlib.suppress(ValueError):
                if fields[:1] == [b"S"] and len(fields) == 5:
                    child.update(fields[1:])
                elif fields[:1] == [b"F"] and len(fields) == 6:
                    child.update(fields[2:])
                    done = self._flushes.get(int(fields[1]))
                    if done is not None:
                        done.set()
        stdout.close()
        code = child.process.wait()
        with contextlib.suppress(OSError, ValueError):
            child.stdin.close()
        child.alive = False
        child.ready.set()
        if self._stopping and code == 0:
            return
        lost = child.unaccounted
        log.error("decision log writer process exited (%s); %d record(s) lost", code, lost)
        with self._lock:
            self._past_failures += child.failures + 1
            self._past_dropped += child.dropped
            self._dropped += lost
            self._lost += lost
        for done in list(self._flushes.values()):
            done.set()

    # -- reading -----------------------------------------------------------------------

    def _reader(self) -> SqlStore:
        with self._store_lock:
            if self._store is None:
                try:
                    self._store = open_store(self._url, create=True)
                except StorageError:
                    raise
                except Exception as exc:
                    raise StorageError(
                        f"the decision log `{self._display}` cannot be opened: {exc}"
                    ) from None
            return self._store


def _dropped_alert(count: int) -> LogRecord:
    return event_record(
        "alert",
        caller="pdp",
        policy_version="",
        reasons=(DROPPED_REASON,),
        detail={"dropped": count},
    )


# -- the writer process ----------------------------------------------------------------


class _Reporter:
    """Writes the child's status lines to its stdout (from two threads)."""

    def __init__(self, decision_log: SqlDecisionLog, out: IO[bytes]) -> None:
        self.log = decision_log
        self.out = out
        self.lock = threading.Lock()
        self.last = b""

    def fields(self) -> bytes:
        d = self.log
        return b"%d %d %d %d" % (d.healthy, d.write_failures, d.dropped, d.written)

    def send(self, line: bytes, force: bool = False) -> None:
        with self.lock:
            if not force and line == self.last:
                return
            with contextlib.suppress(OSError, ValueError):
                self.out.write(line)
                self.out.flush()
            if line.startswith(b"S "):
                self.last = line

    def status(self, force: bool = False) -> None:
        self.send(b"S %b\n" % self.fields(), force)

    def watch(self, stop: threading.Event) -> None:
        ticks = 0
        while not stop.wait(STATUS_INTERVAL):
            ticks += 1
            self.status(force=ticks % HEARTBEAT_EVERY == 0)


def serve_pipe(decision_log: SqlDecisionLog, source: IO[bytes], out: IO[bytes]) -> None:
    """Feed `decision_log` from the pipe protocol on `source`, reporting on `out`."""
    reporter = _Reporter(decision_log, out)
    reporter.status(force=True)
    stop = threading.Event()
    watcher = threading.Thread(target=reporter.watch, args=(stop,), daemon=True)
    watcher.start()
    try:
        while line := source.readline():
            kind, _, value = line.strip().partition(b" ")
            if kind == b"D":
                size = int(value)
                payload = source.read(size)
                if len(payload) < size:
                    log.error("decision log writer: a shipment was cut short; dropped")
                    break
                decision_log.append_bodies(payload.decode("utf-8", "replace").split("\n"))
            elif kind == b"F":
                decision_log.flush()
                reporter.send(b"F %b %b\n" % (value, reporter.fields()), force=True)
    finally:
        stop.set()
        decision_log.close()
        reporter.status(force=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the writer process: `python -m pdp.audit.writer URL [--batch-size N]`."""
    parser = argparse.ArgumentParser(description="pdp decision-log writer (started by the log)")
    parser.add_argument("url")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--flush-interval", type=float, default=0.2)
    args = parser.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop at end of input, not on a group signal
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="pdp log writer: %(message)s")
    decision_log = SqlDecisionLog(
        args.url, batch_size=args.batch_size, flush_interval=args.flush_interval
    )
    serve_pipe(decision_log, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
