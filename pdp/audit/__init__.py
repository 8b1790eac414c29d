"""The decision log: the tamper-evident audit trail of every decision (seed §3.3).

`open_log(url)` gives a `DecisionLog` whose `append` queues records for a
writer; `verify` checks the hash chain; `query` filters records;
`read_records` streams a log or a JSONL export. See docs/decision-log.md.

The modules: `record` (the record and its one canonical JSON), `chain` (hashes and verification),
`store`, `sqlite`, `postgres` (the SQL backends), `base` (the interface),
`thread_writer`, `process_writer` and `writer` (the writers), `spool` (the disk
spool), `reading` and `export` (reading a log or an export), `log` (`open_log`).
"""

from __future__ import annotations

from pdp.audit.base import DEFAULT_WRITER, DecisionLog, LogSettings
from pdp.audit.chain import ChainProblem, Head, VerifyResult
from pdp.audit.log import open_log
from pdp.audit.reading import export_log, head_of, read_records, verify_source
from pdp.audit.record import LogRecord, decision_record, event_record

__all__ = [
    "DEFAULT_WRITER",
    "ChainProblem",
    "DecisionLog",
    "Head",
    "LogRecord",
    "LogSettings",
    "VerifyResult",
    "decision_record",
    "event_record",
    "export_log",
    "head_of",
    "open_log",
    "read_records",
    "verify_source",
]
