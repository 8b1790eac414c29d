"""The memo of decisions: each distinct request decided once per policy version.

`DecisionPoint` keeps one `DecisionMemo` per compiled policy and drops it with
the policy on a swap, so a remembered decision is always the deciding
version's. The memo only remembers: the rules live in `pdp.core.decision`.

The key holds everything a decision can depend on but the time: the ids, the
consent, and the context facts the requirements read (`facts_key`). A
decision that another time could change (a window, `hours`, a windowed role
assignment among what it read: `Outcome.timed`) is never remembered, so the
memo never serves an answer that the request's time would change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pdp.core.compile import CompiledPolicy
from pdp.core.context import Context, consent_context
from pdp.core.decision import INVALID_CONTEXT, Decision, Request, SubjectKind, deny, judge

__all__ = ["MEMO_LIMIT", "DecisionMemo", "MemoKey", "facts_key"]

MEMO_LIMIT = 262_144
MemoKey = tuple[SubjectKind, str, str, str, str, tuple[str, ...], tuple[Any, ...]]
"""(subject kind, subject, info_class, purpose, action, consent, `facts_key`)."""
Clock = Callable[[], datetime]
_DEFAULTS = (False, False, False, None, 1)


def facts_key(kind: SubjectKind, subject: str, facts: Context) -> tuple[Any, ...]:
    """What the requirements read of a context but consent: () when it says nothing.

    (mfa, ticket given, approved by another person, relationship, records):
    the ticket's and the approver's text do not change a decision, only
    whether they are given (and the approver is not the requester).
    """
    key = (
        facts.mfa,
        facts.ticket is not None,
        facts.approved_for(kind, subject),
        facts.relationship,
        facts.records,
    )
    return () if key == _DEFAULTS else key


class DecisionMemo:
    """Decisions of one compiled policy keyed by the request; cleared whole when full."""

    __slots__ = ("_decisions", "compiled", "limit")

    def __init__(self, compiled: CompiledPolicy, limit: int = MEMO_LIMIT) -> None:
        self.compiled = compiled
        self.limit = limit
        self._decisions: dict[MemoKey, Decision] = {}

    def decide(
        self, key: MemoKey, facts: Context | None = None, clock: Clock | None = None
    ) -> Decision:
        """The decision of the request `key` describes, decided at most once while remembered.

        `facts` is the request's context (its consent must be `key`'s; none:
        consent only, validated here), `clock` gives the time when the context
        gives none.
        """
        decision = self._decisions.get(key)
        if decision is None:
            kind, subject, info_class, purpose, action, consent, _ = key
            if facts is None:
                facts = consent_context(consent)
            if facts is None:  # a consent list no context may hold: never an allow
                decision = deny(self.compiled.version, INVALID_CONTEXT)
            else:
                request = Request(kind, subject, info_class, purpose, action)
                outcome = judge(self.compiled, request, facts, clock=clock)
                decision = outcome.decision
                if outcome.timed:
                    return decision
            if len(self._decisions) >= self.limit:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def clear(self) -> None:
        """Forget every decision."""
        self._decisions.clear()

    def __len__(self) -> int:
        return len(self._decisions)
