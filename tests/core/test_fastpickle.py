"""The policy model pickles as its fields and comes back equal, locations included."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from pdp.core.compile import compile_policy
from pdp.core.fastpickle import by_fields
from pdp.core.load import load_policy

POLICIES = Path(__file__).parents[2] / "policies"


def every_field(item: Any) -> tuple[Any, ...]:
    """All the fields of a dataclass, the ones equality ignores (locations) included."""
    return tuple(getattr(item, f.name) for f in fields(item))


def test_a_compiled_policy_round_trips_with_every_location() -> None:
    compiled = compile_policy(load_policy(POLICIES))
    back = pickle.loads(pickle.dumps(compiled, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == compiled
    policy, copy = compiled.policy, back.policy
    for name in ("classes", "purposes", "roles", "users"):
        table: dict[str, Any] = getattr(policy, name)
        copied: dict[str, Any] = getattr(copy, name)
        assert [every_field(e) for e in copied.values()] == [every_field(e) for e in table.values()]
    assert [every_field(g) for g in back.policy.grants] == [every_field(g) for g in policy.grants]
    assert all(type(g).__reduce__ is not object.__reduce__ for g in policy.grants)


def test_only_plain_dataclasses_take_it() -> None:
    @dataclass(frozen=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    with pytest.raises(TypeError):
        by_fields(Derived)

    @dataclass(frozen=True)
    class One:
        a: int

    with pytest.raises(TypeError):
        by_fields(One)
