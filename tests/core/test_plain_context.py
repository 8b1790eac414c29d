"""The decision point's fast reader of plain contexts reads exactly as the validator does."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pdp.core.context import MAX_CONSENTS, MAX_ID_LENGTH, context_of, plain_context

TEXT = st.one_of(
    st.sampled_from(["", "a", "u1001", "x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1), "a\nb"]),
    st.text(max_size=4),
)
VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2**53 + 1),
    st.floats(allow_nan=False),
    TEXT,
    st.lists(TEXT, max_size=3),
    st.lists(st.integers(), max_size=2),
)
KEYS = st.sampled_from(
    ["consent", "mfa", "ticket", "approver", "relationship", "records", "time", "customer", "x"]
)


@settings(max_examples=3000, deadline=None)
@given(st.dictionaries(KEYS, VALUE, max_size=6))
@example({"consent": ["marketing"], "mfa": True, "records": 50})
@example({"consent": ["m"] * (MAX_CONSENTS + 1)})
@example({"records": True})
@example({"mfa": 1})
@example({"ticket": "T-1\u202e"})
def test_the_fast_reader_agrees_with_the_validator(context: dict[str, Any]) -> None:
    fast = plain_context(context)
    assert fast is None or fast == context_of(context), context


def test_the_usual_contexts_take_the_fast_reader() -> None:
    for context in (
        {"consent": ["marketing"], "mfa": True},
        {"mfa": True, "ticket": "CHG-1", "approver": "u1010", "relationship": "own_customer"},
        {"records": 50},
    ):
        assert plain_context(context) == context_of(context) is not None
