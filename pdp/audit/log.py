"""The decision log: a hash-chained, append-only audit trail written off the request path.

    log = open_log("var/decisions.db")          # or sqlite:///..., postgresql://...
    log.append(decision_record(request, decision, caller="crm"))   # never blocks, never raises
    log.close()                                  # writes everything queued, then stops

`append` only puts the record on an in-memory queue; one background thread per
log takes batches of up to `batch_size` records every `flush_interval` seconds
(at once when a batch is full) and stores each batch in one transaction. A
clean `close()` (also run at interpreter exit) writes everything queued; a
crash loses what was still queued — at most the last `flush_interval` of
records, or the backlog if the store was failing. A storage failure never
reaches the caller: it is counted in `write_failures`, `healthy` turns False,
and the records stay queued (up to `max_pending`, then new ones are dropped,
counted and reported by an alert record once writing works again) and are
retried with backoff.

`open_log(url, writer="process")` moves the chaining and the inserts to a
writer process of their own (`pdp.audit.writer`), so that they do not share
the serving process's interpreter; the guarantees are the same.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, cast

from pdp.audit.chain import EMPTY_HEAD, ChainRow, Head, VerifyResult, verify_rows
from pdp.audit.export import jsonl_rows, write_jsonl
from pdp.audit.record import LogRecord, event_record, parse_canonical
from pdp.audit.store import QueryFilter, SqlStore, open_store, parse_log_url
from pdp.errors import StorageError

log = logging.getLogger("pdp.audit")

MAX_PENDING = 200_000
MAX_BACKOFF = 5.0
DROPPED_REASON = "log_records_dropped"


class DecisionLog(ABC):
    """A hash-chained, append-only log of decisions, alerts and policy events."""

    @abstractmethod
    def append(self, record: LogRecord) -> None:
        """Queue a record for writing; never blocks on storage and never raises."""

    def append_bodies(self, bodies: Sequence[str]) -> None:
        """Queue records given as their canonical JSON (see `record.decision_parts`).

        The fast path of the service: the same guarantees as `append`. This
        default decodes each body; the SQL logs queue the text as it is.
        """
        for body in bodies:
            self.append(parse_canonical(body))

    @abstractmethod
    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far is written, a write fails, or `timeout` passes."""

    @abstractmethod
    def close(self) -> None:
        """Write everything queued, then stop the writer; calling it again does nothing."""

    @property
    @abstractmethod
    def healthy(self) -> bool:
        """True when the store is open and the last write succeeded."""

    @property
    @abstractmethod
    def write_failures(self) -> int:
        """How many write attempts (batches) have failed since the log was opened."""

    @property
    def backlog(self) -> int:
        """About how many records are queued and not yet stored (cheap: for back-pressure)."""
        return 0

    @abstractmethod
    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Check the stored chain and a head kept elsewhere; `StorageError` if unreadable."""

    @abstractmethod
    def query(
        self,
        *,
        subject: str | None = None,
        subject_kind: str | None = None,
        info_class: str | None = None,
        allowed: bool | None = None,
        kind: str | None = None,
        since: str | None = None,
        until: str | None = None,
        caller: str | None = None,
        limit: int = 1000,
    ) -> list[LogRecord]:
        """The newest `limit` stored records matching every given filter, oldest first."""

    @abstractmethod
    def head(self) -> Head:
        """The newest stored seq and hash: keep a copy elsewhere to detect tail truncation."""

    @abstractmethod
    def __len__(self) -> int:
        """How many records are stored."""


class _Flush:
    """A marker on the queue: set once every record queued before it is written (or failed)."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_open_logs: weakref.WeakSet[DecisionLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    for open_log_ in list(_open_logs):
        open_log_.close()


class SqlReads(DecisionLog):
    """The reading side of a log in a SQL store: verify, query, head and count.

    Also the settings both writers take (`SqlDecisionLog`, `ProcessDecisionLog`).
    """

    def __init__(
        self, url: str, *, batch_size: int, flush_interval: float, max_pending: int
    ) -> None:
        self._display = parse_log_url(url).display  # a malformed url raises now
        self._url = url
        self._batch_size = max(1, batch_size)
        self._interval = max(0.001, flush_interval)
        self._max_pending = max_pending

    @abstractmethod
    def _reader(self) -> SqlStore:
        """The store to read from (opened if needed), or raise `StorageError`."""

    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Check the stored chain and a head kept elsewhere; `StorageError` if unreadable."""
        return self._reader().verify(expect_head)

    def query(
        self,
        *,
        subject: str | None = None,
        subject_kind: str | None = None,
        info_class: str | None = None,
        allowed: bool | None = None,
        kind: str | None = None,
        since: str | None = None,
        until: str | None = None,
        caller: str | None = None,
        limit: int = 1000,
    ) -> list[LogRecord]:
        """The newest `limit` stored records matching every given filter, oldest first."""
        where = QueryFilter(subject, subject_kind, info_class, allowed, kind, since, until, caller)
        return self._reader().query(where, limit)

    def head(self) -> Head:
        """The newest stored seq and hash: keep a copy elsewhere to detect tail truncation."""
        return self._reader().head()

    def __len__(self) -> int:
        """How many records are stored."""
        return self._reader().count()


class SqlDecisionLog(SqlReads):
    """A decision log in SQLite or PostgreSQL, written in batches by one background thread."""

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = MAX_PENDING,
    ) -> None:
        super().__init__(
            url, batch_size=batch_size, flush_interval=flush_interval, max_pending=max_pending
        )
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
        self._store: SqlStore | None = None
        self._open_lock = threading.Lock()
        self._open_store()
        self._thread = threading.Thread(target=self._run, name="pdp-decision-log", daemon=True)
        self._thread.start()
        _open_logs.add(self)

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
    def dropped(self) -> int:
        """How many records were dropped: queue full (`max_pending`) or appended after close."""
        return self._dropped

    @property
    def pending(self) -> int:
        """How many records are queued or awaiting a retry."""
        queued = sum(not isinstance(item, _Flush) for item in list(self._queue))
        return queued + len(self._batch)

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
        """Write everything queued (one last attempt if the store fails), then stop."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._stopping = True
        self._wake.set()
        self._urgent.set()
        self._thread.join()
        lost = self.pending
        if lost:
            log.error("decision log closed with %d record(s) unwritten (store failing)", lost)
        if self._store is not None:
            self._store.dispose()
        _open_logs.discard(self)

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
            log.error("decision log write failed (will retry): %s", exc)
        self._healthy = False

    def _run(self) -> None:
        backoff = self._interval
        while True:
            if self._healthy:
                self._wake.wait(self._interval)
            else:  # failing: retry after the backoff, or at once for flush() and close()
                self._urgent.wait(backoff)
            self._wake.clear()
            self._urgent.clear()
            ok = self._drain()
            if ok and self._store is None:  # idle but not open: keep trying
                ok = self._open_store() is not None
            backoff = self._interval if ok else min(backoff * 2, MAX_BACKOFF)
            if self._stopping:
                if not ok:  # one last attempt on close
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
        """Write batches until the queue is empty (True) or a write fails (False)."""
        while True:
            if not self._batch:
                self._take()
            if not self._batch:
                self._release_markers()
                return True
            if not self._write(self._batch):
                self._release_markers(failed=True)
                return False
            self._written += len(self._batch)
            self._batch = []
            self._release_markers()
            self._report_dropped()

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

    def _reader(self) -> SqlStore:
        store = self._open_store()
        if store is None:
            raise StorageError(f"the decision log `{self._display}` cannot be opened")
        return store

    def _report_dropped(self) -> None:
        """After a good write, record (as an alert) how many records were dropped since."""
        dropped = self._dropped
        if dropped > self._dropped_reported:
            count = dropped - self._dropped_reported
            self._dropped_reported = dropped
            self._queue.appendleft(
                event_record(
                    "alert",
                    caller="pdp",
                    policy_version="",
                    reasons=(DROPPED_REASON,),
                    detail={"dropped": count},
                )
            )


def open_log(
    url: str,
    *,
    batch_size: int = 500,
    flush_interval: float = 0.2,
    writer: Literal["thread", "process"] = "thread",
) -> DecisionLog:
    """Open (creating if missing) the log at a path, `sqlite:///PATH` or `postgresql://...`.

    `writer="process"` chains and inserts in a writer process of its own
    (`pdp.audit.writer`) instead of a thread of this one. Raises `StorageError`
    only for a malformed url; an unreachable or unwritable store gives a log
    whose `healthy` is False and which retries.
    """
    if writer == "process":
        from pdp.audit.writer import ProcessDecisionLog

        return ProcessDecisionLog(url, batch_size=batch_size, flush_interval=flush_interval)
    return SqlDecisionLog(url, batch_size=batch_size, flush_interval=flush_interval)


def is_jsonl(source: str) -> bool:
    """True when a source names a JSONL export rather than a log."""
    return "://" not in source and Path(source).suffix in (".jsonl", ".ndjson")


def read_records(source: str) -> Iterator[LogRecord]:
    """Every record of a log (url or path) or of a `.jsonl` export, in seq order.

    Raises `StorageError` when the source cannot be read.
    """
    rows, store = _source_rows(source)
    try:
        for row in rows:
            yield parse_canonical(row.body)
    finally:
        if store is not None:
            store.dispose()


def _source_rows(source: str) -> tuple[Iterator[ChainRow], SqlStore | None]:
    if is_jsonl(source):
        return jsonl_rows(Path(source)), None
    store = open_store(source, create=False)
    return store.rows(), store


@contextlib.contextmanager
def open_reader(source: str) -> Iterator[SqlStore]:
    """Open an existing log for reading (queries); raises `StorageError` if it cannot."""
    store = open_store(source, create=False)
    try:
        yield store
    finally:
        store.dispose()


def verify_source(source: str, expect_head: str | None = None) -> VerifyResult:
    """Verify a log (url or path, with its head row) or a `.jsonl` export.

    Raises `StorageError` when the source cannot be read, `ValueError` for a
    malformed `expect_head`.
    """
    if is_jsonl(source):
        return verify_rows(jsonl_rows(Path(source)), expect_head=expect_head)
    store = open_store(source, create=False)
    try:
        return store.verify(expect_head)
    finally:
        store.dispose()


def head_of(source: str) -> Head:
    """The head of a log (its head row) or of an export (its last row)."""
    rows, store = _source_rows(source)
    if store is not None:
        try:
            return store.head()
        finally:
            store.dispose()
    last = EMPTY_HEAD
    for row in rows:
        last = Head(row.seq, row.hash)
    return last


def export_log(source: str, out: Path) -> int:
    """Write every row of a log (or export) to `out` as JSONL; return how many."""
    rows, store = _source_rows(source)
    try:
        return write_jsonl(rows, out)
    finally:
        if store is not None:
            store.dispose()
