"""Merge suggestions for roles with near-identical permissions."""

from __future__ import annotations

from pdp.analysis.mining import suggest_merges
from pdp.analysis.mining.merge import jaccard


def _roles(**sets: str) -> dict[str, frozenset[str]]:
    return {name: frozenset(perms) for name, perms in sets.items()}


def test_near_identical_roles_merge_and_report_what_each_gains() -> None:
    roles = _roles(a="pqrstuvwxy", b="pqrstuvwxz", c="klm")
    (merge,) = suggest_merges(roles, 0.8)
    assert merge.roles == ("a", "b")
    assert merge.saves == 1
    assert merge.similarity == jaccard(roles["a"], roles["b"]) == 9 / 11
    assert merge.added == {"a": ("z",), "b": ("y",)}
    assert suggest_merges(roles, 0.9) == []


def test_complete_linkage_never_chains_dissimilar_roles() -> None:
    # a~b and b~c are each 0.8 alike, but a and c only 0.6: not one group of three
    roles = _roles(a="12345678", b="23456789", c="3456789X")
    merges = suggest_merges(roles, 0.75)
    assert [len(m.roles) for m in merges] == [2]
    assert all(m.similarity >= 0.75 for m in merges)


def test_identical_roles_merge_into_one_group() -> None:
    roles = _roles(a="xy", b="xy", c="xy", d="q")
    (merge,) = suggest_merges(roles, 1.0)
    assert merge.roles == ("a", "b", "c")
    assert merge.saves == 2
    assert merge.added == {}
