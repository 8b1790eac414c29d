"""No import cycle anywhere in `pdp/`: the package is a layered house.

Every `import` of a pdp module counts, at module level or inside a function
(a lazy import hides a cycle, it does not remove one); only imports under
`if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "pdp"


def module_name(path: Path) -> str:
    """The dotted module name of a file under `pdp/` (a package is its `__init__`)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.AST, package: str, modules: set[str]) -> list[str]:
    """The pdp modules an import statement names, resolved against `modules`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "pdp"]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parent = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parent, base] if base else parent)
    if base.split(".")[0] != "pdp":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def import_graph() -> nx.DiGraph:
    """Module -> the pdp modules it imports."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(files)
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
        while pending:
            node = pending.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                graph.add_edges_from((name, target) for target in imported(child, package, modules))
                pending.append(child)
    graph.remove_edges_from(nx.selfloop_edges(graph))
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""
    return sorted(
        sorted(group) for group in nx.strongly_connected_components(graph) if len(group) > 1
    )


def test_the_graph_sees_imports_and_would_see_a_cycle() -> None:
    graph = import_graph()
    assert graph.has_edge("pdp.decision_point", "pdp.core.compile")
    graph.add_edge("pdp.core.compile", "pdp.decision_point")
    assert cycles(graph) and "pdp.decision_point" in cycles(graph)[0]


def test_no_import_cycle_in_pdp() -> None:
    found = cycles(import_graph())
    assert not found, f"modules that import each other: {found}"
