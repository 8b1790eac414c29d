"""The review graph: users -> roles -> inherited roles -> grants -> classes, purposes, actions.

Built with networkx from a compiled policy. Nodes are strings `kind:id`
(`user:u1001`, `role:teller`, `grant:G-TELLER-SERVICE`, `class:identity`,
`purpose:aml.reporting`, `action:use`) with attributes `kind`, `id` and, where
the policy says them, `level`, `legal_basis`, `effect`, `duties`, `label` and
`location`. Edges carry `rel`:

- `assigned`: user -> role (the user's roles);
- `inherits`: role -> role it inherits;
- `granted`: role -> grant naming it (`*` expanded to every role);
- `covers`: grant -> each class, purpose and action it names (`*` expanded to
  the tree roots and every action, as the compiler does);
- `contains`: class -> child class, purpose -> child purpose.

A path user -> ... -> grant exists exactly when the grant reaches the user,
which is what a finding's evidence shows. `role_graph` is the small
role-inheritance part alone, which the review walks for evidence paths.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from pdp.analysis.finding import Path, node
from pdp.core.compile import CompiledPolicy, expand
from pdp.core.model import parent_of


def build_graph(compiled: CompiledPolicy, *, users: bool = True) -> nx.DiGraph:
    """The whole review graph of a compiled policy (without user nodes when `users` is false)."""
    policy = compiled.policy
    graph = nx.DiGraph()
    for cid, cls in policy.classes.items():
        graph.add_node(node("class", cid), kind="class", id=cid, level=cls.level, label=cls.label)
        parent = parent_of(cid)
        if parent is not None:
            graph.add_edge(node("class", parent), node("class", cid), rel="contains")
    for pid, purpose in policy.purposes.items():
        graph.add_node(
            node("purpose", pid), kind="purpose", id=pid, legal_basis=purpose.legal_basis
        )
        parent = parent_of(pid)
        if parent is not None:
            graph.add_edge(node("purpose", parent), node("purpose", pid), rel="contains")
    for action in policy.actions:
        graph.add_node(node("action", action), kind="action", id=action)
    _add_roles(graph, compiled)
    for grant in policy.grants:
        gnode = node("grant", grant.id)
        graph.add_node(
            gnode, kind="grant", id=grant.id, effect=grant.effect, location=str(grant.location)
        )
        for role in expand(grant, policy, "roles"):
            graph.add_edge(node("role", role), gnode, rel="granted")
        for kind, field_name in (("class", "classes"), ("purpose", "purposes")):
            for ident in expand(grant, policy, field_name):
                graph.add_edge(gnode, node(kind, ident), rel="covers")
        for action in expand(grant, policy, "actions"):
            graph.add_edge(gnode, node("action", action), rel="covers")
    if users:
        for uid, user in policy.users.items():
            unode = node("user", uid)
            graph.add_node(unode, kind="user", id=uid, label=user.label)
            for role in user.roles:
                graph.add_edge(unode, node("role", role), rel="assigned")
    return graph


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
    """Shortest inheritance paths in a role graph, one breadth-first search per start role."""

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        self._from: dict[str, dict[str, list[str]]] = {}

    def paths_from(self, role: str) -> dict[str, list[str]]:
        """For every role `role` reaches (itself included): the shortest path to it."""
        found = self._from.get(role)
        if found is None:
            found = nx.single_source_shortest_path(self.graph, node("role", role))
            self._from[role] = found
        return found

    def path(self, starts: Iterable[str], targets: Iterable[str]) -> Path:
        """The shortest path from one of `starts` to one of `targets` (role ids), as nodes."""
        wanted = [node("role", t) for t in targets]
        best: list[str] | None = None
        for start in sorted(starts):
            reachable = self.paths_from(start)
            for target in wanted:
                path = reachable.get(target)
                if path is not None and (best is None or (len(path), path) < (len(best), best)):
                    best = path
        return tuple(best or ())
