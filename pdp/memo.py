"""The memo of decisions: each distinct request decided once per policy version.

`DecisionPoint` keeps one `DecisionMemo` per compiled policy and drops it with
the policy on a swap, so a remembered decision is always the deciding
version's. The memo only remembers: the rules live in `pdp.core.decision`.
"""

from __future__ import annotations

from pdp.core.compile import CompiledPolicy
from pdp.core.decision import Decision, Request, SubjectKind, decide

__all__ = ["MEMO_LIMIT", "DecisionMemo", "MemoKey"]

MEMO_LIMIT = 262_144
MemoKey = tuple[SubjectKind, str, str, str, str, tuple[str, ...]]
"""(subject kind, subject, info_class, purpose, action, consent)."""


class DecisionMemo:
    """Decisions of one compiled policy keyed by the request; cleared whole when full."""

    __slots__ = ("_decisions", "compiled", "limit")

    def __init__(self, compiled: CompiledPolicy, limit: int = MEMO_LIMIT) -> None:
        self.compiled = compiled
        self.limit = limit
        self._decisions: dict[MemoKey, Decision] = {}

    def decide(self, key: MemoKey) -> Decision:
        """The decision of the request `key` describes, decided at most once while remembered."""
        decision = self._decisions.get(key)
        if decision is None:
            kind, subject, info_class, purpose, action, consent = key
            request = Request(kind, subject, info_class, purpose, action, {"consent": consent})
            decision = decide(self.compiled, request)
            if len(self._decisions) >= self.limit:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def clear(self) -> None:
        """Forget every decision."""
        self._decisions.clear()

    def __len__(self) -> int:
        return len(self._decisions)
