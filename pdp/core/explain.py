"""Explanations: which grants matched a request, through which roles, classes and purposes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pdp.core.compile import CompiledPolicy, Held, expand
from pdp.core.decision import Decision, Request, decide_held, held_for
from pdp.core.hierarchy import inheritance_path


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

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain data (`ExplanationV1`)."""
        return {
            **self.decision.to_dict(),
            "request": self.request.to_dict(),
            "matched": [m.to_dict() for m in self.allows],
            "overridden_by": [m.to_dict() for m in self.denies],
            "class_ancestors": list(self.class_ancestors),
            "purpose_ancestors": list(self.purpose_ancestors),
            "consent_needed": self.consent_needed,
        }


def _match(compiled: CompiledPolicy, request: Request, index: int) -> Match:
    policy = compiled.policy
    grant = compiled.grants[index]
    if request.subject_kind == "user":
        starts: tuple[str, ...] = policy.users[request.subject].roles
        prefix: tuple[str, ...] = (request.subject,)
    else:
        starts, prefix = (request.subject,), ()
    roles = set(expand(grant, policy, "roles"))
    closure = compiled.closure_of(request.subject_kind, request.subject) or frozenset()
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
    )


def explain(compiled: CompiledPolicy, request: Request) -> Explanation:
    """Decide a request and say which grants matched it, and through what."""
    held = held_for(compiled, request)
    if isinstance(held, tuple):
        decision = Decision(False, held, (), compiled.version)
        held = Held((), ())
        class_chain: tuple[str, ...] = ()
        purpose_chain: tuple[str, ...] = ()
    else:
        decision = decide_held(compiled, request, held)
        class_chain = compiled.class_ancestors[request.info_class]
        purpose_chain = compiled.purpose_ancestors[request.purpose]
    return Explanation(
        decision,
        request,
        tuple(_match(compiled, request, i) for i in held.allows),
        tuple(_match(compiled, request, i) for i in held.denies),
        class_chain,
        purpose_chain,
        request.purpose in compiled.consent_scope,
    )
