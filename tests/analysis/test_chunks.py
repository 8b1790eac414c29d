"""The JSON report's fast path: findings assembled from shared encoded fragments."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.analysis.checks.separation import ToxicHit
from pdp.analysis.register import Acceptance
from pdp.analysis.report.chunks import SUBJECT, Chunks, Template, hole
from pdp.analysis.report.wire import encode, finding_document
from pdp.analysis.review import review
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy_text
from tests.analysis.conftest import generated_policy
from tests.policyci.policies import compiled, policies


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


@pytest.mark.parametrize(("seed", "prepared"), [(1, False), (2, True), (3, True)])
def test_toxic_findings_from_fragments_are_the_plain_encoding(
    seed: int, prepared: bool, tmp_path: Path
) -> None:
    found = review(generated_policy(seed, tmp_path))
    chunks = Chunks()
    if prepared:  # some findings' shared fragments assembled ahead, a rule at a time
        chunks.prepare(found.findings.entries[::2])
    toxic = [e for e in found.findings.entries if isinstance(e, ToxicHit)]
    assert {e.subject_kind for e in toxic} == {"role", "user"}
    # Role sets held by several users (their parts are shared) and by one user.
    sets = [e.assigned for e in toxic if e.subject_kind == "user"]
    assert len(set(sets)) < len(sets)
    for entry in found.findings.entries:  # twice: the second time from the caches
        for _ in range(2):
            assert chunks.encode(entry, None) == encode(finding_document(entry.build(), None))


WITNESSES = {
    "version": 1,
    "actions": ["disclose", "use"],
    "classes": {"a": {"level": "C2"}, "b": {"level": "C3"}},
    "purposes": {"p": {}},
    "roles": {"r1": {}, "r2": {}, "r3": {"inherits": ["r1"]}},
    "users": {"u1": {"roles": ["r1", "r2"]}, "u2": {"roles": ["r1"]}, "u3": {"roles": ["r3"]}},
    "grants": [
        {"id": "G1", "roles": ["r1"], "classes": ["a"], "purposes": ["p"], "actions": ["*"]},
        {"id": "G2", "roles": ["r2"], "classes": ["b"], "purposes": ["p"], "actions": ["*"]},
        {
            "id": "D1",
            "effect": "deny",
            "roles": ["r3"],
            "classes": ["a"],
            "purposes": ["p"],
            "actions": ["disclose"],
        },
    ],
    "separation_of_duties": [
        {  # two patterns with the same first match: one witness
            "id": "T-SAME",
            "permissions": [{"classes": ["a"], "actions": ["*"]}] * 2,
        },
        {  # three patterns, two witnesses shared
            "id": "T-THREE",
            "permissions": [
                {"classes": ["a"], "actions": ["use"]},
                {"classes": ["b"], "actions": ["disclose"]},
                {"classes": ["a", "b"], "actions": ["use"]},
            ],
        },
    ],
}


def test_toxic_findings_with_one_to_three_witnesses_are_the_plain_encoding() -> None:
    """Frames per number of witnesses, pieces shared across subjects, and a deny in reach."""
    found = review(compile_policy(load_policy_text(yaml.safe_dump(WITNESSES), "w.yaml")))
    toxic = [e for e in found.findings.entries if isinstance(e, ToxicHit)]
    built = [e.build() for e in toxic]
    assert {len(f.permissions) for f in built} == {1, 2}
    assert {f.rule_id for f in built if f.subject_id == "u3"} == {"T-SAME"}  # D1 ends T-THREE
    chunks = Chunks()
    for entry in toxic * 2:
        assert chunks.encode(entry, None) == encode(finding_document(entry.build(), None))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_toxic_findings_of_any_policy_are_the_plain_encoding(data: dict[str, Any]) -> None:
    chunks = Chunks()
    entries = review(compiled(data)).findings.entries
    chunks.prepare(entries[1::2])
    for entry in entries:
        if isinstance(entry, ToxicHit):
            assert chunks.encode(entry, None) == encode(finding_document(entry.build(), None))


def test_accepted_findings_are_encoded_with_their_acceptance(tmp_path: Path) -> None:
    found = review(generated_policy(1, tmp_path))
    hit = next(e for e in found.findings.entries if isinstance(e, ToxicHit))
    accepted = Acceptance(1, "known", "ops", "ciso", date(2030, 1, 1), fingerprint="f" * 32)
    encoded = Chunks().encode(hit, accepted)
    assert encoded == encode(finding_document(hit.build(), accepted))
    assert msgspec.json.decode(encoded)["accepted"]["entry"] == 1
