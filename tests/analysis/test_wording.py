"""Findings in plain words: messages without statistics, high exposure summarised."""

from __future__ import annotations

from pathlib import Path
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.analysis.finding import Finding, Permissions
from pdp.analysis.review import review
from pdp.analysis.space import PermissionSpace
from pdp.analysis.wording import Summariser, collapse, summarise
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy, load_policy_text
from pdp.core.queries import descendants

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    return list(review(compile_policy(load_policy(ROOT / "policies"))).findings)


def test_high_exposure_reads_as_a_person_would_say_it(findings: list[Finding]) -> None:
    found = next(
        f
        for f in findings
        if f.kind == "high_exposure" and f.subject_id == "authentication_service"
    )
    assert found.message == (
        "role `authentication_service` holds 82 C3 permissions; a typical role holds none"
    )
    assert found.statistics["count"] == 82 and found.statistics["score"] > 3.5
    assert found.details == (
        "account.credential and its 6 sub-classes for authentication and its 1 sub-purpose: "
        "collect, destroy, process, store, use",
        "sensitive.biometric and its 2 sub-classes for authentication.biometric: "
        "destroy, process, store, use",
    )
    assert len(found.permissions) == 82  # the JSON and CSV keep the full list


def test_no_message_carries_statistics(findings: list[Finding]) -> None:
    for f in findings:
        assert "z-score" not in f.message and " + " not in f.message, f.message
    toxic = next(f for f in findings if f.kind == "toxic_combination")
    assert toxic.statistics == {"matches_per_pattern": [1, 1]}
    assert toxic.message.endswith("a permission matching each of its 2 patterns")
    sod = next(f for f in findings if f.kind == "sod_violation")
    assert sod.statistics == {"held": 2, "max": 1}


def test_summarise_joins_classes_then_purposes() -> None:
    classes = ["a", "a.x", "a.y", "b"]
    purposes = ["p", "p.q", "r"]
    held = [(c, p, "use") for c in ("a", "a.x", "a.y") for p in ("p", "p.q")]
    held += [("b", "r", "use"), ("b", "r", "read")]
    assert summarise(held, classes, purposes) == [
        "a and its 2 sub-classes for p and its 1 sub-purpose: use",
        "b for r: read, use",
    ]
    assert collapse(["a", "a.x"], classes) == ["a and 1 of its 2 sub-classes"]


ACTIONS = ["archive", "collect", "destroy", "disclose", "process", "store", "transmit", "use", "x"]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from([1, 3, 8, 9]), st.randoms(use_true_random=False))
def test_summarise_reads_a_mask_as_its_permission_list(actions: int, rng: Random) -> None:
    """The cell-wise reading of a space's mask (a byte a cell with eight actions, bits
    otherwise) says what the permission list says."""
    policy = load_policy_text(
        f"version: 1\nactions: [{', '.join(ACTIONS[:actions])}]\n"
        "classes: {a: {level: C1}, a.x: {level: C1}, a.y: {level: C3}, b: {level: C2}}\n"
        "purposes: {p: {}, p.q: {}, r: {}, r.s: {}, r.t: {}, u: {}}\n"
        "roles: {}\ngrants: []\n"
    )
    space = PermissionSpace(policy)
    classes, purposes = list(policy.classes), list(policy.purposes)
    # One summariser for several masks, as the high-exposure check uses it: what it
    # remembers of one (names of class and purpose sets) must not change another's lines.
    shared = Summariser(descendants(classes), descendants(purposes))
    for _ in range(4):
        mask = rng.getrandbits(space.size) & rng.getrandbits(space.size)  # sparse and dense
        held = Permissions(space, mask)
        plain = summarise(list(held), classes, purposes)
        assert summarise(held, classes, purposes) == plain
        assert shared(held) == plain
