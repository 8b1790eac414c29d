"""Role mining on random small relations: always exact, never below the true minimum."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.analysis.mining import UserPermissions, mine_roles, verify_roles

Edge = tuple[int, int]


def _maximal_bicliques(edges: frozenset[Edge]) -> list[frozenset[Edge]]:
    """Every maximal biclique (as its edge set), from the closure of every permission subset."""
    users = sorted({u for u, _ in edges})
    perms = sorted({p for _, p in edges})
    found = set()
    for k in range(1, len(perms) + 1):
        for chosen in combinations(perms, k):
            holders = [u for u in users if all((u, p) in edges for p in chosen)]
            if not holders:
                continue
            closed = [p for p in perms if all((u, p) in edges for u in holders)]
            found.add(frozenset((u, p) for u in holders for p in closed))
    return list(found)


def _minimum_cover(edges: frozenset[Edge]) -> int:
    """The biclique cover number by iterative deepening over the first uncovered edge."""
    bicliques = _maximal_bicliques(edges)
    order = sorted(edges)

    def coverable(uncovered: frozenset[Edge], budget: int) -> bool:
        if not uncovered:
            return True
        if budget == 0:
            return False
        edge = min(uncovered)
        return any(coverable(uncovered - b, budget - 1) for b in bicliques if edge in b)

    return next(k for k in range(len(order) + 1) if coverable(edges, k))


relations = st.frozensets(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=36)


@settings(max_examples=300, deadline=None)
@given(relations)
def test_random_relation_is_covered_exactly_and_never_below_the_minimum(
    edges: frozenset[Edge],
) -> None:
    relation = UserPermissions.from_pairs((f"u{u}", f"p{p}") for u, p in edges)
    result = mine_roles(relation)
    verify_roles(relation, result.roles)
    minimum = _minimum_cover(edges)
    assert result.lower_bound <= minimum <= len(result.roles)
    if result.optimal:
        assert len(result.roles) == minimum
    for role in result.roles:
        holders = {u for u, perms in relation.assignments.items() if set(role.permissions) <= perms}
        assert set(role.users) == holders


def test_brute_force_minimum_on_known_graphs() -> None:
    # a 3-crown (K3,3 minus a perfect matching) needs 3 roles... a 4-crown needs 4
    crown3 = frozenset((u, p) for u in range(3) for p in range(3) if u != p)
    crown4 = frozenset((u, p) for u in range(4) for p in range(4) if u != p)
    assert _minimum_cover(crown3) == 3
    assert _minimum_cover(crown4) == 4
    assert _minimum_cover(frozenset((u, p) for u in range(3) for p in range(3))) == 1


def test_crown_graphs_need_the_greedy_stage_and_stay_exact() -> None:
    """Crowns have no forced role: the whole graph is the kernel."""
    for n in (3, 4, 5):
        edges = frozenset((u, p) for u in range(n) for p in range(n) if u != p)
        relation = UserPermissions.from_pairs((f"u{u}", f"p{p}") for u, p in edges)
        result = mine_roles(relation)
        verify_roles(relation, result.roles)
        assert result.forced == 0
        assert _minimum_cover(edges) <= len(result.roles) <= n
