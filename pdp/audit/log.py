"""Opening a decision log: one factory, one default writer for the library and the service.

    log = open_log("var/decisions.db")          # or sqlite:///..., postgresql://...
    log.append(decision_record(request, decision, caller="crm"))   # never blocks, never raises
    log.close()                                  # writes everything queued, then stops

The default writer is `process` (`process_writer`): the records are chained and
inserted by a writer process of the log's own, so they never take the calling
process's interpreter lock. `writer="thread"` (`thread_writer`) does the same
work in a thread of the calling process (no child process; slower for a busy
service). Both share `LogSettings` and give the same guarantees.
"""

from __future__ import annotations

from pathlib import Path

from pdp.audit.base import (
    DEFAULT_WRITER,
    MAX_PENDING,
    SPOOL_MAX_BYTES,
    DecisionLog,
    LogSettings,
    Writer,
)


def open_log(
    url: str,
    *,
    batch_size: int = 500,
    flush_interval: float = 0.2,
    max_pending: int = MAX_PENDING,
    spool: Path | None = None,
    spool_max_bytes: int = SPOOL_MAX_BYTES,
    writer: Writer = DEFAULT_WRITER,
) -> DecisionLog:
    """Open (creating if missing) the log at a path, `sqlite:///PATH` or `postgresql://...`.

    `spool` is a directory where records wait, up to `spool_max_bytes`, while
    the store is unreachable. Raises `StorageError` only for a malformed url or
    an unusable spool; an unreachable or unwritable store gives a log whose
    `healthy` is False and which spools (or queues) and retries.
    """
    settings = LogSettings(batch_size, flush_interval, max_pending, spool, spool_max_bytes)
    if writer == "process":
        from pdp.audit.process_writer import ProcessDecisionLog

        return ProcessDecisionLog(url, settings)
    from pdp.audit.thread_writer import ThreadDecisionLog

    return ThreadDecisionLog(url, settings)
