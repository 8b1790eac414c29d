"""The service answers exactly what the wire validator accepts, as the decision point decides.

A differential property: random batches (valid items, valid items with one
field changed, added or removed — after their valid twin, so the memo is hit —
and junk) go to the service. Each request is answered (200) exactly when
`pdp.wire` accepts its body — never a 5xx — and each answer is the in-process
`DecisionPoint`'s decision of the same request. A batch's records and
monitor observations equal those made one decision at a time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.audit.record import LogRecord, decision_record, parse_canonical, safe_canonical_json
from pdp.decision_point import DecisionPoint
from pdp.monitor import Alert, Monitor, Observation
from pdp.monitor.rules import Counted
from pdp.service.deciding import DecisionService
from pdp.service.metrics import Metrics
from pdp.wire import ContextV1, DecisionRequestV1, decode_batch, decode_request, request_of
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


class Captured:
    """A decision log that keeps what is appended (and is always accepting)."""

    accepting = True

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.events: list[LogRecord] = []

    def append_bodies(self, bodies: Sequence[str]) -> None:
        self.bodies += bodies

    def append(self, record: LogRecord) -> None:
        self.events.append(record)  # alerts


class Watching(Monitor):
    """A monitor that keeps every observation it is fed, with its count."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[Observation] = Counter()

    def observe_counted(self, batch: Counted, now: float | None = None) -> list[Alert]:
        for observation, times in batch:
            self.seen[observation] += times
        return super().observe_counted(batch, now)


asked = st.fixed_dictionaries(
    {
        "subject": st.sampled_from([{"role": "teller"}, {"role": "clerk"}, {"user": "u1"}]),
        "info_class": st.sampled_from(["identity.id_number", "identity.name"]),
        "context": st.sampled_from(
            [
                None,
                {},
                {"consent": ["marketing"]},
                {"consent": ["a", "b"], "records": 5, "ticket": "CHG-1"},
                {"mfa": True, "customer": "c-1"},
            ]
        ),
    }
).map(
    lambda a: DecisionRequestV1(
        a["info_class"],
        "account_opening",
        "use",
        **a["subject"],
        context=None if a["context"] is None else ContextV1(**a["context"]),
    )
)


@settings(max_examples=100, deadline=None)
@given(st.lists(asked, min_size=1, max_size=30))
def test_a_batch_logs_and_watches_each_decision_as_one_by_one(
    requests: list[DecisionRequestV1],
) -> None:
    """Equal requests of a batch share their record's making: the records are still per decision."""
    log, monitor = Captured(), Watching()
    service = DecisionService(DP, log, Metrics(), monitor)  # type: ignore[arg-type]
    made = service.decide(requests, "crm")
    assert len({d.decision_id for d in made}) == len(requests)
    assert len(log.bodies) == len(requests)
    naive: Counter[Observation] = Counter()
    for request, decision, body in zip(requests, made, log.bodies, strict=True):
        assert decision == replace(
            DP.decide(**request.decide_args()), decision_id=decision.decision_id
        )
        core = request_of(request)
        stamp = parse_canonical(body).time
        assert body == safe_canonical_json(
            decision_record(core, decision, "crm", decision.decision_id, stamp)
        )
        naive[
            Observation(
                "crm",
                core.subject_kind,
                core.subject,
                core.info_class,
                core.purpose,
                core.action,
                decision.allowed,
                decision.obligations,
                core.context.get("records", 1),
                core.context.get("ticket", ""),
            )
        ] += 1
    assert monitor.seen == naive
