"""Decisions: the request, the decision value, and the rules that turn one into the other.

`decide` implements the spec's section "Decisions" on a compiled policy. It
never raises for any input: unknown ids, wrong types and bad context are a
deny with a reason naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pdp.core.compile import CompiledPolicy, Held

SubjectKind = Literal["role", "user"]

DEFAULT_DENY = "default_deny"
CONSENT_REQUIRED = "consent_required"
USER_DISABLED = "user_disabled"
INVALID_REQUEST = "invalid_request"
INVALID_CONTEXT = "invalid_context"
ERROR = "error"
UNKNOWN = {
    "role": "unknown_role",
    "user": "unknown_user",
    "info_class": "unknown_info_class",
    "purpose": "unknown_purpose",
    "action": "unknown_action",
}


@dataclass(frozen=True, slots=True)
class Request:
    """One question: may this subject take this action on this class for this purpose?"""

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


def deny(version: str, *reasons: str) -> Decision:
    """A deny for the given reasons."""
    return Decision(False, reasons, (), version)


def request_from(
    role: Any = None,
    user: Any = None,
    info_class: Any = None,
    purpose: Any = None,
    action: Any = None,
    context: Any = None,
) -> Request | str:
    """Build a `Request`, or return the reason code that makes the input malformed."""
    if (role is None) == (user is None):
        return INVALID_REQUEST
    kind: SubjectKind = "role" if role is not None else "user"
    subject = role if role is not None else user
    if context is None:
        context = {}
    if not isinstance(context, Mapping):
        return INVALID_CONTEXT
    consent = context.get("consent", [])
    if not isinstance(consent, list | tuple) or not all(isinstance(c, str) for c in consent):
        return INVALID_CONTEXT
    values = (subject, info_class, purpose, action)
    if not all(isinstance(v, str) for v in values):
        return INVALID_REQUEST
    return Request(kind, subject, info_class, purpose, action, context)


def consent_given(compiled: CompiledPolicy, purpose: str, context: Mapping[str, Any]) -> bool:
    """True when `context.consent` (a list, checked by `request_from`) covers the purpose."""
    scope = compiled.consent_scope[purpose]
    return any(c in scope for c in context.get("consent", ()))


def held_for(compiled: CompiledPolicy, request: Request) -> Held | tuple[str, ...]:
    """What rules 1-4 give the request's subject, or the `unknown_*` reasons."""
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
    return compiled.held(closure, request.info_class, request.purpose, request.action)


def decide_held(compiled: CompiledPolicy, request: Request, held: Held) -> Decision:
    """Rules 2, 3, 5 and 7: turn the grants that reach a request into a decision."""
    grants = compiled.grants
    version = compiled.version
    if request.subject_kind == "user" and compiled.policy.users[request.subject].disabled:
        return deny(version, USER_DISABLED)
    # Until conditions and windows are evaluated, a grant that has them does not apply.
    held = Held(
        tuple(i for i in held.allows if grants[i].when is None and not grants[i].timed),
        held.denies,
    )
    if held.denies:
        return deny(version, *sorted({grants[i].id for i in held.denies}))
    if not held.allows:
        return deny(version, DEFAULT_DENY)
    if request.purpose in compiled.consent_scope and not consent_given(
        compiled, request.purpose, request.context
    ):
        return deny(version, CONSENT_REQUIRED)
    obligations = sorted({o for i in held.allows for o in grants[i].obligations})
    return Decision(
        True, tuple(sorted({grants[i].id for i in held.allows})), tuple(obligations), version
    )


def decide(compiled: CompiledPolicy, request: Request) -> Decision:
    """Decide a well-formed request on a compiled policy (spec rules 1-7)."""
    held = held_for(compiled, request)
    if isinstance(held, tuple):
        return deny(compiled.version, *held)
    return decide_held(compiled, request, held)
