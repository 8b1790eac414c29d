"""The service answers exactly what the wire validator accepts, as the decision point decides.

A differential property: random batches (valid items, valid items with one
field changed, added or removed — after their valid twin, so the memo is hit —
and junk) go to the service. Each request is answered (200) exactly when
`pdp.wire` accepts its body — never a 5xx — and each answer is the in-process
`DecisionPoint`'s decision of the same request.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.decision_point import DecisionPoint
from pdp.wire import DecisionRequestV1, decode_batch, decode_request
from tests.service.conftest import POLICY, TELLER_OPENING, TestClient, build_app

TMP = Path(tempfile.mkdtemp(prefix="pdp-deciding-"))
(TMP / "policy").mkdir()
shutil.copy(POLICY, TMP / "policy" / "policy.yaml")
APP = build_app(TMP / "policy", f"sqlite:///{TMP / 'decisions.db'}")
CLIENT = TestClient(APP)


def teardown_module() -> None:
    APP.state.service.log.close()
    shutil.rmtree(TMP, ignore_errors=True)


ids = st.sampled_from(["teller", "u1", "identity.id_number", "account_opening", "use", ""])
scalar = st.none() | st.booleans() | st.integers() | ids | st.just("x" * 257) | st.text(max_size=4)
value = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["consent", "x"]), inner, max_size=2)
    ),
    max_leaves=4,
)
consent = st.lists(st.sampled_from(["marketing", "a", ""]), max_size=3) | value
good = st.fixed_dictionaries(
    {k: st.just(v) for k, v in TELLER_OPENING.items()},
    optional={"context": st.none() | st.fixed_dictionaries({}, optional={"consent": consent})},
)
fields = st.sampled_from(["role", "user", "info_class", "purpose", "action", "context", "extra"])
changed = st.tuples(good, fields, value).map(lambda t: {**t[0], t[1]: t[2]})
dropped = st.tuples(good, fields).map(lambda t: {k: v for k, v in t[0].items() if k != t[1]})
item = good | changed | dropped | st.dictionaries(fields, value, max_size=6) | value


DP = DecisionPoint.from_path(TMP / "policy")


def accepted(decode: Any, body: str) -> Any:
    try:
        return decode(body.encode())
    except msgspec.MsgspecError:
        return None


def post(path: str, body: str) -> Any:
    response = CLIENT.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    return response.json() if response.status_code == 200 else None


def same(answer: dict[str, Any], request: DecisionRequestV1) -> bool:
    decision = DP.decide(**request.decide_args())
    return (answer["allowed"], answer["reasons"], answer["obligations"]) == (
        decision.allowed,
        list(decision.reasons),
        list(decision.obligations),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(item, min_size=1, max_size=4))
def test_answered_exactly_when_the_wire_accepts(items: list[Any]) -> None:
    batch = json.dumps({"requests": items})
    answer, valid = post("/v1/decisions/batch", batch), accepted(decode_batch, batch)
    assert (answer is None) == (valid is None)
    if answer is not None:
        assert all(same(a, r) for a, r in zip(answer["results"], valid.requests, strict=True))
    single = json.dumps(items[0])
    answer, valid = post("/v1/decisions", single), accepted(decode_request, single)
    assert (answer is None) == (valid is None)
    if answer is not None:
        assert same(answer, valid)
