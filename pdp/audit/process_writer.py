"""A decision log written by a process of its own: the serving process only encodes records.

    log = ProcessDecisionLog("var/decisions.db", LogSettings())

`ProcessDecisionLog` keeps records as their canonical JSON (one msgspec call a
record, `record.canonical_json`) and ships
them, every `flush_interval` or as soon as a batch is full, down a pipe to
`python -m pdp.audit.writer` (`pdp.audit.writer`). That child feeds a
`ThreadDecisionLog` — hash chain, batched inserts, retries with backoff, the
spool, the dropped-records alert — so hashing and inserting never take the
serving process's interpreter lock. The child gets the log's url as the first
message down its pipe, never on its command line or in its environment, where
other local users or tools could read a password in it.

Pipe protocol. Parent to child (binary): first `U <n>\\n` and the url's n
bytes; then `D <n>\\n` and n bytes, the bodies
joined by `\\n` (canonical JSON never holds a raw newline); `F <k>\\n`, flush k;
end of file, close. Child to parent (lines): `S <status>` when it changes and at
least once a second, and `F <k> <status>` once everything before flush k is
written (or a write failed), where status is `<healthy> <failures> <dropped>
<written> <accepting> <spooled>`. A writer silent for 5 s is taken as hung: not
healthy.

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

import contextlib
import itertools
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

from pdp.audit.base import DecisionLog, LogSettings, forget
from pdp.audit.record import LogRecord, safe_canonical_json
from pdp.audit.thread_writer import dropped_alert

log = logging.getLogger("pdp.audit")

START_TIMEOUT = 30.0
RESTART_DELAY = 1.0
STALE_AFTER = 5.0  # seconds without a report after which a writer is taken as hung


class _Child:
    """One writer process and what it last reported."""

    def __init__(self, url: str, settings: LogSettings) -> None:
        args = [
            sys.executable,
            "-m",
            "pdp.audit.writer",
            "--batch-size",
            str(settings.batch_size),
            "--flush-interval",
            str(settings.flush_interval),
            "--max-pending",
            str(settings.max_pending),
        ]
        if settings.spool is not None:
            args += ["--spool", str(settings.spool), "--spool-max-bytes"]
            args.append(str(settings.spool_max_bytes))
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        try:  # the url goes down the pipe, where no other user can read it
            secret = url.encode()
            self.stdin.write(b"U %d\n%b" % (len(secret), secret))
            self.stdin.flush()
        except OSError:
            pass  # the child died at once: the reader thread will tell
        self.ready = threading.Event()
        self.alive = True
        self.healthy = False
        self.failures = 0
        self.dropped = 0
        self.written = 0
        self.accepting = True
        self.spooled = 0
        self.shipped = 0
        self.seen = time.monotonic()
        self.reader: threading.Thread | None = None

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    def update(self, fields: Sequence[bytes]) -> None:
        """Take a status report: healthy, failures, dropped, written, accepting, spooled."""
        healthy, failures, dropped, written, accepting, spooled = (int(f) for f in fields)
        self.healthy, self.accepting = bool(healthy), bool(accepting)
        self.failures, self.dropped, self.written = failures, dropped, written
        self.spooled = spooled
        self.seen = time.monotonic()
        self.ready.set()

    @property
    def unaccounted(self) -> int:
        """Records shipped that the child has neither stored, spooled nor counted as dropped."""
        return max(0, self.shipped - self.written - self.dropped - self.spooled)


class ProcessDecisionLog(DecisionLog):
    """A decision log whose records are chained and stored by a writer process."""

    def __init__(
        self, url: str, settings: LogSettings | None = None, *, start_timeout: float = START_TIMEOUT
    ) -> None:
        settings = settings or LogSettings()
        super().__init__(url, settings)
        self._url = url
        self._interval = settings.flush_interval
        self._batch_size = settings.batch_size
        self._max_pending = settings.max_pending
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
        child = self._start()
        if child is not None:
            child.ready.wait(start_timeout)
        self._thread = threading.Thread(
            target=self._run, name="pdp-decision-log-shipper", daemon=True
        )
        self._thread.start()

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
    def accepting(self) -> bool:
        """True while the writer reports that it keeps what it gets and this queue has room."""
        if self._closed or len(self._pending) >= self._max_pending:
            return False
        child = self._child
        return child is None or child.accepting

    @property
    def spooled(self) -> int:
        """How many records wait in the writer's disk spool."""
        child = self._child
        return child.spooled if child is not None else 0

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
        self.reader.close()
        forget(self)

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
            child = _Child(self._url, self.settings)
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
                bodies.insert(0, safe_canonical_json(dropped_alert(lost)))
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
                if fields[:1] == [b"S"] and len(fields) == 7:
                    child.update(fields[1:])
                elif fields[:1] == [b"F"] and len(fields) == 8:
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
