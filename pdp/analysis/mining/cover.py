"""Minimum biclique cover of a 0/1 user-permission matrix, on bitsets.

The matrix is a list of rows, one int a user whose bit j is set when the user
holds permission j; rows are assumed distinct and non-empty, and no two
permissions (columns) identical: `collapse` in `mine.py` makes them so. A role
is a permission bitset; its users are every user whose row contains it, which
makes it a maximal biclique when the set is closed.

The method is Ene et al. (SACMAT 2008):

1. *Forced roles.* A required edge (u, p) whose neighbourhoods span a complete
   subgraph (every user holding p holds all of u's permissions) lies in exactly
   one maximal biclique, so every minimum cover can take it: for permission p
   that is the closure C(p) = the intersection of the rows of p's users, and it
   is forced when some user of p whose row *is* C(p) still has p uncovered.
2. *Removal.* A user or permission whose edges are all covered is dropped from
   the graph; this shrinks neighbourhoods and exposes new forced roles.
3. Repeat 1-2 to a fixed point; the rest is the *kernel*. OPT = forced + OPT(kernel).
4. *Exact kernel.* Enumerate the kernel's maximal bicliques (intersections of
   its users' rows) and solve the set cover of its required edges exactly
   (`setcover.py`: reductions, then branch and bound) when there are at most
   `concept_limit` of them and the search ends within `budget` nodes and
   `time_limit` seconds.
5. Otherwise *greedy on the kernel*, one role at a time, re-running 1-2 after
   each: candidates are the closures of every kernel user and permission, scored
   by the required edges they cover; the better of this and the search's best wins.
6. *Clean-up*: drop every role whose edges the others already cover.

Lower bound: forced + the kernel's optimum when the search finished, else
forced + a packing of required edges no two of which one biclique can share
(pairwise, one lacks the other's cross edge), so each needs its own role.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pdp.analysis.mining.bitset import contains, members, size
from pdp.analysis.mining.setcover import solve_set_cover


@dataclass(frozen=True)
class Cover:
    """Roles (permission bitsets) covering a matrix, and what is known about their number."""

    roles: tuple[int, ...]
    forced: int
    lower_bound: int


class _Residual:
    """The graph still in play: active users and permissions, and the edges still to cover."""

    def __init__(self, rows: list[int], columns: list[int]) -> None:
        self.rows = rows
        self.columns = columns
        self.users = (1 << len(rows)) - 1
        self.perms = (1 << len(columns)) - 1
        self.required = list(rows)
        self.roles: list[int] = []

    def row(self, user: int) -> int:
        return self.rows[user] & self.perms

    def closure_of_permission(self, perm: int) -> tuple[int, int]:
        """The users of a permission and the permissions they all share."""
        users = self.columns[perm] & self.users
        shared = self.perms
        for user in members(users):
            shared &= self.rows[user]
        return users, shared

    def take(self, role: int) -> None:
        """Add a role and mark every edge it covers as covered."""
        self.roles.append(role)
        for user in members(self.users):
            if self.required[user] & role and contains(self.rows[user], role):
                self.required[user] &= ~role

    def take_forced(self) -> bool:
        """Take every forced role of the current graph; True when one was found."""
        found = False
        for perm in members(self.perms):
            users, shared = self.closure_of_permission(perm)
            if any(self.required[u] >> perm & 1 and self.row(u) == shared for u in members(users)):
                self.take(shared)
                found = True
        return found

    def drop_covered(self) -> bool:
        """Drop users and permissions with no edge left to cover; True when one was dropped."""
        users = 0
        perms = 0
        for user in members(self.users):
            if self.required[user]:
                users |= 1 << user
                perms |= self.required[user]
        changed = users != self.users or perms != self.perms
        self.users, self.perms = users, perms
        return changed

    def reduce(self) -> None:
        """Take forced roles and drop covered vertices until neither changes anything."""
        while self.take_forced() | self.drop_covered():
            pass

    def candidates(self) -> set[int]:
        """Closures of every active user's row and every active permission."""
        found = {self.row(u) for u in members(self.users)}
        found.update(self.closure_of_permission(p)[1] for p in members(self.perms))
        return found

    def gain(self, role: int) -> int:
        """The number of required edges a role would cover."""
        return sum(
            size(self.required[u] & role)
            for u in members(self.users)
            if contains(self.rows[u], role)
        )

    def greedy_step(self) -> None:
        """Take the candidate role covering the most required edges."""
        best = max(sorted(self.candidates()), key=self.gain)
        self.take(best)

    def concepts(self, limit: int, deadline: float) -> list[int] | None:
        """Every maximal biclique in play (as closed permission sets), or None past `limit`.

        The closed sets are the intersections of users' rows, found by intersecting
        each new one with every row until nothing new appears.
        """
        rows = {self.row(u) for u in members(self.users)}
        found = set(rows)
        frontier = set(rows)
        while frontier:
            fresh = {a & b for a in frontier for b in rows} - found
            fresh.discard(0)
            found |= fresh
            frontier = fresh
            if len(found) > limit or time.perf_counter() > deadline:
                return None
        return sorted(found)

    def solve_exactly(
        self, limit: int, budget: int, deadline: float
    ) -> tuple[list[int], int, bool] | None:
        """Cover the required edges with the fewest maximal bicliques: (roles, bound, optimal).

        None when the graph has more than `limit` maximal bicliques, or they take
        past `deadline` (a `time.perf_counter()` value) to enumerate.
        """
        concepts = self.concepts(limit, deadline)
        if concepts is None:
            return None
        users = list(members(self.users))
        offsets = {}
        total = 0
        for user in users:
            offsets[user] = total
            total += size(self.required[user])
        positions = {u: {p: i for i, p in enumerate(members(self.required[u]))} for u in users}
        sets = []
        for concept in concepts:
            if time.perf_counter() > deadline:
                return None
            edges = 0
            for user in users:
                if contains(self.rows[user], concept):
                    for perm in members(self.required[user] & concept):
                        edges |= 1 << offsets[user] + positions[user][perm]
            sets.append(edges)
        result = solve_set_cover(sets, (1 << total) - 1, budget, deadline)
        return [concepts[i] for i in result.chosen], result.lower_bound, result.optimal

    def lower_bound(self) -> int:
        """A set of required edges no two of which one biclique can cover, by size."""
        pending = {u: self.required[u] for u in members(self.users)}
        rows = {u: self.row(u) for u in pending}
        edges = [(u, p) for u, req in pending.items() for p in members(req)]

        def conflicts(edge: tuple[int, int]) -> int:
            user, perm = edge
            return sum(
                size(pending[v] & rows[user]) for v in members(self.columns[perm] & self.users)
            )

        edges.sort(key=conflicts)
        found = 0
        for user, perm in edges:
            if not pending[user] >> perm & 1:
                continue
            found += 1
            for other in members(self.columns[perm] & self.users):
                pending[other] &= ~rows[user]
        return found


def drop_redundant(rows: list[int], roles: list[int]) -> list[int]:
    """Remove roles whose edges the other roles cover, smallest first."""
    holders = [[u for u, row in enumerate(rows) if contains(row, role)] for role in roles]
    roles_of: list[list[int]] = [[] for _ in rows]
    for index, users in enumerate(holders):
        for user in users:
            roles_of[user].append(index)
    alive = [True] * len(roles)
    for index in sorted(range(len(roles)), key=lambda i: size(roles[i]) * len(holders[i])):
        role = roles[index]
        if all(
            contains(_union(roles, roles_of[u], alive, skip=index), role) for u in holders[index]
        ):
            alive[index] = False
    return [r for r, keep in zip(roles, alive, strict=True) if keep]


def _union(roles: list[int], indexes: list[int], alive: list[bool], skip: int) -> int:
    union = 0
    for i in indexes:
        if alive[i] and i != skip:
            union |= roles[i]
    return union


def cover_matrix(
    rows: list[int],
    columns: list[int],
    concept_limit: int = 20_000,
    budget: int = 200_000,
    time_limit: float = 20.0,
) -> Cover:
    """A biclique cover of the matrix with few roles, and a lower bound on the minimum.

    The kernel is solved exactly as a set cover over its maximal bicliques when it
    has at most `concept_limit` of them and the search ends within `budget` nodes
    and `time_limit` seconds;
    otherwise the better of that search's best and greedy with reductions is kept.
    """
    residual = _Residual(rows, columns)
    residual.reduce()
    forced = list(residual.roles)
    bound = len(forced) + residual.lower_bound()
    if not residual.users:
        return Cover(tuple(drop_redundant(rows, forced)), len(forced), bound)
    exact = residual.solve_exactly(concept_limit, budget, time.perf_counter() + time_limit)
    if exact is not None:
        kernel_roles, kernel_bound, optimal = exact
        bound = max(bound, len(forced) + kernel_bound)
        if optimal:
            return Cover(tuple(drop_redundant(rows, forced + kernel_roles)), len(forced), bound)
    while residual.users:
        residual.greedy_step()
        residual.reduce()
    roles = drop_redundant(rows, residual.roles)
    if exact is not None and len(forced) + len(exact[0]) < len(roles):
        roles = drop_redundant(rows, forced + exact[0])
    return Cover(tuple(roles), len(forced), bound)
