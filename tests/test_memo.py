"""The memo of decisions: each request decided once per policy, bounded, consent in the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pdp.core.compile import compile_policy
from pdp.core.load import load_policy
from pdp.memo import DecisionMemo

POLICY = Path(__file__).parent / "service" / "policy" / "policy.yaml"
MARKETING = ("role", "teller", "account.balance", "marketing", "use")


@pytest.fixture
def memo() -> DecisionMemo:
    return DecisionMemo(compile_policy(load_policy(POLICY)), limit=3)


def test_a_request_is_decided_once(memo: DecisionMemo, monkeypatch: pytest.MonkeyPatch) -> None:
    import pdp.memo

    calls: list[Any] = []
    real = pdp.memo.decide
    monkeypatch.setattr(pdp.memo, "decide", lambda *a: calls.append(a) or real(*a))
    first = memo.decide((*MARKETING, ("marketing",)))
    assert memo.decide((*MARKETING, ("marketing",))) is first and len(calls) == 1


def test_consent_is_part_of_the_key(memo: DecisionMemo) -> None:
    assert memo.decide((*MARKETING, ("marketing",))).allowed
    assert memo.decide((*MARKETING, ())).reasons == ("consent_required",)


def test_a_full_memo_starts_again(memo: DecisionMemo) -> None:
    for action in ("use", "read", "write", "export"):
        memo.decide(("role", "teller", "account.balance", "marketing", action, ()))
    assert len(memo) == 1
    memo.clear()
    assert len(memo) == 0
