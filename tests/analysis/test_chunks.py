"""The JSON report's fast path: findings assembled from shared encoded fragments."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pdp.analysis.checks.separation import ToxicHit
from pdp.analysis.register import Acceptance
from pdp.analysis.report.chunks import SUBJECT, Chunks, Template, hole
from pdp.analysis.report.wire import encode, finding_document
from pdp.analysis.review import review
from tests.analysis.conftest import generated_policy


@given(st.text(), st.text(), st.integers() | st.none() | st.lists(st.text()))
def test_a_filled_template_is_the_encoded_document(subject: str, text: str, value: object) -> None:
    def document(ident: str, whole: object) -> dict[str, object]:
        return {"s": {"user": ident}, "m": f"{text} `{ident}` {text}", "v": whole, "t": text}

    template = Template(document(SUBJECT, hole("v")), ("v", "subject"))
    filled = template.fill((encode(value), encode(subject)[1:-1]))
    assert filled == encode(document(subject, value))


def test_a_template_needs_every_hole_it_is_given() -> None:
    with pytest.raises(ValueError, match="not all in the document"):
        Template({"a": hole("a")}, ("a", "b"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_toxic_findings_from_fragments_are_the_plain_encoding(seed: int, tmp_path: Path) -> None:
    found = review(generated_policy(seed, tmp_path))
    chunks = Chunks()
    toxic = [e for e in found.findings.entries if isinstance(e, ToxicHit)]
    assert {e.subject_kind for e in toxic} == {"role", "user"}
    # Role sets held by several users (their parts are shared) and by one user.
    sets = [e.assigned for e in toxic if e.subject_kind == "user"]
    assert len(set(sets)) < len(sets)
    for entry in found.findings.entries:  # twice: the second time from the caches
        for _ in range(2):
            assert chunks.encode(entry, None) == encode(finding_document(entry.build(), None))


def test_accepted_findings_are_encoded_with_their_acceptance(tmp_path: Path) -> None:
    found = review(generated_policy(1, tmp_path))
    hit = next(e for e in found.findings.entries if isinstance(e, ToxicHit))
    accepted = Acceptance(1, "known", "ops", "ciso", date(2030, 1, 1), fingerprint="f" * 32)
    encoded = Chunks().encode(hit, accepted)
    assert encoded == encode(finding_document(hit.build(), accepted))
    assert msgspec.json.decode(encoded)["accepted"]["entry"] == 1
