"""The exact set cover solver of role mining against brute force."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.analysis.mining.setcover import solve_set_cover


def _brute_force(sets: list[int], elements: int) -> int:
    for k in range(len(sets) + 1):
        for chosen in combinations(sets, k):
            union = 0
            for s in chosen:
                union |= s
            if union & elements == elements:
                return k
    raise AssertionError("no cover")


instances = st.lists(st.integers(1, (1 << 10) - 1), min_size=1, max_size=9)


@settings(max_examples=300, deadline=None)
@given(instances)
def test_solver_finds_the_minimum_cover(sets: list[int]) -> None:
    elements = 0
    for s in sets:
        elements |= s
    result = solve_set_cover(sets, elements)
    union = 0
    for index in result.chosen:
        union |= sets[index]
    assert union & elements == elements
    assert result.optimal
    assert len(result.chosen) == result.lower_bound == _brute_force(sets, elements)


@settings(max_examples=100, deadline=None)
@given(instances)
def test_out_of_budget_still_covers_and_bounds_from_below(sets: list[int]) -> None:
    elements = 0
    for s in sets:
        elements |= s
    result = solve_set_cover(sets, elements, budget=0)
    union = 0
    for index in result.chosen:
        union |= sets[index]
    assert union & elements == elements
    assert result.lower_bound <= _brute_force(sets, elements) <= len(result.chosen)
