"""The decision log: the tamper-evident audit trail of every decision (seed §3.3).

`open_log(url)` gives a `DecisionLog` whose `append` queues records for a
background writer; `verify` checks the hash chain; `query` filters records;
`read_records` streams a log or a JSONL export. See docs/decision-log.md.
"""

from __future__ import annotations

from pdp.audit.chain import ChainProblem, Head, VerifyResult
from pdp.audit.log import DecisionLog, open_log, read_records
from pdp.audit.record import LogRecord, decision_record, event_record

__all__ = [
    "ChainProblem",
    "DecisionLog",
    "Head",
    "LogRecord",
    "VerifyResult",
    "decision_record",
    "event_record",
    "open_log",
    "read_records",
]
