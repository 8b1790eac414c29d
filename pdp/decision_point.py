"""The decision point: the public, in-process facade over a compiled policy.

    from pdp import DecisionPoint
    dp = DecisionPoint.from_path("policies/")
    d = dp.decide(role="teller", info_class="identity.id_number",
                  purpose="account_opening", action="use")

`decide` never raises: any problem with the request, and any internal error,
is a deny with a reason (fail closed). Decisions are memoised per policy
version; `swap` and `reload` replace the policy atomically, so each decision
is made wholly by one version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.decision import (
    CONSENT_REQUIRED,
    ERROR,
    Decision,
    Request,
    SubjectKind,
    consent_given,
    decide,
    deny,
    request_from,
)
from pdp.core.explain import Explanation, explain
from pdp.core.load import load_policy, load_policy_text
from pdp.core.model import Policy
from pdp.core.queries import HeldPermission, held_permissions, subjects_holding

log = logging.getLogger("pdp")

MEMO_LIMIT = 262_144
MemoKey = tuple[SubjectKind, str, str, str, str]


@dataclass(slots=True)
class _State:
    """One policy version and the memo of decisions made by it; replaced whole on swap."""

    compiled: CompiledPolicy
    memo: dict[MemoKey, Decision] = field(default_factory=dict)


def _plain_context(context: Any) -> bool:
    """True for a dict whose `consent`, if any, is a list of strings (the common, valid case)."""
    if type(context) is not dict:
        return False
    consent = context.get("consent")
    return consent is None or (type(consent) is list and all(type(c) is str for c in consent))


class DecisionPoint:
    """Answers access decisions for one policy, swapped atomically on reload."""

    def __init__(self, compiled: CompiledPolicy, source: str | Path | None = None) -> None:
        self._state = _State(compiled)
        self.source = Path(source) if source is not None else None

    @classmethod
    def from_path(cls, path: str | Path) -> DecisionPoint:
        """Load, validate and compile a policy file or directory (raises `PolicyError`)."""
        return cls(compile_policy(load_policy(path)), path)

    @classmethod
    def from_text(cls, text: str, name: str = "<policy>") -> DecisionPoint:
        """Load a policy from YAML text (raises `PolicyError`)."""
        return cls(compile_policy(load_policy_text(text, name)))

    @classmethod
    def from_policy(cls, policy: Policy) -> DecisionPoint:
        """Compile an already loaded policy."""
        return cls(compile_policy(policy))

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
        self._state = _State(compiled)

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
        state = self._state
        try:
            if (
                (role is None) != (user is None)
                and type(role if user is None else user) is str
                and type(info_class) is str
                and type(purpose) is str
                and type(action) is str
                and (context is None or _plain_context(context))
            ):
                # Fast path: plain strings and a plain context, the memo keyed on the request.
                kind: SubjectKind = "role" if user is None else "user"
                key: MemoKey = (kind, role if user is None else user, info_class, purpose, action)
                return self._decide_key(state, key, context)
            request = request_from(role, user, info_class, purpose, action, context)
            if isinstance(request, str):
                return deny(state.compiled.version, request)
            return self._decide(state, request)
        except Exception:  # fail closed: an internal error is a deny, never an allow
            log.exception("internal error while deciding; denied")
            return deny(state.compiled.version, ERROR)

    def decide_request(self, request: Request) -> Decision:
        """Decide a `Request` value. Never raises."""
        state = self._state
        try:
            return self._decide(state, request)
        except Exception:
            log.exception("internal error while deciding; denied")
            return deny(state.compiled.version, ERROR)

    def _decide(self, state: _State, request: Request) -> Decision:
        key: MemoKey = (
            request.subject_kind,
            request.subject,
            request.info_class,
            request.purpose,
            request.action,
        )
        return self._decide_key(state, key, request.context)

    @staticmethod
    def _decide_key(state: _State, key: MemoKey, context: Mapping[str, Any] | None) -> Decision:
        memo = state.memo
        decision = memo.get(key)
        if decision is None:
            # The memo holds the answer of rules 1-4 and 7 with consent aside (as if the
            # customer consented to the purpose itself); consent is checked per request below.
            decision = decide(state.compiled, Request(*key, {"consent": [key[3]]}))
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[key] = decision
        compiled = state.compiled
        if (
            decision.allowed
            and key[3] in compiled.consent_scope
            and not consent_given(compiled, key[3], context or {})
        ):
            return deny(decision.policy_version, CONSENT_REQUIRED)
        return decision

    def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Decide several requests given as mappings of `decide`'s arguments, in order."""
        results = []
        for item in requests:
            if not isinstance(item, Mapping):
                results.append(deny(self.version, "invalid_request"))
                continue
            results.append(
                self.decide(
                    role=item.get("role"),
                    user=item.get("user"),
                    info_class=item.get("info_class"),
                    purpose=item.get("purpose"),
                    action=item.get("action"),
                    context=item.get("context"),
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
        state = self._state
        request = request_from(role, user, info_class, purpose, action, context)
        if isinstance(request, str):
            return deny(state.compiled.version, request)
        return explain(state.compiled, request)

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
