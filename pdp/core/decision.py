"""Decisions: the request, the decision value, and the rules that turn one into the other.

`decide` implements the spec's sections "Decisions" and "Decisions, version
2" on a compiled policy. It never raises for any input: unknown ids, wrong
types and bad context are a deny with a reason naming the problem.

Requirements (`when`), windows and consent are judged only on the grants the
compiled index matched, so a decision costs the same whatever the policy's size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pdp.core.compile import CompiledPolicy, Held
from pdp.core.context import Context, context_of
from pdp.core.model import Conditions, Grant, within

SubjectKind = Literal["role", "user"]

DEFAULT_DENY = "default_deny"
CONSENT_REQUIRED = "consent_required"
SEPARATE_CONSENT_REQUIRED = "separate_consent_required"
USER_DISABLED = "user_disabled"
INVALID_REQUEST = "invalid_request"
INVALID_CONTEXT = "invalid_context"
ERROR = "error"
BREAK_GLASS = "break_glass"
"""The obligation of an allow that only break-glass grants give."""
UNKNOWN = {
    "role": "unknown_role",
    "user": "unknown_user",
    "info_class": "unknown_info_class",
    "purpose": "unknown_purpose",
    "action": "unknown_action",
}
UNMET = {
    "mfa": "mfa_required",
    "ticket": "ticket_required",
    "approver": "approval_required",
    "relationship": "relationship_required",
    "max_records": "bulk_limit_exceeded",
    "hours": "outside_hours",
}
"""Each requirement of a `when` and the reason given when it does not hold."""


@dataclass(frozen=True, slots=True)
class Request:
    """One question: may this subject take this action on this class for this purpose?

    `context` is the request context as plain data (`pdp.core.context.Context`
    says which keys it may hold).
    """

    subject_kind: SubjectKind
    subject: str
    info_class: str
    purpose: str
    action: str
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The request as the JSON shape the service and the log use."""
        return {
            self.subject_kind: self.subject,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
            "context": dict(self.context),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: allowed or not, the ids that decided it, obligations, and the policy version."""

    allowed: bool
    reasons: tuple[str, ...]
    obligations: tuple[str, ...]
    policy_version: str
    decision_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The decision as the JSON shape of the service (`DecisionResponseV1`)."""
        return {
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "obligations": list(self.obligations),
            "policy_version": self.policy_version,
            "decision_id": self.decision_id,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision and whether another time could have changed it (so it may not be memoised)."""

    decision: Decision
    timed: bool = False


def deny(version: str, *reasons: str) -> Decision:
    """A deny for the given reasons."""
    return Decision(False, reasons, (), version)


def parse_request(
    role: Any = None,
    user: Any = None,
    info_class: Any = None,
    purpose: Any = None,
    action: Any = None,
    context: Any = None,
) -> tuple[Request, Context] | str:
    """A `Request` and its validated context, or the reason code that makes the input malformed."""
    if (role is None) == (user is None):
        return INVALID_REQUEST
    kind: SubjectKind = "role" if role is not None else "user"
    subject = role if role is not None else user
    facts = context_of(context)
    if facts is None:
        return INVALID_CONTEXT
    values = (subject, info_class, purpose, action)
    if not all(isinstance(v, str) for v in values):
        return INVALID_REQUEST
    return Request(kind, subject, info_class, purpose, action, context or {}), facts


def request_from(
    role: Any = None,
    user: Any = None,
    info_class: Any = None,
    purpose: Any = None,
    action: Any = None,
    context: Any = None,
) -> Request | str:
    """Build a `Request`, or return the reason code that makes the input malformed."""
    parsed = parse_request(role, user, info_class, purpose, action, context)
    return parsed if isinstance(parsed, str) else parsed[0]


def consent_reason(
    compiled: CompiledPolicy, info_class: str, purpose: str, consent: Sequence[str]
) -> str | None:
    """The consent reason a request fails with, or None when no consent is missing.

    Ordinary consent names the purpose or an ancestor; separate consent (the
    purpose's chain says so, or the class is sensitive) names the purpose itself.
    """
    scope = compiled.consent_scope.get(purpose)
    if scope is None:
        return None
    if not any(c in scope for c in consent):
        return CONSENT_REQUIRED
    separate = purpose in compiled.separate_consent or info_class in compiled.sensitive
    if separate and purpose not in consent:
        return SEPARATE_CONSENT_REQUIRED
    return None


def unmet(
    compiled: CompiledPolicy,
    request: Request,
    when: Conditions,
    facts: Context,
    at: datetime | None,
) -> list[str]:
    """The requirements of a `when` that do not hold for this request, by key, in key order."""
    failed = []
    if when.mfa and not facts.mfa:
        failed.append("mfa")
    if when.ticket and facts.ticket is None:
        failed.append("ticket")
    if when.approver and not facts.approved_for(request.subject_kind, request.subject):
        failed.append("approver")
    if when.relationship is not None and facts.relationship not in when.relationship:
        failed.append("relationship")
    if when.max_records is not None and facts.records > when.max_records:
        failed.append("max_records")
    if when.hours is not None and (at is None or not in_hours(when.hours, at, compiled)):
        failed.append("hours")
    return failed


def in_hours(hours: tuple[int, int], at: datetime, compiled: CompiledPolicy) -> bool:
    """True when `at`, read in the policy's zone, is in [start, end) (wrapping past midnight)."""
    local = at.astimezone(compiled.zone)
    minute = local.hour * 60 + local.minute
    start, end = hours
    return start <= minute < end if start < end else minute >= start or minute < end


def held_for(
    compiled: CompiledPolicy, request: Request, at: datetime | None = None
) -> Held | tuple[str, ...]:
    """What rules 1-4 give the request's subject at time `at`, or the `unknown_*` reasons.

    Without `at`, every role assignment counts (the held permissions of the review).
    """
    closure = compiled.closure_of(request.subject_kind, request.subject)
    unknown = []
    if closure is None:
        unknown.append(UNKNOWN[request.subject_kind])
    if request.info_class not in compiled.class_ancestors:
        unknown.append(UNKNOWN["info_class"])
    if request.purpose not in compiled.purpose_ancestors:
        unknown.append(UNKNOWN["purpose"])
    if request.action not in compiled.actions:
        unknown.append(UNKNOWN["action"])
    if unknown or closure is None:
        return tuple(unknown)
    if at is not None:
        closure = compiled.closure_at(request.subject_kind, request.subject, at)
    return compiled.held(closure, request.info_class, request.purpose, request.action)


def in_window(grant: Grant, at: datetime) -> bool:
    """True when the grant exists at `at`."""
    return within(grant.valid_from, grant.valid_until, at)


def request_time(facts: Context, at: datetime | None) -> datetime:
    """The time a request is judged at: `context.time`, else `at`, else now."""
    return facts.time or at or datetime.now(UTC)


def judge(
    compiled: CompiledPolicy,
    request: Request,
    facts: Context,
    at: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Outcome:
    """Decide a request whose context is already validated.

    The time is `context.time`, else `at`, else `clock()`, else now; it is
    read only when the decision depends on it (`Outcome.timed`).
    """
    version = compiled.version
    if facts.relationship is not None and facts.relationship not in compiled.relationships:
        return Outcome(deny(version, INVALID_CONTEXT))
    moment: datetime | None = None
    timed = request.subject_kind == "user" and request.subject in compiled.timed_users
    if timed:
        moment = facts.time or at or (clock or _utc_now)()
    held = held_for(compiled, request, moment)
    if isinstance(held, tuple):
        return Outcome(deny(version, *held))
    if request.subject_kind == "user" and request.subject in compiled.disabled_users:
        return Outcome(deny(version, USER_DISABLED))
    timed_grants = compiled.timed_grants
    if timed_grants and not (
        timed_grants.isdisjoint(held.allows) and timed_grants.isdisjoint(held.denies)
    ):
        timed = True
        if moment is None:
            moment = facts.time or at or (clock or _utc_now)()
    return Outcome(decide_held(compiled, request, held, facts, moment), timed)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def decide_held(
    compiled: CompiledPolicy, request: Request, held: Held, facts: Context, at: datetime | None
) -> Decision:
    """Rules 2-6 of version 2: turn the grants that reach a request into a decision.

    `at` may be None only when no grant of `held` has a window or `hours`.
    """
    grants = compiled.grants
    version = compiled.version
    denies = held.denies
    allows = held.allows
    if at is not None:
        timed = compiled.timed_grants
        denies = tuple(i for i in denies if i not in timed or in_window(grants[i], at))
    if denies:
        return deny(version, *sorted({grants[i].id for i in denies}))
    if at is not None:
        allows = tuple(i for i in allows if i not in timed or in_window(grants[i], at))
    if not allows:
        return deny(version, DEFAULT_DENY)
    conditional = compiled.conditional_grants
    reasons: set[str] = set()
    if conditional and not conditional.isdisjoint(allows):
        applying = []
        for i in allows:
            when = grants[i].when
            failed = () if when is None else unmet(compiled, request, when, facts, at)
            if failed:
                reasons.update(UNMET[key] for key in failed)
            else:
                applying.append(grants[i])
    else:
        applying = [grants[i] for i in allows]
    consent = (
        consent_reason(compiled, request.info_class, request.purpose, facts.consent)
        if request.purpose in compiled.consent_scope
        else None
    )
    if not applying:
        if consent is not None:
            reasons.add(consent)
        return deny(version, *sorted(reasons))
    if consent is not None:
        return deny(version, consent)
    obligations = {o for g in applying for o in g.obligations}
    if compiled.break_glass_grants and all(g.break_glass for g in applying):
        obligations.add(BREAK_GLASS)
    return Decision(
        True, tuple(sorted({g.id for g in applying})), tuple(sorted(obligations)), version
    )


def decide(compiled: CompiledPolicy, request: Request, at: datetime | None = None) -> Decision:
    """Decide a well-formed request on a compiled policy, at `context.time` or `at` (or now)."""
    facts = context_of(request.context)
    if facts is None:
        return deny(compiled.version, INVALID_CONTEXT)
    return judge(compiled, request, facts, at).decision
