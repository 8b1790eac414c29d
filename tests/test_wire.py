"""The wire types: one validator of decision requests, one serializer of decisions."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.core.decision import Decision
from pdp.wire import (
    DecisionRequestV1,
    decode_batch,
    decode_decisions,
    decode_request,
    encode,
    error_path,
    request_body,
    response_of,
)

OPENING = {"role": "teller", "info_class": "id", "purpose": "opening", "action": "use"}


def test_a_request_round_trips_through_its_body() -> None:
    request = decode_request(json.dumps({**OPENING, "context": {"consent": ["m"]}}))
    assert request.decide_args() == {**OPENING, "user": None, "context": {"consent": ["m"]}}
    assert decode_request(encode(request)) == request


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**OPENING, "role": "a\u0007"}, "role"),
        ({**OPENING, "role": "a\u009b2J"}, "role"),
        ({**OPENING, "info_class": "x\u2028y"}, "info_class"),
        ({**OPENING, "user": "u"}, "body"),
        ({k: v for k, v in OPENING.items() if k != "action"}, "action"),
        ({**OPENING, "context": {"consent": [""]}}, "context.consent[0]"),
        ({**OPENING, "context": {"other": 1}}, "context.other"),
    ],
)
def test_invalid_requests_name_the_field(body: object, field: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode_request(json.dumps(body))
    assert error_path(caught.value)[0] == field


def test_batch_errors_name_the_item() -> None:
    body = {"requests": [OPENING, {**OPENING, "action": 1}]}
    with pytest.raises(msgspec.ValidationError) as caught:
        decode_batch(json.dumps(body))
    assert error_path(caught.value)[0] == "requests[1].action"


@settings(max_examples=50)
@given(
    st.booleans(),
    st.lists(st.text(max_size=8), max_size=3),
    st.lists(st.text(max_size=8), max_size=3),
    st.text(max_size=12),
)
def test_a_decision_round_trips_through_its_json(
    allowed: bool, reasons: list[str], obligations: list[str], version: str
) -> None:
    decision = Decision(allowed, tuple(reasons), tuple(obligations), version, "d" * 32)
    body = encode(response_of(decision))
    assert json.loads(body) == {
        "allowed": allowed,
        "reasons": reasons,
        "obligations": obligations,
        "policy_version": version,
        "decision_id": "d" * 32,
    }
    assert decode_decisions(body, many=False) == [decision]


def test_empty_values_mean_none_in_a_request_body() -> None:
    body = request_body(
        role="",
        user="u1",
        info_class="c",
        purpose="p",
        action="a",
        context={"consent": ["", "m", ""]},
    )
    assert body == {
        "user": "u1",
        "info_class": "c",
        "purpose": "p",
        "action": "a",
        "context": {"consent": ["m"]},
    }
    assert "context" not in request_body(
        user="u", info_class="c", purpose="p", action="a", context={"consent": [""]}
    )
    assert isinstance(decode_request(encode(body)), DecisionRequestV1)
