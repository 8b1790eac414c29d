"""The service's cache of encoded decision parts equals the one canonical encoder."""

from __future__ import annotations

from json.encoder import encode_basestring

from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.audit.bodies import decision_parts
from pdp.audit.record import canonical_json, decision_record
from pdp.core.decision import Decision, Request
from tests.audit.test_record import reference_json

text_no_surrogates = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200)
@given(
    caller=text_no_surrogates,
    subject=text_no_surrogates,
    info_class=text_no_surrogates,
    allowed=st.booleans(),
    reasons=st.lists(text_no_surrogates, max_size=3).map(tuple),
    decision_id=st.text("0123456789abcdef", min_size=32, max_size=32),
    time=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
)
def test_decision_parts_frame_the_canonical_json(
    caller: str,
    subject: str,
    info_class: str,
    allowed: bool,
    reasons: tuple[str, ...],
    decision_id: str,
    time: str,
) -> None:
    request = Request("user", subject, info_class, "purpose", "use")
    decision = Decision(allowed, reasons, ("mask",) if allowed else (), "v1")
    before, after = decision_parts(caller, request, decision)
    body = f"{before}{encode_basestring(decision_id)}{after}{encode_basestring(time)}}}"
    record = decision_record(request, decision, caller, decision_id, time)
    assert body == canonical_json(record) == reference_json(record)
