"""The decision point: the public, in-process facade over a compiled policy.

    from pdp import DecisionPoint
    dp = DecisionPoint.from_path("policies/")
    d = dp.decide(role="teller", info_class="identity.id_number",
                  purpose="account_opening", action="use")

`decide` never raises: any problem with the request, and any internal error,
is a deny with a reason (fail closed). Decisions are memoised per policy
version (`pdp.memo`); `swap` and `reload` replace the policy atomically, so
each decision — and each `decide_many` batch — is made wholly by one version.
A request is judged at its `context.time`, else at the decision point's
`clock` (UTC now; tests give their own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.context import Context, plain_context
from pdp.core.decision import (
    ERROR,
    INVALID_REQUEST,
    Decision,
    SubjectKind,
    deny,
    parse_request,
    request_from,
)
from pdp.core.explain import Explanation, explain
from pdp.core.load import load_policy, load_policy_text
from pdp.core.model import Policy
from pdp.core.queries import HeldPermission, held_permissions, subjects_holding
from pdp.memo import DecisionMemo, MemoKey, facts_key

log = logging.getLogger("pdp")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, in UTC: the default clock of a decision point."""
    return datetime.now(UTC)


def _plain_consent(context: Any) -> tuple[str, ...] | None:
    """The consent of a plain context (None, `{}`, or a dict of a `consent` list of strings).

    None when the context is anything else: `request_from` then judges it.
    """
    if context is None:
        return ()
    if type(context) is not dict or (context and (len(context) != 1 or "consent" not in context)):
        return None
    if not context:
        return ()
    consent = context["consent"]  # null is no list: `request_from` refuses it
    if type(consent) is list and all(type(c) is str for c in consent):
        return tuple(consent)
    return None


class DecisionPoint:
    """Answers access decisions for one policy, swapped atomically on reload.

    It is a `pdp.decider.Decider`, as the service's clients are.
    """

    def __init__(
        self,
        compiled: CompiledPolicy,
        source: str | Path | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._state = DecisionMemo(compiled)
        self.source = Path(source) if source is not None else None
        self.clock = clock

    @classmethod
    def from_path(cls, path: str | Path, *, clock: Clock = utc_now) -> DecisionPoint:
        """Load, validate and compile a policy file or directory (raises `PolicyError`)."""
        return cls(compile_policy(load_policy(path)), path, clock=clock)

    @classmethod
    def from_text(
        cls, text: str, name: str = "<policy>", *, clock: Clock = utc_now
    ) -> DecisionPoint:
        """Load a policy from YAML text (raises `PolicyError`)."""
        return cls(compile_policy(load_policy_text(text, name)), clock=clock)

    @classmethod
    def from_policy(cls, policy: Policy, *, clock: Clock = utc_now) -> DecisionPoint:
        """Compile an already loaded policy."""
        return cls(compile_policy(policy), clock=clock)

    @property
    def compiled(self) -> CompiledPolicy:
        """The compiled policy deciding now."""
        return self._state.compiled

    @property
    def policy(self) -> Policy:
        """The policy document deciding now."""
        return self._state.compiled.policy

    @property
    def version(self) -> str:
        """The content-hash version of the policy deciding now."""
        return self._state.compiled.version

    def swap(self, compiled: CompiledPolicy) -> None:
        """Make `compiled` the deciding policy, in one step, with a fresh memo."""
        self._state = DecisionMemo(compiled)

    def reload(self, path: str | Path | None = None) -> str:
        """Reload from `path` (or the original source); on `PolicyError` the old policy stays."""
        target = Path(path) if path is not None else self.source
        if target is None:
            raise ValueError("this decision point was not loaded from a path")
        self.swap(compile_policy(load_policy(target)))
        self.source = target
        return self.version

    def decide(
        self,
        role: Any = None,
        user: Any = None,
        info_class: Any = None,
        purpose: Any = None,
        action: Any = None,
        context: Any = None,
    ) -> Decision:
        """Decide one request. Never raises: bad input and internal errors deny with a reason."""
        return _decide(self._state, self.clock, role, user, info_class, purpose, action, context)

    def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Decide requests given as mappings of `decide`'s arguments, in order, by one version."""
        memo = self._state
        results = []
        for item in requests:
            if not isinstance(item, Mapping):
                results.append(deny(memo.compiled.version, INVALID_REQUEST))
                continue
            results.append(
                _decide(
                    memo,
                    self.clock,
                    item.get("role"),
                    item.get("user"),
                    item.get("info_class"),
                    item.get("purpose"),
                    item.get("action"),
                    item.get("context"),
                )
            )
        return results

    def explain(
        self,
        role: Any = None,
        user: Any = None,
        info_class: Any = None,
        purpose: Any = None,
        action: Any = None,
        context: Any = None,
    ) -> Explanation | Decision:
        """Explain a request: matched grants, inheritance paths, ancestors, overriding denies.

        Returns the plain deny `Decision` when the request itself is malformed.
        """
        compiled = self._state.compiled
        request = request_from(role, user, info_class, purpose, action, context)
        if isinstance(request, str):
            return deny(compiled.version, request)
        return explain(compiled, request, self.clock())

    def permissions_of(
        self, kind: Literal["role", "user"], subject: str
    ) -> list[HeldPermission] | None:
        """Every permission a role or user holds, or None when it is not declared."""
        compiled = self._state.compiled
        closure = compiled.closure_of(kind, subject)
        return None if closure is None else held_permissions(compiled, closure)

    def who_can(
        self, info_class: str, purpose: str, action: str
    ) -> tuple[list[str], list[str]] | None:
        """The roles and users holding a permission, or None when an id is not declared."""
        compiled = self._state.compiled
        if (
            info_class not in compiled.class_ancestors
            or purpose not in compiled.purpose_ancestors
            or action not in compiled.actions
        ):
            return None
        return subjects_holding(compiled, info_class, purpose, action)


def _key(
    kind: SubjectKind, subject: str, info_class: str, purpose: str, action: str, facts: Context
) -> MemoKey:
    """The memo key of a request and its validated context."""
    consent = tuple(facts.consent)
    return (kind, subject, info_class, purpose, action, consent, facts_key(kind, subject, facts))


def _decide(
    memo: DecisionMemo,
    clock: Clock,
    role: Any,
    user: Any,
    info_class: Any,
    purpose: Any,
    action: Any,
    context: Any,
) -> Decision:
    """Decide one request by the policy of `memo` (never raises)."""
    try:
        if (
            (role is None) != (user is None)
            and type(role if user is None else user) is str
            and type(info_class) is str
            and type(purpose) is str
            and type(action) is str
        ):
            # The common cases, plain strings: the memo is keyed on the request as given.
            kind: SubjectKind = "role" if user is None else "user"
            subject = role if user is None else user
            consent = _plain_consent(context)
            if consent is not None:
                key = (kind, subject, info_class, purpose, action, consent, ())
                return memo.decide(key, None, clock)
            # A `Context` already read (the service's), or a plain version-2 dict read here.
            facts = context if type(context) is Context else plain_context(context)
            if facts is not None:
                key = _key(kind, subject, info_class, purpose, action, facts)
                return memo.decide(key, facts, clock)
        parsed = parse_request(role, user, info_class, purpose, action, context)
        if isinstance(parsed, str):
            return deny(memo.compiled.version, parsed)
        request, known = parsed
        key = _key(
            request.subject_kind,
            request.subject,
            request.info_class,
            request.purpose,
            request.action,
            known,
        )
        return memo.decide(key, known, clock)
    except Exception:  # fail closed: an internal error is a deny, never an allow
        log.exception("internal error while deciding; denied")
        return deny(memo.compiled.version, ERROR)
