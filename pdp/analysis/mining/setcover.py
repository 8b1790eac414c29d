"""Exact minimum set cover on bitsets, by reductions and branch and bound, within a node budget.

Sets are ints over element indexes. Reductions (each keeps the optimum):
a set whose elements another set holds is dropped; an element every set
containing some other element also contains is dropped (covering the other
covers it); an element in a single set makes that set essential. The search
branches on the element with the fewest sets, bans a set in the later
siblings once its branch is explored, and prunes with a lower bound: elements
no two of which share a set each need a set of their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pdp.analysis.mining.bitset import members, size


@dataclass(frozen=True)
class SetCoverResult:
    """The chosen set indexes, a lower bound on the optimum, and whether the choice is optimal."""

    chosen: tuple[int, ...]
    lower_bound: int
    optimal: bool


def _sets_of(sets: list[int], alive: list[int], elements: int) -> dict[int, int]:
    """For every remaining element, the bitset of alive sets containing it."""
    found: dict[int, int] = {}
    for index in alive:
        for element in members(sets[index] & elements):
            found[element] = found.get(element, 0) | 1 << index
    return found


def _drop_dominated_sets(sets: list[int], alive: list[int], elements: int) -> list[int]:
    kept: list[int] = []
    for index in sorted(alive, key=lambda i: -size(sets[i] & elements)):
        own = sets[index] & elements
        if own and not any(sets[k] & own == own for k in kept):
            kept.append(index)
    return kept


def _dominated_elements(sets_of: dict[int, int]) -> int:
    """Elements whose sets include all the sets of another element (one of equals is kept)."""
    groups: dict[int, list[int]] = {}
    for element, holders in sets_of.items():
        groups.setdefault(holders, []).append(element)
    keys = sorted(groups, key=size)
    dropped = 0
    for position, small in enumerate(keys):
        for element in groups[small][1:]:
            dropped |= 1 << element
        for large in keys[position + 1 :]:
            if large & small == small:
                for element in groups[large]:
                    dropped |= 1 << element
    return dropped


def _reduce(sets: list[int], elements: int, deadline: float) -> tuple[list[int], list[int], int]:
    """Apply the reductions to a fixed point or the deadline: (essentials, alive sets, elements)."""
    alive = list(range(len(sets)))
    taken: list[int] = []
    while elements and time.perf_counter() <= deadline:
        alive = _drop_dominated_sets(sets, alive, elements)
        sets_of = _sets_of(sets, alive, elements)
        essential = {h.bit_length() - 1 for h in sets_of.values() if h & (h - 1) == 0}
        if essential:
            for index in sorted(essential):
                taken.append(index)
                elements &= ~sets[index]
            alive = [i for i in alive if i not in essential]
            continue
        dropped = _dominated_elements(sets_of) & elements
        if not dropped:
            break
        elements &= ~dropped
    return taken, alive, elements


def _packing_bound(sets_of: dict[int, int], order: list[int], elements: int, banned: int) -> int:
    """Elements pairwise sharing no allowed set: each needs its own set.

    `order` lists the elements, fewest sets first (fixed at the root: cheaper
    than sorting at every node, and still a valid bound).
    """
    used = 0
    count = 0
    for element in order:
        if elements >> element & 1:
            holders = sets_of[element] & ~banned
            if not holders & used:
                used |= holders
                count += 1
    return count


class _Search:
    """Depth-first branch and bound over the reduced instance."""

    def __init__(
        self, sets: list[int], sets_of: dict[int, int], budget: int, deadline: float
    ) -> None:
        self.sets = sets
        self.sets_of = sets_of
        self.order = sorted(sets_of, key=lambda e: size(sets_of[e]))
        self.budget = budget
        self.deadline = deadline
        self.nodes = 0
        self.stopped = False
        self.best: list[int] | None = None

    def run(self, elements: int, chosen: list[int], banned: int) -> None:
        if self.stopped or self.nodes >= self.budget or time.perf_counter() > self.deadline:
            self.stopped = True
            return
        self.nodes += 1
        if not elements:
            if self.best is None or len(chosen) < len(self.best):
                self.best = list(chosen)
            return
        limit = len(self.best) if self.best is not None else len(self.sets) + 1
        if len(chosen) + _packing_bound(self.sets_of, self.order, elements, banned) >= limit:
            return
        pivot = min(members(elements), key=lambda e: size(self.sets_of[e] & ~banned))
        options = sorted(
            members(self.sets_of[pivot] & ~banned), key=lambda i: -size(self.sets[i] & elements)
        )
        for index in options:
            chosen.append(index)
            self.run(elements & ~self.sets[index], chosen, banned)
            chosen.pop()
            banned |= 1 << index


def solve_set_cover(
    sets: list[int], elements: int, budget: int = 200_000, deadline: float = float("inf")
) -> SetCoverResult:
    """A minimum cover of `elements` by `sets`: optimal unless the node budget or deadline
    (a `time.perf_counter()` value) runs out first, then the best cover found."""
    taken, alive, left = _reduce(sets, elements, deadline)
    if not left:
        return SetCoverResult(tuple(taken), len(taken), True)
    sets_of = _sets_of(sets, alive, left)
    search = _Search(sets, sets_of, budget, deadline)
    root_bound = len(taken) + _packing_bound(sets_of, search.order, left, 0)
    search.best = _greedy(sets, alive, left)
    search.run(left, [], 0)
    assert search.best is not None
    chosen = (*taken, *search.best)
    optimal = not search.stopped
    return SetCoverResult(chosen, len(chosen) if optimal else root_bound, optimal)


def _greedy(sets: list[int], alive: list[int], elements: int) -> list[int]:
    chosen = []
    while elements:
        index = max(alive, key=lambda i: size(sets[i] & elements))
        chosen.append(index)
        elements &= ~sets[index]
    return chosen
