"""Role mining on the HP Labs datasets (Ene et al. 2008) against the published results."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdp.analysis.mining import (
    CoverError,
    MinedRole,
    UserPermissions,
    mine_roles,
    read_up_file,
    verify_roles,
)
from tests.shared_data import DATASETS

DATA = DATASETS / "rolemining"
HP = DATA / "hp"

# name: (users, permissions, UP edges, min |R|, greedy, lattice), Ene et al. Tables 1-3
PUBLISHED = {
    "hc": (46, 46, 1486, 14, 15, 14),
    "domino": (79, 231, 730, 20, 20, 20),
    "emea": (35, 3046, 7220, 34, 34, 34),
    "fire1": (365, 709, 31951, 64, 70, 66),
    "fire2": (325, 590, 36428, 10, 10, 10),
    "apj": (2044, 1164, 6841, 453, 456, 454),
    "customer": (10021, 277, 45427, 276, 276, 276),
    "americas_small": (3477, 1587, 105205, 178, 220, 193),
    "americas_large": (3485, 10127, 185294, 398, 422, 400),
}
BIG = {"customer", "americas_small", "americas_large"}

needs_data = pytest.mark.skipif(not HP.is_dir(), reason="HP datasets not present")


def _params() -> list[object]:
    return [
        pytest.param(name, marks=[pytest.mark.slow] if name in BIG else [], id=name)
        for name in PUBLISHED
    ]


@needs_data
@pytest.mark.parametrize("name", _params())
def test_hp_dataset_is_reproduced_within_published_bounds(name: str) -> None:
    users, perms, edges, minimum, greedy, _lattice = PUBLISHED[name]
    relation = read_up_file(HP / f"{name}.txt")
    result = mine_roles(relation)
    assert (result.users, result.permissions, result.up_edges) == (users, perms, edges)
    verify_roles(relation, result.roles)
    assert result.lower_bound <= minimum <= len(result.roles) <= greedy
    assert len(result.roles) == minimum == result.lower_bound
    assert result.optimal


@needs_data
def test_heuristic_fallback_stays_exact_and_within_greedy() -> None:
    """With no room for the exact search, the kernel is covered greedily: still exact."""
    minimum, greedy = PUBLISHED["americas_small"][3:5]
    relation = read_up_file(HP / "americas_small.txt")
    for options in ({"concept_limit": 10}, {"search_budget": 1}, {"time_limit": 0.0}):
        result = mine_roles(relation, **options)
        verify_roles(relation, result.roles)
        assert not result.optimal
        assert result.lower_bound < minimum <= len(result.roles) <= greedy


def _read_cover(path: Path) -> tuple[MinedRole, ...]:
    roles = []
    for block in path.read_text().split("role:")[1:]:
        number, perms_line, users_line = (line for line in block.splitlines() if line.strip())
        roles.append(
            MinedRole(
                number.strip(),
                tuple(p.strip() for p in perms_line.split(":", 1)[1].split(",")),
                tuple(u.strip() for u in users_line.split(":", 1)[1].split(",")),
            )
        )
    return tuple(roles)


@needs_data
@pytest.mark.parametrize("name", ["hc", "domino", "fire2"])
def test_verifier_accepts_reference_cover_and_rejects_a_broken_one(name: str) -> None:
    relation = read_up_file(HP / f"{name}.txt")
    cover = _read_cover(DATA / "hp_reference_covers" / f"{name}_cover.txt")
    assert len(cover) == PUBLISHED[name][3]
    verify_roles(relation, cover)
    first = cover[0]
    broken = (MinedRole(first.id, first.permissions[1:], first.users), *cover[1:])
    missing_role = cover[1:]
    for bad in (broken, missing_role):
        with pytest.raises(CoverError):
            verify_roles(relation, bad)


def test_verifier_rejects_an_extra_permission_and_an_unknown_user() -> None:
    relation = UserPermissions.from_pairs([("a", "p"), ("b", "q")])
    with pytest.raises(CoverError, match="extra"):
        verify_roles(relation, (MinedRole("r", ("p", "q"), ("a", "b")),))
    with pytest.raises(CoverError, match="unknown user `c`"):
        verify_roles(relation, (MinedRole("r", ("p",), ("c",)),))


def test_users_without_permissions_get_no_role() -> None:
    relation = UserPermissions({"a": frozenset({"p"}), "idle": frozenset()})
    result = mine_roles(relation)
    assert [r.users for r in result.roles] == [("a",)]
    assert result.users == 2
