"""Log records: what the decision log stores for each decision, alert and policy event.

A record names who asked what and what was answered — never customer data: no
request context, no customer ids, no field values. Its canonical encoding (the
bytes the hash chain covers) is the record's `to_dict()` as JSON with sorted
keys, no whitespace and non-ASCII characters kept (`canonical_json`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from pdp.core.decision import Decision, Request

KINDS = ("decision", "alert", "policy")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_encode_sorted = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str
).encode


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
            raise ValueError(f"log record lacks the field `{exc.args[0]}`") from None
        except TypeError as exc:
            raise ValueError(f"malformed log record: {exc}") from None


def now_iso() -> str:
    """The current time in the log's format: ISO 8601 UTC with microseconds and `Z`."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def utc_time(text: str) -> str:
    """Normalise an ISO 8601 date or time to the log's format (naive times are UTC).

    Raises `ValueError` naming the text when it is not a date or time.
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"`{text}` is not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(TIME_FORMAT)


def decision_record(
    request: Request,
    decision: Decision,
    caller: str,
    decision_id: str | None = None,
    time: str | None = None,
) -> LogRecord:
    """The log record of one decision (the request's context is not recorded)."""
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


def _strings(values: tuple[str, ...]) -> str:
    return ",".join(map(encode_basestring, values))


# Canonical JSON is built from two cached segments (the fields that repeat across
# decisions) around the two that do not (decision_id, time).
_Before = tuple[str, bool, str]
_Between = tuple[str, str, tuple[str, ...], str, str, tuple[str, ...], str, str]
_CACHE_LIMIT = 4096
_before_cache: dict[_Before, str] = {}
_between_cache: dict[_Between, str] = {}


def _before(key: _Before) -> str:
    action, allowed, caller = key
    text = (
        f'{{"action":{encode_basestring(action)},"allowed":{"true" if allowed else "false"},'
        f'"caller":{encode_basestring(caller)},"decision_id":'
    )
    if len(_before_cache) >= _CACHE_LIMIT:
        _before_cache.clear()
    _before_cache[key] = text
    return text


def _between(key: _Between) -> str:
    info_class, kind, obligations, version, purpose, reasons, subject, subject_kind = key
    text = (
        f',"detail":{{}},"info_class":{encode_basestring(info_class)},'
        f'"kind":{encode_basestring(kind)},"obligations":[{_strings(obligations)}],'
        f'"policy_version":{encode_basestring(version)},"purpose":{encode_basestring(purpose)},'
        f'"reasons":[{_strings(reasons)}],"subject":{encode_basestring(subject)},'
        f'"subject_kind":{encode_basestring(subject_kind)},"time":'
    )
    if len(_between_cache) >= _CACHE_LIMIT:
        _between_cache.clear()
    _between_cache[key] = text
    return text


def canonical_json(record: LogRecord) -> str:
    """The canonical encoding of a record, the text the hash chain covers.

    Equal to `json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`. Decisions (no detail, plain types) take a fast path that
    caches the encoding of the fields that repeat; anything else takes that call.
    """
    r = record
    if r.detail or type(r.allowed) is not bool:
        return _encode_sorted(r.to_dict())
    try:
        k1 = (r.action, r.allowed, r.caller)
        k2 = (
            r.info_class,
            r.kind,
            r.obligations,
            r.policy_version,
            r.purpose,
            r.reasons,
            r.subject,
            r.subject_kind,
        )
        before = _before_cache.get(k1) or _before(k1)
        between = _between_cache.get(k2) or _between(k2)
        return f"{before}{encode_basestring(r.decision_id)}{between}{encode_basestring(r.time)}}}"
    except TypeError:  # a value of another type, or an unhashable one (a list)
        return _encode_sorted(r.to_dict())


def safe_canonical_json(record: LogRecord) -> str:
    """The canonical JSON of a record; a detail that cannot be encoded is replaced by a note."""
    try:
        return canonical_json(record)
    except ValueError as exc:
        return canonical_json(replace(record, detail={"encoding_error": str(exc)}))


def decision_parts(caller: str, request: Request, decision: Decision) -> tuple[str, str]:
    """The canonical JSON of a decision record around its id and time, for fast encoding.

    `before + encode_basestring(decision_id) + after + encode_basestring(time) + "}"`
    equals `canonical_json(decision_record(request, decision, caller, decision_id, time))`
    (the service builds the bodies of a batch this way and queues them with
    `DecisionLog.append_bodies`).
    """
    before = _before_cache.get((request.action, decision.allowed, caller)) or _before(
        (request.action, decision.allowed, caller)
    )
    key = (
        request.info_class,
        "decision",
        decision.obligations,
        decision.policy_version,
        request.purpose,
        decision.reasons,
        request.subject,
        request.subject_kind,
    )
    return before, _between_cache.get(key) or _between(key)


def time_of_body(body: str) -> str | None:
    """The `time` of a canonical JSON body (its last field), or None when it has none."""
    start = body.rfind('"time":"')
    if start < 0 or not body.endswith('"}'):
        return None
    text = body[start + 8 : -2]
    return text if "\\" not in text and '"' not in text else None


def parse_canonical(body: str) -> LogRecord:
    """Decode a stored canonical encoding back into a record (raises `ValueError`)."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("log record is not a JSON object")
    return LogRecord.from_dict(data)
