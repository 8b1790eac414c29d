"""An independent, naive reading of the spec (versions 1 and 2), for differential tests.

It reads the plain data of a policy file (the dict YAML gives) and uses
nothing of `pdp`: role inheritance by plain recursion, class and purpose
ancestry by dotted prefix, dates and hours with `datetime` and `zoneinfo`,
and a scan of every grant for every question. Slow on purpose; it is the
reference the index and the Casbin export are checked against.

A request is the dict `DecisionPoint.decide` takes: `role` or `user`,
`info_class`, `purpose`, `action` and an optional `context`. `now` is the
decision point's clock, used when the context names no `time`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

Doc = dict[str, Any]
Verdict = tuple[bool, tuple[str, ...], tuple[str, ...]]

CONTEXT_KEYS = (
    "consent",
    "mfa",
    "ticket",
    "approver",
    "relationship",
    "records",
    "time",
    "customer",
)
UNMET = {
    "mfa": "mfa_required",
    "ticket": "ticket_required",
    "approver": "approval_required",
    "relationship": "relationship_required",
    "max_records": "bulk_limit_exceeded",
    "hours": "outside_hours",
}


def grant_ids(doc: Doc, file: str = "policy.yaml") -> list[str]:
    """Each grant's id: its own, or `<file>#<position>` counted from 1."""
    return [g.get("id", f"{file}#{n + 1}") for n, g in enumerate(doc.get("grants", []))]


def covers(named: str, requested: str) -> bool:
    """True when the dotted id `named` is `requested` or one of its ancestors."""
    return requested == named or requested.startswith(named + ".")


def _reaches(doc: Doc, role: str, target: str) -> bool:
    """True when `role` is `target` or inherits it, directly or transitively."""
    if role == target:
        return True
    inherits = doc["roles"][role].get("inherits", [])
    return any(_reaches(doc, parent, target) for parent in inherits)


def _instant(value: Any, end_of_day: bool) -> dt.datetime:
    """A `valid_from`/`valid_until` value as an aware instant (a date: its start, or its end)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        day = value + dt.timedelta(days=1) if end_of_day else value
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def in_window(item: dict[str, Any], at: dt.datetime) -> bool:
    """True when `at` is in [valid_from, valid_until) of a grant or an assignment."""
    if "valid_from" in item and at < _instant(item["valid_from"], end_of_day=False):
        return False
    return not ("valid_until" in item and at >= _instant(item["valid_until"], end_of_day=True))


def _starts(doc: Doc, kind: str, subject: str, at: dt.datetime) -> list[str]:
    """The roles a subject starts from: the role itself, or a user's roles held at `at`."""
    if kind == "role":
        return [subject]
    starts = []
    for entry in doc["users"][subject].get("roles", []):
        assignment = {"role": entry} if isinstance(entry, str) else entry
        if in_window(assignment, at):
            starts.append(assignment["role"])
    return starts


def _matches(doc: Doc, grant: dict[str, Any], starts: list[str], request: dict[str, Any]) -> bool:
    # `*` names every declared role; a subject starting from no role reaches none of them.
    roles_ok = (bool(starts) and "*" in grant["roles"]) or any(
        _reaches(doc, start, named) for start in starts for named in grant["roles"]
    )
    classes_ok = "*" in grant["classes"] or any(
        covers(c, request["info_class"]) for c in grant["classes"]
    )
    purposes_ok = "*" in grant["purposes"] or any(
        covers(p, request["purpose"]) for p in grant["purposes"]
    )
    actions_ok = "*" in grant["actions"] or request["action"] in grant["actions"]
    return roles_ok and classes_ok and purposes_ok and actions_ok


def _subject(request: dict[str, Any]) -> tuple[str, str]:
    return ("role", request["role"]) if "role" in request else ("user", request["user"])


def request_time(request: dict[str, Any], now: dt.datetime) -> dt.datetime:
    """The time a request is judged at: `context.time`, or the clock."""
    text = request.get("context", {}).get("time")
    return now if text is None else dt.datetime.fromisoformat(text)


def matching(
    doc: Doc, request: dict[str, Any], at: dt.datetime, file: str = "policy.yaml"
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """Every (id, grant) allow and deny in its window that reaches the request at `at`."""
    kind, subject = _subject(request)
    starts = _starts(doc, kind, subject, at)
    allows, denies = [], []
    for gid, grant in zip(grant_ids(doc, file), doc.get("grants", []), strict=True):
        if in_window(grant, at) and _matches(doc, grant, starts, request):
            (denies if grant.get("effect") == "deny" else allows).append((gid, grant))
    return allows, denies


def held(doc: Doc, request: dict[str, Any], now: dt.datetime) -> bool:
    """Rules 1-4 at the request's time: an allow reaches it and no deny does (ids declared)."""
    allows, denies = matching(doc, request, request_time(request, now))
    return bool(allows) and not denies


def _valid_time(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        return dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def context_valid(doc: Doc, context: Any) -> bool:
    """The spec's "Request context": only its keys, each with a value of its type."""
    if not isinstance(context, dict) or any(k not in CONTEXT_KEYS for k in context):
        return False
    checks = {
        "consent": lambda v: isinstance(v, list | tuple) and all(isinstance(c, str) for c in v),
        "mfa": lambda v: isinstance(v, bool),
        "ticket": lambda v: isinstance(v, str) and v != "",
        "approver": lambda v: isinstance(v, str) and v != "",
        "relationship": lambda v: isinstance(v, str) and v in doc.get("relationships", []),
        "records": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "time": _valid_time,
        "customer": lambda v: isinstance(v, str) and v != "",
    }
    return all(checks[key](value) for key, value in context.items())


def _unknown(doc: Doc, request: dict[str, Any]) -> list[str]:
    kind, subject = _subject(request)
    table = doc["roles"] if kind == "role" else doc.get("users", {})
    reasons = []
    if subject not in table:
        reasons.append(f"unknown_{kind}")
    if request["info_class"] not in doc["classes"]:
        reasons.append("unknown_info_class")
    if request["purpose"] not in doc["purposes"]:
        reasons.append("unknown_purpose")
    if request["action"] not in doc["actions"]:
        reasons.append("unknown_action")
    return reasons


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def in_hours(doc: Doc, hours: str, at: dt.datetime) -> bool:
    """True when `at`, in the policy's timezone, is in [start, end); start > end wraps."""
    local = at.astimezone(ZoneInfo(doc.get("timezone", "UTC")))
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    start, end = (_minutes(part) * 60 for part in hours.split("-"))
    if start <= end:
        return start <= seconds < end
    return seconds >= start or seconds < end


def unmet(doc: Doc, grant: dict[str, Any], request: dict[str, Any], at: dt.datetime) -> list[str]:
    """The unmet reasons of an allow grant's requirements for a request at `at`."""
    context = request.get("context", {})
    when = dict(grant.get("when", {}))
    if grant.get("break_glass"):
        when["ticket"] = True
    kind, subject = _subject(request)
    holds = {
        "mfa": lambda _: context.get("mfa") is True,
        "ticket": lambda _: "ticket" in context,
        "approver": lambda _: (
            "approver" in context and (kind == "role" or context["approver"] != subject)
        ),
        "relationship": lambda allowed: context.get("relationship") in allowed,
        "max_records": lambda limit: context.get("records", 1) <= limit,
        "hours": lambda hours: in_hours(doc, hours, at),
    }
    return [UNMET[key] for key, value in when.items() if value and not holds[key](value)]


def _is_ancestor_or_self(tree: dict[str, Any], dotted: str, key: str, value: Any) -> bool:
    """True when `dotted` or one of its ancestors has `key: value` in its declaration."""
    return any(covers(i, dotted) and (e or {}).get(key) == value for i, e in tree.items())


def consent_reason(doc: Doc, request: dict[str, Any]) -> str | None:
    """The consent reason (rule 5, version 2), or None when consent holds or is not needed."""
    purpose, info_class = request["purpose"], request["info_class"]
    if not _is_ancestor_or_self(doc["purposes"], purpose, "legal_basis", "consent"):
        return None
    given = request.get("context", {}).get("consent", [])
    if not any(covers(c, purpose) for c in given):
        return "consent_required"
    separate = _is_ancestor_or_self(
        doc["purposes"], purpose, "consent", "separate"
    ) or _is_ancestor_or_self(doc["classes"], info_class, "sensitive", True)
    if separate and purpose not in given:
        return "separate_consent_required"
    return None


def decide(doc: Doc, request: dict[str, Any], now: dt.datetime) -> Verdict:
    """The spec's decision: (allowed, reasons, obligations) for a request at `now`."""
    if not context_valid(doc, request.get("context", {})):
        return False, ("invalid_context",), ()
    unknown = _unknown(doc, request)
    if unknown:
        return False, tuple(unknown), ()
    kind, subject = _subject(request)
    if kind == "user" and doc["users"][subject].get("disabled"):
        return False, ("user_disabled",), ()
    at = request_time(request, now)
    allows, denies = matching(doc, request, at)
    if denies:
        return False, tuple(sorted({gid for gid, _ in denies})), ()
    if not allows:
        return False, ("default_deny",), ()
    applying = [(gid, g) for gid, g in allows if not unmet(doc, g, request, at)]
    consent = consent_reason(doc, request)
    if not applying:
        reasons = {r for _, g in allows for r in unmet(doc, g, request, at)}
        return False, tuple(sorted(reasons | ({consent} if consent else set()))), ()
    if consent:
        return False, (consent,), ()
    obligations = {o for _, g in applying for o in g.get("obligations", [])}
    if all(g.get("break_glass") for _, g in applying):
        obligations.add("break_glass")
    return True, tuple(sorted({gid for gid, _ in applying})), tuple(sorted(obligations))
