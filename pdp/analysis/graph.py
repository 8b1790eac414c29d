"""The role-inheritance graph of a policy, and the shortest inheritance paths a finding cites.

`role_graph` is the networkx graph the HTML report draws: nodes `role:id`
with attributes `kind`, `id`, `duties` and `label`, and an `inherits` edge
from each role to each role it inherits. `RolePaths` answers the review's
evidence paths (user -> role -> inherited role -> grant) with the core's one
shortest-path function (`pdp.core.hierarchy.inheritance_path`), cached per
start role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from pdp.analysis.finding import Path, node
from pdp.core.compile import CompiledPolicy
from pdp.core.hierarchy import inheritance_path, inheritance_paths
from pdp.core.model import Role


def role_graph(compiled: CompiledPolicy) -> nx.DiGraph:
    """The role-inheritance graph alone: role -> role it inherits."""
    graph = nx.DiGraph()
    _add_roles(graph, compiled)
    return graph


def _add_roles(graph: nx.DiGraph, compiled: CompiledPolicy) -> None:
    for rid, role in compiled.policy.roles.items():
        graph.add_node(node("role", rid), kind="role", id=rid, duties=role.duties, label=role.label)
    for rid, role in compiled.policy.roles.items():
        for parent in role.inherits:
            graph.add_edge(node("role", rid), node("role", parent), rel="inherits")


class RolePaths:
    """Shortest inheritance paths of a policy's roles, one breadth-first search per start role."""

    def __init__(self, roles: Mapping[str, Role]) -> None:
        self.roles = roles
        self._from: dict[str, dict[str, tuple[str, ...]]] = {}

    def paths_from(self, role: str) -> dict[str, tuple[str, ...]]:
        """For every role `role` reaches (itself included): the shortest chain to it (cached)."""
        found = self._from.get(role)
        if found is None:
            found = self._from[role] = inheritance_paths(self.roles, role)
        return found

    def path(self, starts: Iterable[str], targets: Iterable[str]) -> Path:
        """The shortest path from one of `starts` to one of `targets` (role ids), as nodes."""
        chain = inheritance_path(self.roles, starts, targets, self.paths_from)
        return tuple(node("role", r) for r in chain)
