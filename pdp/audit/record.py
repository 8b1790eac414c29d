"""Log records: what the decision log stores for each decision, alert and policy event.

A record names who asked what and what was answered, and (in a decision's
`detail`) the context facts that decided it — never customer data: the
customer reference only as a keyed HMAC (`accountability`), no field values.
Its canonical encoding (the
bytes the hash chain covers) is the record as JSON with sorted keys, no
whitespace and non-ASCII characters kept, written by one encoder (msgspec):
`canonical_json`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import msgspec

from pdp.audit.accountability import CustomerKeys, accountability
from pdp.core.decision import Decision, Request
from pdp.errors import LogInputError, LogRecordError

KINDS = ("decision", "alert", "policy")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

LOG_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One entry of the decision log: a decision, an alert, or a policy (reload) event."""

    kind: str
    decision_id: str
    time: str
    caller: str
    subject_kind: str
    subject: str
    info_class: str
    purpose: str
    action: str
    allowed: bool
    reasons: tuple[str, ...]
    obligations: tuple[str, ...]
    policy_version: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready mapping (lists for tuples)."""
        return {
            "kind": self.kind,
            "decision_id": self.decision_id,
            "time": self.time,
            "caller": self.caller,
            "subject_kind": self.subject_kind,
            "subject": self.subject,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "obligations": list(self.obligations),
            "policy_version": self.policy_version,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogRecord:
        """Rebuild a record from `to_dict()` output; other keys (seq, hash) are ignored."""
        try:
            return cls(
                kind=data["kind"],
                decision_id=data["decision_id"],
                time=data["time"],
                caller=data["caller"],
                subject_kind=data["subject_kind"],
                subject=data["subject"],
                info_class=data["info_class"],
                purpose=data["purpose"],
                action=data["action"],
                allowed=data["allowed"],
                reasons=tuple(data["reasons"]),
                obligations=tuple(data["obligations"]),
                policy_version=data["policy_version"],
                detail=dict(data.get("detail") or {}),
            )
        except KeyError as exc:
            raise LogRecordError(f"log record lacks the field `{exc.args[0]}`") from None
        except TypeError as exc:
            raise LogRecordError(f"malformed log record: {exc}") from None


def now_iso() -> str:
    """The current time in the log's format: ISO 8601 UTC with microseconds and `Z`."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def utc_time(text: str) -> str:
    """Normalise an ISO 8601 date or time to the log's format (naive times are UTC).

    Raises `LogInputError` naming the text when it is not a date or time.
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LogInputError(f"`{text}` is not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(TIME_FORMAT)


def decision_record(
    request: Request,
    decision: Decision,
    caller: str,
    decision_id: str | None = None,
    time: str | None = None,
    customer_keys: CustomerKeys | None = None,
) -> LogRecord:
    """The log record of one decision; `detail` holds its context facts (`accountability`)."""
    return LogRecord(
        kind="decision",
        decision_id=decision_id or decision.decision_id or uuid.uuid4().hex,
        time=time or now_iso(),
        caller=caller,
        subject_kind=request.subject_kind,
        subject=request.subject,
        info_class=request.info_class,
        purpose=request.purpose,
        action=request.action,
        allowed=decision.allowed,
        reasons=decision.reasons,
        obligations=decision.obligations,
        policy_version=decision.policy_version,
        detail=accountability(request.context, customer_keys),
    )


def event_record(
    kind: str,
    *,
    caller: str,
    policy_version: str,
    reasons: tuple[str, ...] = (),
    detail: Mapping[str, Any] | None = None,
    subject_kind: str = "",
    subject: str = "",
    info_class: str = "",
    allowed: bool = False,
) -> LogRecord:
    """The log record of an alert or a policy event (e.g. a rejected reload and its errors)."""
    return LogRecord(
        kind=kind,
        decision_id=uuid.uuid4().hex,
        time=now_iso(),
        caller=caller,
        subject_kind=subject_kind,
        subject=subject,
        info_class=info_class,
        purpose="",
        action="",
        allowed=allowed,
        reasons=reasons,
        obligations=(),
        policy_version=policy_version,
        detail=dict(detail or {}),
    )


def canonical_json(record: LogRecord) -> str:
    """The canonical encoding of a record, the text the hash chain covers.

    msgspec's JSON of the record with sorted keys, no whitespace and non-ASCII
    characters kept (equal to `json.dumps(record.to_dict(), sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)` but for floats in exponent
    form); a value of another type in `detail` is encoded as its `str`. Raises
    `LogRecordError` when the record cannot be encoded (a lone surrogate).
    """
    try:
        return _encode(record).decode()
    except (msgspec.EncodeError, UnicodeEncodeError, RecursionError, TypeError) as exc:
        raise LogRecordError(f"log record cannot be encoded: {exc}") from None


def canonical_json_with_id(template: Mapping[str, Any], decision_id: str) -> str:
    """The canonical JSON of a record given as `LogRecord.to_dict()`, with another decision id.

    Equal to `safe_canonical_json(replace(record, decision_id=decision_id))`,
    and never fails either, but builds no `LogRecord`: equal decisions of a
    batch share one mapping and cost one encode each.
    """
    try:
        return _encode({**template, "decision_id": decision_id}).decode()
    except (msgspec.EncodeError, UnicodeError, RecursionError, TypeError):
        record = replace(LogRecord.from_dict(template), decision_id=decision_id)
        return safe_canonical_json(record)


def safe_canonical_json(record: LogRecord) -> str:
    """The canonical JSON of a record, which never fails.

    Text that cannot be encoded (a lone surrogate) has it replaced by `?`; a
    detail that still cannot be encoded is replaced by a note.
    """
    try:
        return canonical_json(record)
    except LogRecordError:
        pass
    try:
        return canonical_json(_replace_surrogates(record))
    except (LogRecordError, RecursionError) as exc:
        note = {"encoding_error": str(exc)}
    return canonical_json(_replace_surrogates(replace(record, detail=note)))


def _replace_surrogates(record: LogRecord) -> LogRecord:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return value.encode("utf-8", "replace").decode("utf-8")
        if isinstance(value, (list, tuple)):
            return type(value)(clean(v) for v in value)
        if isinstance(value, Mapping):
            return {clean(k): clean(v) for k, v in value.items()}
        return value

    return LogRecord(**{f.name: clean(getattr(record, f.name)) for f in fields(LogRecord)})


def column_time(body: str) -> str | None:
    """The time column of a stored body: its `time` when a log time, else None.

    The `time` is the last field of canonical JSON. Stores copy it to an
    indexed column for time ranges; verification checks the copy.
    """
    start = body.rfind(',"time":"')
    if start < 0 or not body.endswith('"}'):
        return None
    text = body[start + 9 : -2]
    return text if LOG_TIME.fullmatch(text) else None


def parse_canonical(body: str) -> LogRecord:
    """Decode a stored canonical encoding back into a record (raises `LogRecordError`)."""
    try:
        data = _decode(body)
    except msgspec.DecodeError as exc:
        raise LogRecordError(f"log record is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LogRecordError("log record is not a JSON object")
    return LogRecord.from_dict(data)


_encode = msgspec.json.Encoder(order="sorted", enc_hook=str).encode
_decode = msgspec.json.Decoder().decode
