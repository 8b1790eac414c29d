"""Explanations: which grants matched a request, through what, and which requirements held.

Per matched grant: the inheritance path, the class and purpose that matched,
whether the grant exists at the request's time (its window), and for an
allow each requirement of its `when` with whether it held; for the request:
its time, and whether consent (ordinary or separate) is needed and missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pdp.core.compile import CompiledPolicy, Held, expand
from pdp.core.context import Context, context_of
from pdp.core.decision import (
    INVALID_CONTEXT,
    UNMET,
    Decision,
    Request,
    consent_reason,
    deny,
    in_window,
    judge,
    request_time,
    unmet,
)
from pdp.core.hierarchy import inheritance_path
from pdp.core.model import Conditions


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement of a grant's `when`, whether it held, and the reason when it did not."""

    key: str
    held: bool

    @property
    def reason(self) -> str:
        """The unmet reason of this requirement (`mfa_required`, ...)."""
        return UNMET[self.key]

    def to_dict(self) -> dict[str, Any]:
        """The requirement as plain data."""
        return {"requirement": self.key, "held": self.held, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Match:
    """One grant that reached the request, and how."""

    grant_id: str
    effect: str
    path: tuple[str, ...]
    matched_class: str
    matched_purpose: str
    obligations: tuple[str, ...]
    location: str
    in_window: bool = True
    requirements: tuple[Requirement, ...] = ()
    break_glass: bool = False

    @property
    def applies(self) -> bool:
        """True when the grant exists at the request's time and every requirement held."""
        return self.in_window and all(r.held for r in self.requirements)

    def to_dict(self) -> dict[str, Any]:
        """The match as plain data."""
        return {
            "grant": self.grant_id,
            "effect": self.effect,
            "path": list(self.path),
            "matched_class": self.matched_class,
            "matched_purpose": self.matched_purpose,
            "obligations": list(self.obligations),
            "location": self.location,
            "in_window": self.in_window,
            "requirements": [r.to_dict() for r in self.requirements],
            "break_glass": self.break_glass,
            "applies": self.applies,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """A decision with every allow and deny grant that reached it."""

    decision: Decision
    request: Request
    allows: tuple[Match, ...]
    denies: tuple[Match, ...]
    class_ancestors: tuple[str, ...]
    purpose_ancestors: tuple[str, ...]
    consent_needed: bool
    time: datetime | None = None
    consent_separate: bool = False
    consent_missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain data (`ExplanationV1`)."""
        return {
            "time": None if self.time is None else self.time.isoformat(),
            "consent_separate": self.consent_separate,
            "consent_missing": self.consent_missing,
            **self.decision.to_dict(),
            "request": self.request.to_dict(),
            "matched": [m.to_dict() for m in self.allows],
            "overridden_by": [m.to_dict() for m in self.denies],
            "class_ancestors": list(self.class_ancestors),
            "purpose_ancestors": list(self.purpose_ancestors),
            "consent_needed": self.consent_needed,
        }


def requirements_text(match: dict[str, Any]) -> str:
    """How a matched grant's requirements fared, as words (`; mfa held, ticket unmet
    (ticket_required)`), from its `Match.to_dict()` form; empty without requirements."""
    parts = [
        f"{r['requirement']} {'held' if r['held'] else 'unmet (' + r['reason'] + ')'}"
        for r in match.get("requirements", [])
    ]
    if not match.get("in_window", True):
        parts.insert(0, "outside its validity window")
    return ("; " + ", ".join(parts)) if parts else ""


def _requirements(
    compiled: CompiledPolicy,
    request: Request,
    when: Conditions | None,
    facts: Context,
    at: datetime,
) -> tuple[Requirement, ...]:
    if when is None:
        return ()
    failed = set(unmet(compiled, request, when, facts, at))
    keys = [k for k in UNMET if getattr(when, k) not in (False, None)]
    return tuple(Requirement(k, k not in failed) for k in keys)


def _match(
    compiled: CompiledPolicy, request: Request, index: int, facts: Context, at: datetime
) -> Match:
    policy = compiled.policy
    grant = compiled.grants[index]
    if request.subject_kind == "user":
        starts: tuple[str, ...] = policy.users[request.subject].roles_at(at)
        prefix: tuple[str, ...] = (request.subject,)
    else:
        starts, prefix = (request.subject,), ()
    roles = set(expand(grant, policy, "roles"))
    closure = compiled.closure_at(request.subject_kind, request.subject, at)
    classes = set(expand(grant, policy, "classes"))
    purposes = set(expand(grant, policy, "purposes"))
    return Match(
        grant.id,
        grant.effect,
        prefix + inheritance_path(policy.roles, starts, roles & closure),
        next(c for c in compiled.class_ancestors[request.info_class] if c in classes),
        next(p for p in compiled.purpose_ancestors[request.purpose] if p in purposes),
        grant.obligations,
        str(grant.location),
        in_window(grant, at),
        _requirements(compiled, request, grant.when, facts, at),
        grant.break_glass,
    )


def explain(compiled: CompiledPolicy, request: Request, at: datetime | None = None) -> Explanation:
    """Decide a request at `context.time` or `at` (or now) and say how it was decided.

    The matches are every grant the index reaches at that time, in or out of
    their windows; a malformed context or unknown ids match nothing.
    """
    facts = context_of(request.context)
    if facts is None:
        return Explanation(deny(compiled.version, INVALID_CONTEXT), request, (), (), (), (), False)
    moment = request_time(facts, at)
    decision = judge(compiled, request, facts, moment).decision
    known = request.info_class in compiled.class_ancestors and (
        request.purpose in compiled.purpose_ancestors
        and request.action in compiled.actions
        and compiled.closure_of(request.subject_kind, request.subject) is not None
    )
    if not known or decision.reasons == (INVALID_CONTEXT,):
        return Explanation(decision, request, (), (), (), (), False, moment)
    closure = compiled.closure_at(request.subject_kind, request.subject, moment)
    held: Held = compiled.held(closure, request.info_class, request.purpose, request.action)
    return Explanation(
        decision,
        request,
        tuple(_match(compiled, request, i, facts, moment) for i in held.allows),
        tuple(_match(compiled, request, i, facts, moment) for i in held.denies),
        compiled.class_ancestors[request.info_class],
        compiled.purpose_ancestors[request.purpose],
        request.purpose in compiled.consent_scope,
        moment,
        request.purpose in compiled.separate_consent or request.info_class in compiled.sensitive,
        consent_reason(compiled, request.info_class, request.purpose, facts.consent),
    )
