"""Pictures of the HTML report, drawn with networkx and matplotlib as inline SVG.

The SVG is stripped of its XML prolog, DOCTYPE, metadata and namespace
declarations, so the HTML that embeds it names no external URL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx

from pdp.analysis.finding import Path

LEVEL_COLOURS = ("#4e9a5b", "#e0a030", "#c8413b", "#7b2d8e", "#333333")
NO_LEVEL = "#b8c0cc"
_PROLOG = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<metadata>.*?</metadata>", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def level_colour(levels: Sequence[str], level: str | None) -> str:
    """The colour of a sensitivity level (green, amber, red upwards), grey for none."""
    if level is None:
        return NO_LEVEL
    rank = levels.index(level)
    offset = len(LEVEL_COLOURS[:3]) - len(levels)
    return LEVEL_COLOURS[max(0, min(rank + offset, len(LEVEL_COLOURS) - 1))]


def role_graph_svg(
    graph: nx.DiGraph, levels: Sequence[str], role_levels: Mapping[str, str | None]
) -> str:
    """The role-inheritance graph, roles coloured by the highest level they hold."""
    depth = _depths(graph)
    graph = _ordered(graph, depth)
    pos = nx.multipartite_layout(graph, subset_key="layer", align="vertical", scale=1.0)
    layers = max(depth.values(), default=0) + 1
    height = max(2.5, min(30.0, 0.42 * max(_layer_sizes(depth).values(), default=1)))
    width = max(7.0, 3.2 * layers)
    colours = [level_colour(levels, role_levels.get(graph.nodes[n]["id"])) for n in graph.nodes]
    labels = {n: graph.nodes[n]["id"] for n in graph.nodes}
    return _draw(graph, pos, colours, labels, (width, height), node_size=220, side_labels=True)


def path_svg(paths: Iterable[Path], title: str) -> str:
    """The evidence paths of a finding (subject -> roles -> grants -> permissions) as a graph."""
    graph = nx.DiGraph()
    for path in paths:
        for column, name in enumerate(path):
            if name not in graph:
                graph.add_node(name, layer=column)
        nx.add_path(graph, path)
    if not graph:
        return ""
    pos = nx.multipartite_layout(graph, subset_key="layer", align="vertical", scale=1.0)
    columns = max(d["layer"] for _, d in graph.nodes(data=True)) + 1
    rows = max(_layer_sizes({n: d["layer"] for n, d in graph.nodes(data=True)}).values())
    colours = [_kind_colour(n) for n in graph.nodes]
    labels = {n: n.replace("permission:", "").replace("/", "\n") for n in graph.nodes}
    return _draw(
        graph,
        pos,
        colours,
        labels,
        (max(6.0, 2.6 * columns), max(2.0, 1.1 * rows)),
        node_size=300,
        title=title,
    )


def _draw(
    graph: nx.DiGraph,
    pos: Mapping[str, Any],
    colours: list[str],
    labels: Mapping[str, str],
    size: tuple[float, float],
    node_size: int,
    title: str = "",
    side_labels: bool = False,
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "pdp-review"
    fig, ax = plt.subplots(figsize=size)
    try:
        nx.draw_networkx_edges(
            graph, pos, ax=ax, arrows=True, arrowsize=12, edge_color="#7a8494", node_size=node_size
        )
        nx.draw_networkx_nodes(
            graph,
            pos,
            ax=ax,
            node_color=colours,
            node_size=node_size,
            edgecolors="#2b2f36",
            linewidths=0.6,
        )
        label_pos = {n: (x + 0.04, y) for n, (x, y) in pos.items()} if side_labels else pos
        nx.draw_networkx_labels(
            graph,
            label_pos,
            labels=dict(labels),
            ax=ax,
            font_size=8,
            verticalalignment="center" if side_labels else "bottom",
            horizontalalignment="left" if side_labels else "center",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            clip_on=False,
        )
        if title:
            ax.set_title(title, fontsize=9)
        ax.margins(0.3 if side_labels else 0.12, 0.08 if side_labels else 0.2)
        ax.set_axis_off()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        plt.close(fig)
    return clean_svg(buffer.getvalue())


def clean_svg(svg: str) -> str:
    """Inline-ready SVG: no XML prolog, DOCTYPE, metadata or namespace URLs."""
    return _NAMESPACES.sub("", _PROLOG.sub("", svg)).strip()


def _kind_colour(name: str) -> str:
    kind = name.partition(":")[0]
    return {
        "user": "#5b7fc7",
        "role": "#8fb3e8",
        "grant": "#f2c14e",
        "permission": "#c8413b",
        "rule": "#7b2d8e",
        "class": "#e0a030",
    }.get(kind, NO_LEVEL)


def _depths(graph: nx.DiGraph) -> dict[str, int]:
    """Layer of each role: 0 for roles inheriting nothing, else 1 + deepest inherited."""
    depth: dict[str, int] = {}
    for name in reversed(list(nx.topological_sort(graph))):
        depth[name] = 1 + max((depth[s] for s in graph.successors(name)), default=-1)
    return depth


def _ordered(graph: nx.DiGraph, depth: Mapping[str, int]) -> nx.DiGraph:
    """A copy whose node order puts each role near the roles it inherits (fewer crossings)."""
    position: dict[str, float] = {}
    for layer in range(max(depth.values(), default=-1) + 1):
        members = [n for n in graph.nodes if depth[n] == layer]

        def centre(name: str) -> tuple[float, str]:
            below = [position[s] for s in graph.successors(name) if s in position]
            return (sum(below) / len(below) if below else float("inf"), name)

        for index, name in enumerate(sorted(members, key=centre)):
            position[name] = index
    ordered = nx.DiGraph()
    for name in sorted(graph.nodes, key=lambda n: (depth[n], position[n])):
        ordered.add_node(name, **graph.nodes[name], layer=depth[name])
    ordered.add_edges_from(graph.edges(data=True))
    return ordered


def _layer_sizes(layers: Mapping[str, int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for layer in layers.values():
        sizes[layer] = sizes.get(layer, 0) + 1
    return sizes
