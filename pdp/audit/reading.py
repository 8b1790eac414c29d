"""Reading the decision log: a log's reader, and verify/read/export/head of a url or export.

`LogReader` is the reading side every `DecisionLog` delegates to; the module
functions open a log (url or path) or a `.jsonl` export for one reading.
All raise `StorageError` (one line, passwords hidden) when the source cannot
be read.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from pdp.audit.backend import open_store
from pdp.audit.chain import EMPTY_HEAD, ChainRow, Head, VerifyResult, verify_rows
from pdp.audit.export import jsonl_rows, write_jsonl
from pdp.audit.record import LogRecord, parse_canonical
from pdp.audit.store import QueryFilter, SqlStore, parse_log_url


class LogReader:
    """The reading side of a log: a store opened on first use (creating the log if missing)."""

    def __init__(self, url: str) -> None:
        self.display = parse_log_url(url).display  # a malformed url raises now
        self._url = url
        self._store: SqlStore | None = None
        self._lock = threading.Lock()

    def store(self) -> SqlStore:
        """The open store, opened now if needed; raises `StorageError`."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self._url, create=True)
            return self._store

    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Check the stored chain and a head kept elsewhere."""
        return self.store().verify(expect_head)

    def query(self, where: QueryFilter, limit: int) -> list[LogRecord]:
        """The newest `limit` records matching `where`, oldest first."""
        return self.store().query(where, limit)

    def head(self) -> Head:
        """The head row."""
        return self.store().head()

    def count(self) -> int:
        """How many records are stored."""
        return self.store().count()

    def close(self) -> None:
        """Close the store's connections (it reopens on the next read)."""
        with self._lock:
            if self._store is not None:
                self._store.dispose()
                self._store = None


def is_jsonl(source: str) -> bool:
    """True when a source names a JSONL export rather than a log."""
    return "://" not in source and Path(source).suffix in (".jsonl", ".ndjson")


def read_records(source: str) -> Iterator[LogRecord]:
    """Every record of a log (url or path) or of a `.jsonl` export, in seq order."""
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
    """Open an existing log for reading (queries)."""
    store = open_store(source, create=False)
    try:
        yield store
    finally:
        store.dispose()


def verify_source(source: str, expect_head: str | None = None) -> VerifyResult:
    """Verify a log (url or path, with its head row) or a `.jsonl` export.

    Raises `LogInputError` for a malformed `expect_head`.
    """
    if is_jsonl(source):
        return verify_rows(jsonl_rows(Path(source)), expect_head=expect_head)
    with open_reader(source) as store:
        return store.verify(expect_head)


def head_of(source: str) -> Head:
    """The head of a log (its head row) or of an export (its last row)."""
    if not is_jsonl(source):
        with open_reader(source) as store:
            return store.head()
    last = EMPTY_HEAD
    for row in jsonl_rows(Path(source)):
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
