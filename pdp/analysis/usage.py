"""Usage of permissions: decision events read from the decision log or from an export.

A usage event is one decision: when, for which subject (role or user), which
class, purpose and action, and whether it was allowed. Sources:

- a decision log (SQLite path, `sqlite:///…` or `postgresql://…` URL), read
  with `pdp.audit.log.read_records` (decision records only);
- a CSV file (`.csv`) with a header naming the columns `time`, `role` or
  `user` (or `subject_kind` and `subject`), `info_class`, `purpose`,
  `action` and `allowed` (true/false, 1/0, yes/no, allow/deny); other
  columns are ignored, and rows whose `kind` column is not `decision` skipped;
- a JSON-lines file (`.jsonl`, `.ndjson`), one object a line with the same
  keys — so `pdp log export` output works as it is.

`time` is ISO 8601; a time without a zone is taken as UTC.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pdp.errors import UsageError

RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TRUE = {"true", "1", "yes", "y", "allow", "allowed", "t"}
FALSE = {"false", "0", "no", "n", "deny", "denied", "f"}


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One decision: when, who (role or user), what (class, purpose, action), allowed or not."""

    time: datetime
    subject_kind: str
    subject: str
    info_class: str
    purpose: str
    action: str
    allowed: bool


def read_usage(source: str | Path) -> Iterator[UsageEvent]:
    """The decision events of a log (path or URL), a CSV file or a JSON-lines file."""
    text = str(source)
    suffix = Path(text).suffix.lower() if "://" not in text else ""
    if suffix == ".csv":
        return _read_csv(Path(text))
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(Path(text))
    return _read_log(text)


def parse_since(text: str, now: datetime) -> datetime:
    """The start of a window: `90d`, `12h`, `4w`, `30m` before `now`, or an ISO date or time."""
    match = RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{UNITS[unit]: amount})
    try:
        return parse_time(text)
    except ValueError:
        raise UsageError(
            f"invalid window `{text}`: use e.g. `90d`, `12h`, `4w` or an ISO date"
        ) from None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time, made timezone-aware (UTC when it names no zone)."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def event_from(row: Mapping[str, Any]) -> UsageEvent | None:
    """An event from a CSV row or JSON object; None for non-decision records (alerts)."""
    kind = row.get("kind")
    if kind not in (None, "", "decision"):
        return None
    subject_kind: Any
    subject: Any
    if row.get("role"):
        subject_kind, subject = "role", row["role"]
    elif row.get("user"):
        subject_kind, subject = "user", row["user"]
    else:
        subject_kind, subject = row.get("subject_kind"), row.get("subject")
    if subject_kind not in ("role", "user") or not subject:
        raise ValueError("needs `role`, `user`, or `subject_kind` and `subject`")
    missing = [k for k in ("time", "info_class", "purpose", "action", "allowed") if k not in row]
    if missing:
        raise ValueError(f"missing {', '.join(f'`{k}`' for k in missing)}")
    return UsageEvent(
        time=parse_time(str(row["time"])),
        subject_kind=str(subject_kind),
        subject=str(subject),
        info_class=str(row["info_class"]),
        purpose=str(row["purpose"]),
        action=str(row["action"]),
        allowed=_boolean(row["allowed"]),
    )


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"`allowed` is `{value}`, not true or false")


def _read_csv(path: Path) -> Iterator[UsageEvent]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for number, row in enumerate(csv.DictReader(f), 2):
                event = _parse(row, path, number)
                if event is not None:
                    yield event
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read `{path}`: {_reason(exc)}") from None


def _read_jsonl(path: Path) -> Iterator[UsageEvent]:
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"line {number} of `{path}` is not JSON: {exc.msg}") from None
                if not isinstance(data, dict):
                    raise UsageError(f"line {number} of `{path}` is not a JSON object")
                event = _parse(data, path, number)
                if event is not None:
                    yield event
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read `{path}`: {_reason(exc)}") from None


def _parse(row: Mapping[str, Any], path: Path, number: int) -> UsageEvent | None:
    try:
        return event_from(row)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"line {number} of `{path}`: {exc}") from None


def _read_log(source: str) -> Iterator[UsageEvent]:
    from pdp.audit import read_records

    for record in read_records(source):
        if record.kind != "decision" or record.subject_kind not in ("role", "user"):
            continue
        yield UsageEvent(
            time=parse_time(record.time),
            subject_kind=record.subject_kind,
            subject=record.subject,
            info_class=record.info_class,
            purpose=record.purpose,
            action=record.action,
            allowed=record.allowed,
        )


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return (exc.strerror or str(exc)).lower()
    return str(exc)
