"""A decision log written in batches by one background thread of the calling process.

    log = ThreadDecisionLog("var/decisions.db", LogSettings())
    log.append(decision_record(request, decision, caller="crm"))   # never blocks, never raises
    log.close()                                  # writes everything queued, then stops

`append` only puts the record on an in-memory queue; the thread takes batches of
up to `batch_size` records every `flush_interval` seconds (at once when a batch
is full) and stores each batch in one transaction. A clean `close()` (also run
at interpreter exit) writes everything queued; a crash loses what was still
queued — at most the last `flush_interval` of records.

When the store fails, nothing reaches the caller: `write_failures` counts it,
`healthy` turns False, and

- with a spool (`LogSettings.spool`), the failed batch and everything queued
  after it go to the disk spool, in order, every `flush_interval`; the store is
  retried with backoff, and when it answers the spool is stored first (oldest
  first, chained as they arrive), then the queue. Only when the spool is full
  do records stay in memory (up to `max_pending`), and `accepting` turns False;
- without one, the records stay queued in memory (up to `max_pending`).

Records beyond those bounds are dropped, counted, and reported by a
`log_records_dropped` alert record once writing works again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import cast

from pdp.audit.backend import open_store
from pdp.audit.base import DROPPED_REASON, DecisionLog, LogSettings, forget
from pdp.audit.record import LogRecord, event_record, safe_canonical_json
from pdp.audit.spool import Spool
from pdp.audit.store import SqlStore
from pdp.secrets import redact_url

log = logging.getLogger("pdp.audit")

MAX_BACKOFF = 5.0
UNSPOOL_CHUNK = 5000


class _Flush:
    """A marker on the queue: set once every record queued before it is written (or failed)."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class ThreadDecisionLog(DecisionLog):
    """A decision log in SQLite or PostgreSQL, written in batches by one background thread."""

    def __init__(self, url: str, settings: LogSettings | None = None) -> None:
        settings = settings or LogSettings()
        super().__init__(url, settings)
        self._url = url
        self._batch_size = settings.batch_size
        self._interval = settings.flush_interval
        self._max_pending = settings.max_pending
        self._queue: deque[LogRecord | str | _Flush] = deque()
        self._batch: list[LogRecord | str] = []
        self._markers: list[_Flush] = []
        self._flushes: set[_Flush] = set()
        self._wake = threading.Event()  # a full batch is waiting
        self._urgent = threading.Event()  # flush() or close() is waiting
        self._stopping = False
        self._closed = False
        self._close_lock = threading.Lock()
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._dropped_reported = 0
        self._failures = 0
        self._written = 0
        self._healthy = False
        self._spool = (
            Spool(settings.spool, settings.spool_max_bytes) if settings.spool is not None else None
        )
        self._store: SqlStore | None = None
        self._open_lock = threading.Lock()
        self._open_store()
        self._thread = threading.Thread(target=self._run, name="pdp-decision-log", daemon=True)
        self._thread.start()

    # -- the request path -------------------------------------------------------------

    def append(self, record: LogRecord) -> None:
        """Queue a record for writing; never blocks on storage and never raises."""
        queue = self._queue
        if self._closed or len(queue) >= self._max_pending:
            with self._drop_lock:
                self._dropped += 1
            return
        queue.append(record)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def append_bodies(self, bodies: Sequence[str]) -> None:
        """Queue records given as their canonical JSON; never blocks and never raises."""
        queue = self._queue
        room = self._max_pending - len(queue)
        if self._closed or room < len(bodies):
            keep = 0 if self._closed else max(room, 0)
            with self._drop_lock:
                self._dropped += len(bodies) - keep
            bodies = bodies[:keep]
        queue.extend(bodies)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    @property
    def healthy(self) -> bool:
        """True when the store is open and the last write succeeded."""
        return self._healthy

    @property
    def accepting(self) -> bool:
        """True while a record appended now will be stored, queued or spooled."""
        if self._closed or len(self._queue) >= self._max_pending:
            return False
        if self._healthy:
            return True
        return self._spool is None or not self._spool.full

    @property
    def write_failures(self) -> int:
        """How many write attempts (batches) have failed since the log was opened."""
        return self._failures

    @property
    def written(self) -> int:
        """How many records have been stored since the log was opened."""
        return self._written

    @property
    def backlog(self) -> int:
        """About how many records are queued and not yet stored (flush markers included)."""
        return len(self._queue) + len(self._batch)

    @property
    def spooled(self) -> int:
        """How many records wait in the disk spool."""
        return 0 if self._spool is None else len(self._spool)

    @property
    def dropped(self) -> int:
        """How many records were dropped: queue full (`max_pending`) or appended after close."""
        return self._dropped

    @property
    def pending(self) -> int:
        """How many records are queued, awaiting a retry, or spooled."""
        queued = sum(not isinstance(item, _Flush) for item in list(self._queue))
        return queued + len(self._batch) + self.spooled

    # -- flushing and closing ----------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is written, a write fails, or `timeout` passes."""
        if self._closed:
            return
        marker = _Flush()
        self._flushes.add(marker)
        self._queue.append(marker)
        self._wake.set()
        self._urgent.set()
        marker.done.wait(timeout)

    def close(self) -> None:
        """Write everything queued (one last attempt if the store fails), then stop.

        With a spool, what the store cannot take stays spooled for the next writer.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stopping = True
        self._wake.set()
        self._urgent.set()
        self._thread.join()
        if self.spooled:
            log.warning("decision log closed with %d record(s) in the spool", self.spooled)
        lost = self.pending - self.spooled
        if lost:
            log.error("decision log closed with %d record(s) unwritten (store failing)", lost)
        if self._spool is not None:
            self._spool.close()
        if self._store is not None:
            self._store.dispose()
        self.reader.close()
        forget(self)

    # -- the writer thread -------------------------------------------------------------

    def _open_store(self) -> SqlStore | None:
        with self._open_lock:
            if self._store is None:
                try:
                    self._store = open_store(self._url, create=True)
                    self._healthy = True
                except Exception as exc:  # any failure: count it, stay unhealthy, retry later
                    self._failed(exc)
            return self._store

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        if self._healthy or self._failures == 1:
            log.error("decision log write failed (will retry): %s", redact_url(str(exc)))
        self._healthy = False

    def _run(self) -> None:
        backoff = self._interval
        retry_at = 0.0
        while True:
            if self._healthy or self.spooled:  # spooling goes on every interval
                self._wake.wait(self._interval)
            else:  # failing: retry after the backoff, or at once for flush() and close()
                self._urgent.wait(backoff)
            urgent = self._urgent.is_set()
            self._wake.clear()
            self._urgent.clear()
            if self.spooled:
                self._to_spool()
                ok = True
                if urgent or time.monotonic() >= retry_at:
                    ok = self._unspool() and self._drain()
            else:
                ok = self._drain()
                if ok and self._store is None:  # idle but not open: keep trying
                    ok = self._open_store() is not None
            backoff = self._interval if ok else min(backoff * 2, MAX_BACKOFF)
            retry_at = time.monotonic() + backoff
            if self._stopping:
                if not ok:  # one last attempt on close
                    if self.spooled:
                        self._to_spool()
                        _ = self._unspool() and self._drain()
                    else:
                        self._drain()
                return

    def _take(self) -> None:
        """Fill the batch from the queue, remembering the flush markers passed."""
        queue, batch, size = self._queue, self._batch, self._batch_size
        count = min(size - len(batch), len(queue))
        # flush() adds its marker to the set before queueing it, and only this thread
        # removes it: with the set empty now, none of the first `count` items is a marker
        if not self._flushes:
            pop = queue.popleft
            taken = [pop() for _ in range(count)]
            batch.extend(cast("list[LogRecord | str]", taken))
            return
        while len(batch) < size and queue:
            item = queue.popleft()
            if isinstance(item, _Flush):
                self._markers.append(item)
            else:
                batch.append(item)

    def _release_markers(self, *, failed: bool = False) -> None:
        """Wake the flushes passed; after a failed write, every waiting flush.

        A marker leaves `_flushes` only once taken off the queue, so `_take`'s
        bulk path never meets one.
        """
        if failed:
            for marker in list(self._flushes):
                marker.done.set()
        for marker in self._markers:
            marker.done.set()
            self._flushes.discard(marker)
        self._markers.clear()

    def _drain(self) -> bool:
        """Write batches until the queue is empty (True) or a write fails (False).

        With a spool, a failed batch and the queue behind it go to the spool.
        """
        while True:
            if not self._batch:
                self._take()
            if not self._batch:
                self._release_markers()
                return True
            if not self._write(self._batch):
                if self._spool is not None:
                    self._to_spool()
                self._release_markers(failed=True)
                return False
            self._written += len(self._batch)
            self._batch = []
            self._release_markers()
            self._report_dropped()

    def _to_spool(self) -> None:
        """Move the batch and the queue, in order, to the spool (as many as fit)."""
        spool = self._spool
        assert spool is not None
        while True:
            if not self._batch:
                self._take()
            if not self._batch:
                break
            bodies = [b if isinstance(b, str) else safe_canonical_json(b) for b in self._batch]
            try:
                taken = spool.put(bodies)
            except OSError as exc:
                log.error("decision log spool write failed: %s", exc)
                taken = 0
            del self._batch[:taken]
            if self._batch:  # the spool is full: the rest waits in memory
                break
        self._release_markers(failed=True)

    def _unspool(self) -> bool:
        """Store the spool's records, oldest first; True once it is empty."""
        spool = self._spool
        assert spool is not None
        store = self._open_store()
        if store is None:
            return False
        first = True
        while len(spool):
            bodies = spool.peek(UNSPOOL_CHUNK)
            skip = 0
            try:
                if first:  # a batch stored just before a failure or a crash: not twice
                    stored = store.tail_bodies(len(bodies))
                    while skip < len(bodies) and bodies[skip] in stored:
                        skip += 1
                if skip < len(bodies):
                    store.append(bodies[skip:])
            except Exception as exc:
                self._failed(exc)
                return False
            first = False
            spool.consume(len(bodies))
            self._written += len(bodies) - skip
            if not self._healthy:
                log.warning("decision log store is back: storing the spool")
                self._healthy = True
        self._report_dropped()
        return True

    def _write(self, batch: list[LogRecord | str]) -> bool:
        try:
            store = self._open_store()
            if store is None:
                return False
            store.append(batch)
        except Exception as exc:  # never let the writer die; keep the batch for a retry
            self._failed(exc)
            return False
        if not self._healthy:
            log.warning("decision log writes recovered after %d failure(s)", self._failures)
        self._healthy = True
        return True

    def _report_dropped(self) -> None:
        """After a good write, record (as an alert) how many records were dropped since."""
        dropped = self._dropped
        if dropped > self._dropped_reported:
            count = dropped - self._dropped_reported
            self._dropped_reported = dropped
            self._queue.appendleft(dropped_alert(count))


def dropped_alert(count: int) -> LogRecord:
    """The alert record saying that `count` records were lost."""
    return event_record(
        "alert",
        caller="pdp",
        policy_version="",
        reasons=(DROPPED_REASON,),
        detail={"dropped": count},
    )
