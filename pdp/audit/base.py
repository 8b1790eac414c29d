"""The decision log's interface: what every writer offers, and the settings they share.

A writer (`thread_writer.ThreadDecisionLog`, `process_writer.ProcessDecisionLog`)
implements the writing side; the reading side (verify, query, head, count) is
the same for both and delegates to a `reading.LogReader` on the same store.
"""

from __future__ import annotations

import atexit
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pdp.audit.chain import Head, VerifyResult
from pdp.audit.reading import LogReader
from pdp.audit.record import LogRecord, parse_canonical
from pdp.audit.store import QueryFilter

Writer = Literal["thread", "process"]
OnLogFailure = Literal["deny", "allow"]
AUDIT_UNAVAILABLE = "audit_unavailable"  # the reason of a deny made because nothing can be logged
DEFAULT_WRITER: Writer = "process"
MAX_PENDING = 200_000
SPOOL_MAX_BYTES = 256 * 1024 * 1024
DROPPED_REASON = "log_records_dropped"


@dataclass(frozen=True, slots=True)
class LogSettings:
    """How a writer batches, bounds and spools: the same for every writer.

    `spool` is a directory for records the store could not take (see
    `spool.Spool`); None keeps them in memory only, up to `max_pending`.
    """

    batch_size: int = 500
    flush_interval: float = 0.2
    max_pending: int = MAX_PENDING
    spool: Path | None = None
    spool_max_bytes: int = SPOOL_MAX_BYTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_size", max(1, self.batch_size))
        object.__setattr__(self, "flush_interval", max(0.001, self.flush_interval))


class DecisionLog(ABC):
    """A hash-chained, append-only log of decisions, alerts and policy events."""

    def __init__(self, url: str, settings: LogSettings) -> None:
        self.settings = settings
        self.reader = LogReader(url)  # a malformed url raises now
        _open_logs.add(self)

    @abstractmethod
    def append(self, record: LogRecord) -> None:
        """Queue a record for writing; never blocks on storage and never raises."""

    def append_bodies(self, bodies: Sequence[str]) -> None:
        """Queue records given as their canonical JSON: the same guarantees as `append`."""
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
    def accepting(self) -> bool:
        """True while a record appended now will be kept: stored, queued or spooled.

        False once the store fails and the spool (or, without one, the memory
        queue) is full: what the service's `on_log_failure` consults.
        """

    @property
    @abstractmethod
    def write_failures(self) -> int:
        """How many write attempts (batches) have failed since the log was opened."""

    @property
    @abstractmethod
    def dropped(self) -> int:
        """How many records were lost: queue and spool full, or appended after close."""

    @property
    @abstractmethod
    def written(self) -> int:
        """How many records were stored since the log was opened."""

    @property
    def backlog(self) -> int:
        """About how many records are queued and not yet stored (cheap: for back-pressure)."""
        return 0

    @property
    def spooled(self) -> int:
        """How many records wait in the disk spool for the store to return."""
        return 0

    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Check the stored chain and a head kept elsewhere; `StorageError` if unreadable."""
        return self.reader.verify(expect_head)

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
        customers: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[LogRecord]:
        """The newest `limit` stored records matching every given filter, oldest first.

        `customers` are the HMACs of one customer reference (`CustomerKeys.digests`).
        """
        where = QueryFilter(
            subject,
            subject_kind,
            info_class,
            allowed,
            kind,
            since,
            until,
            caller,
            None if customers is None else tuple(customers),
        )
        return self.reader.query(where, limit)

    def head(self) -> Head:
        """The newest stored seq and hash: keep a copy elsewhere to detect tail truncation."""
        return self.reader.head()

    def __len__(self) -> int:
        """How many records are stored."""
        return self.reader.count()


_open_logs: weakref.WeakSet[DecisionLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    for open_log_ in list(_open_logs):
        open_log_.close()


def forget(decision_log: DecisionLog) -> None:
    """Drop a closed log from the logs closed at interpreter exit."""
    _open_logs.discard(decision_log)
