"""Log records: the canonical encoding, the dict round trip, records of decisions."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.audit.record import (
    LogRecord,
    canonical_json,
    canonical_json_with_id,
    column_time,
    decision_record,
    event_record,
    parse_canonical,
    safe_canonical_json,
    utc_time,
)
from pdp.core.decision import Decision, Request
from pdp.errors import LogInputError, LogRecordError
from tests.audit.conftest import make_record

text = st.text(max_size=12)
records = st.builds(
    LogRecord,
    kind=st.sampled_from(["decision", "alert", "policy"]),
    decision_id=text,
    time=text,
    caller=text,
    subject_kind=st.sampled_from(["role", "user", ""]),
    subject=text,
    info_class=text,
    purpose=text,
    action=text,
    allowed=st.booleans(),
    reasons=st.lists(text, max_size=3).map(tuple),
    obligations=st.lists(text, max_size=3).map(tuple),
    policy_version=text,
    detail=st.dictionaries(text, st.integers() | text | st.booleans(), max_size=3),
)


def reference_json(record: LogRecord) -> str:
    return json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=300)
@given(records)
def test_canonical_json_is_sorted_compact_json_and_round_trips(record: LogRecord) -> None:
    body = canonical_json(record)
    assert body == reference_json(record)
    assert parse_canonical(body) == record
    assert canonical_json(parse_canonical(body)) == body  # stable through storage


def test_canonical_json_falls_back_for_unexpected_types() -> None:
    odd = make_record(1, reasons=["a", "b"], subject=None, allowed=1)
    assert canonical_json(odd) == reference_json(odd)


def test_from_dict_names_a_missing_field() -> None:
    data = make_record(1).to_dict()
    del data["caller"]
    with pytest.raises(LogRecordError, match="`caller`"):
        LogRecord.from_dict(data)


def test_decision_record_keeps_what_was_asked_and_answered_and_the_consent_claimed() -> None:
    request = Request("user", "u042", "identity.id_number", "kyc", "read", {"consent": ["kyc"]})
    decision = Decision(True, ("g1",), ("mask",), "v7")
    record = decision_record(request, decision, caller="crm", time="2026-01-01T00:00:00.000000Z")
    assert (record.subject_kind, record.subject, record.info_class) == (
        "user",
        "u042",
        "identity.id_number",
    )
    assert (record.allowed, record.reasons, record.obligations) == (True, ("g1",), ("mask",))
    assert record.policy_version == "v7" and record.caller == "crm"
    assert len(record.decision_id) == 32 and record.detail == {"consent": ["kyc"]}
    assert '"detail":{"consent":["kyc"]}' in canonical_json(record)


def test_decision_record_uses_the_decision_id_given() -> None:
    request = Request("role", "teller", "c", "p", "read")
    decision = Decision(False, ("default_deny",), (), "v1", decision_id="abc")
    assert decision_record(request, decision, "cli").decision_id == "abc"
    assert decision_record(request, decision, "cli", decision_id="xyz").decision_id == "xyz"


def test_event_record_carries_detail() -> None:
    record = event_record("policy", caller="admin", policy_version="v2", detail={"errors": 3})
    assert record.kind == "policy" and record.detail == {"errors": 3}
    assert record.time.endswith("Z")


@pytest.mark.parametrize(
    ("given_text", "wanted"),
    [
        ("2026-11-26", "2026-11-26T00:00:00.000000Z"),
        ("2026-11-26T19:33:28Z", "2026-11-26T19:33:28.000000Z"),
        ("2026-11-26T20:33:28.5+01:00", "2026-11-26T19:33:28.500000Z"),
    ],
)
def test_utc_time_normalises(given_text: str, wanted: str) -> None:
    assert utc_time(given_text) == wanted


def test_utc_time_rejects_other_text() -> None:
    with pytest.raises(LogInputError, match="`yesterday`"):
        utc_time("yesterday")


def test_column_time_is_the_log_time_of_the_body_or_none() -> None:
    assert column_time('{"kind":"decision"}') is None
    assert column_time(canonical_json(make_record(3))) == make_record(3).time
    assert column_time(canonical_json(make_record(3, time="yesterday"))) is None


# Lone surrogates cannot be encoded: the safe encoding replaces them.
texts = st.text(max_size=6) | st.sampled_from(["\ud800", "a\udfffb"])
details = st.dictionaries(
    texts, st.none() | st.booleans() | st.integers() | texts | st.lists(texts, max_size=2)
) | st.just({"when": Request("role", "r", "c", "p", "a")})  # not JSON: encoded as its str


@settings(max_examples=300, deadline=None)
@given(texts, texts, details, st.lists(texts, max_size=2).map(tuple), texts)
def test_canonical_json_with_id_equals_the_record_with_that_id(
    subject: str, caller: str, detail: dict[str, object], reasons: tuple[str, ...], new_id: str
) -> None:
    record = make_record(3, subject=subject, caller=caller, detail=detail, reasons=reasons)
    assert canonical_json_with_id(record.to_dict(), new_id) == safe_canonical_json(
        replace(record, decision_id=new_id)
    )
