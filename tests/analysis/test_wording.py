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
from pdp.analysis.wording import LINES, Summariser, collapse, summarise
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


def _brute_lines(held: list[tuple[str, str, str]]) -> list[int]:
    """The permissions of each line of a summary, read straight from the definition: per
    purpose and action set the classes holding exactly those actions there; the purposes
    with the same classes and actions on one line."""
    actions: dict[tuple[str, str], set[str]] = {}
    for c, p, a in held:
        actions.setdefault((c, p), set()).add(a)
    classes: dict[tuple[str, frozenset[str]], set[str]] = {}
    for (c, p), acts in actions.items():
        classes.setdefault((p, frozenset(acts)), set()).add(c)
    purposes: dict[tuple[frozenset[str], frozenset[str]], int] = {}
    for (_purpose, acts), found in classes.items():
        key = (frozenset(found), acts)
        purposes[key] = purposes.get(key, 0) + 1
    return [len(c) * n * len(a) for (c, a), n in purposes.items()]


@pytest.mark.parametrize("seed", range(6))
def test_a_long_summary_shows_its_largest_lines_and_counts_the_rest(seed: int) -> None:
    rng = Random(seed)
    classes = ["a", *(f"a.{i}" for i in range(12)), *(f"b{i}" for i in range(18))]
    purposes = ["p", *(f"p.{i}" for i in range(4)), "q", "r"]
    policy = load_policy_text(
        "version: 1\nactions: [use, store, disclose]\n"
        f"classes: {{{', '.join(f'{c}: {{level: C1}}' for c in classes)}}}\n"
        f"purposes: {{{', '.join(f'{p}: {{}}' for p in purposes)}}}\n"
        "roles: {}\ngrants: []\n"
    )
    space = PermissionSpace(policy)
    mask = rng.getrandbits(space.size) & rng.getrandbits(space.size)
    held = Permissions(space, mask)
    counts = sorted(_brute_lines(list(held)), reverse=True)
    lines = summarise(held, classes, purposes)
    assert lines == summarise(list(held), classes, purposes)
    assert len(counts) > LINES  # long enough to be cut
    assert len(lines) == LINES + 1
    rest, more = len(held) - sum(counts[:LINES]), len(counts) - LINES
    assert lines[-1] == f"and {rest} more permissions in {more} more lines"
