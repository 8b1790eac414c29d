"""Pictures of the HTML report, drawn as inline SVG by hand (no plotting library).

A layered drawing: each node a labelled box in its column (a role's column
is its inheritance depth; an evidence path's, its position), edges as curves
between the boxes. Colours come from a palette safe for colour-blind readers
(Paul Tol's), and every colour is also said in words (labels, legends).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from pdp.analysis.finding import Path

# Paul Tol's colour-blind-safe schemes: "muted" for severities, a sequential
# ("YlOrBr"-like, light to dark) for sensitivity levels.
SEVERITY_COLOURS = {
    "critical": "#882255",
    "high": "#CC6677",
    "medium": "#DDCC77",
    "low": "#88CCEE",
    "info": "#DDDDDD",
}
SEVERITY_INK = {"critical": "#fff", "high": "#000", "medium": "#000", "low": "#000", "info": "#000"}
LEVEL_COLOURS = ("#FEE391", "#FB9A29", "#CC4C02", "#662506", "#331200")
LEVEL_INK = ("#000", "#000", "#fff", "#fff", "#fff")
NO_LEVEL = "#E8ECF1"
KIND_COLOURS = {
    "user": "#88CCEE",
    "role": "#44AA99",
    "grant": "#DDCC77",
    "permission": "#CC6677",
    "rule": "#AA4499",
    "class": "#999933",
}
BOX_H = 22
GAP_Y = 10
GAP_X = 60
CHAR_W = 6.6
PAD = 8


def level_colour(levels: Sequence[str], level: str | None) -> str:
    """The fill of a sensitivity level (light to dark upwards), pale grey for none."""
    if level is None or level not in levels:
        return NO_LEVEL
    return LEVEL_COLOURS[_level_rank(levels, level)]


def level_ink(levels: Sequence[str], level: str | None) -> str:
    """The text colour readable on `level_colour`."""
    if level is None or level not in levels:
        return "#000"
    return LEVEL_INK[_level_rank(levels, level)]


def _level_rank(levels: Sequence[str], level: str) -> int:
    offset = max(0, 3 - len(levels))
    return min(levels.index(level) + offset, len(LEVEL_COLOURS) - 1)


@dataclass(frozen=True)
class Box:
    """A node to draw: its id, label, column, fill and ink."""

    id: str
    label: str
    column: int
    fill: str
    ink: str = "#000"
    title: str = ""


def layered_svg(boxes: Sequence[Box], edges: Iterable[tuple[str, str]], title: str = "") -> str:
    """Boxes in columns (labels inside), edges from left to right as curves, as inline SVG."""
    if not boxes:
        return ""
    columns: dict[int, list[Box]] = {}
    for box in boxes:
        columns.setdefault(box.column, []).append(box)
    order = sorted(columns)
    widths = {c: max(_width(b.label) for b in columns[c]) for c in order}
    x_of: dict[int, float] = {}
    x: float = PAD
    for c in order:
        x_of[c] = x
        x += widths[c] + GAP_X
    top = PAD + (18 if title else 0)
    place: dict[str, tuple[float, float, float]] = {}
    height = 0.0
    for c in order:
        for row, box in enumerate(columns[c]):
            y = top + row * (BOX_H + GAP_Y)
            place[box.id] = (x_of[c], y, widths[c])
            height = max(height, y + BOX_H)
    width = x - GAP_X + PAD
    out = [
        f'<svg viewBox="0 0 {width:.0f} {height + PAD:.0f}" width="{width:.0f}" '
        f'height="{height + PAD:.0f}" role="img" aria-label="{escape(title or "graph")}">',
        '<g fill="none" stroke="#777" stroke-width="1">',
    ]
    for start, end in edges:
        if start not in place or end not in place:
            continue
        x1, y1, w1 = place[start]
        x2, y2, w2 = place[end]
        a = (x1 + w1, y1 + BOX_H / 2) if x2 > x1 else (x1, y1 + BOX_H / 2)
        b = (x2, y2 + BOX_H / 2) if x2 > x1 else (x2 + w2, y2 + BOX_H / 2)
        mid = (a[0] + b[0]) / 2
        out.append(
            f'<path d="M{a[0]:.1f},{a[1]:.1f} C{mid:.1f},{a[1]:.1f} {mid:.1f},{b[1]:.1f} '
            f'{b[0]:.1f},{b[1]:.1f}" marker-end="url(#arrow)"/>'
        )
    out.append("</g>")
    out.insert(
        1,
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>',
    )
    if title:
        out.append(
            f'<text x="{PAD}" y="14" font-size="12" font-weight="600">{escape(title)}</text>'
        )
    for box in boxes:
        bx, by, bw = place[box.id]
        tip = f"<title>{escape(box.title or box.label)}</title>"
        out.append(
            f'<g class="node" data-id="{escape(box.id)}">{tip}'
            f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="{BOX_H}" rx="5" '
            f'fill="{box.fill}" stroke="#333" stroke-width="0.6"/>'
            f'<text x="{bx + 6:.1f}" y="{by + 15:.1f}" font-size="11" fill="{box.ink}">'
            f"{escape(box.label)}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


def _width(label: str) -> float:
    return max(40.0, len(label) * CHAR_W + 12)


def path_svg(paths: Iterable[Path], title: str) -> str:
    """The evidence paths of a finding (subject -> roles -> grants -> permissions)."""
    boxes: dict[str, Box] = {}
    edges: set[tuple[str, str]] = set()
    for path in paths:
        for column, name in enumerate(path):
            if name not in boxes:
                kind, _, ident = name.partition(":")
                boxes[name] = Box(name, f"{kind} {ident}", column, KIND_COLOURS.get(kind, NO_LEVEL))
        edges.update(pairwise(path))
    return layered_svg(list(boxes.values()), sorted(edges), title)


def roles_svg(
    inherits: Mapping[str, Sequence[str]],
    levels: Sequence[str],
    role_levels: Mapping[str, str | None],
) -> str:
    """The role-inheritance graph: a role's column is its depth, its fill the highest level held.

    Arrows point from a role to the role it inherits; labels are on the boxes.
    """
    depth = depths(inherits)
    placed = _ordered(inherits, depth)
    boxes = [
        Box(
            role,
            role,
            depth[role],
            level_colour(levels, role_levels.get(role)),
            level_ink(levels, role_levels.get(role)),
            f"{role}: holds up to {role_levels.get(role) or 'nothing'}",
        )
        for role in placed
    ]
    edges = [(r, p) for r in placed for p in inherits.get(r, ()) if p in depth]
    return layered_svg(boxes, edges)


def depths(inherits: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each role's column: 0 for roles inheriting nothing (shown), else 1 + deepest inherited."""
    depth: dict[str, int] = {}
    for start in inherits:
        stack = [(start, False)]
        while stack:
            role, ready = stack.pop()
            if role in depth:
                continue
            below = [p for p in inherits.get(role, ()) if p in inherits]
            if ready:
                depth[role] = 1 + max((depth.get(p, 0) for p in below), default=-1)
                continue
            stack.append((role, True))
            stack.extend((p, False) for p in below if p not in depth)
    return depth


def _ordered(inherits: Mapping[str, Sequence[str]], depth: Mapping[str, int]) -> list[str]:
    """Roles by column, each near the roles it inherits (fewer crossings)."""
    position: dict[str, float] = {}
    ordered: list[str] = []
    for layer in range(max(depth.values(), default=-1) + 1):
        members = [r for r in inherits if depth[r] == layer]

        def centre(role: str) -> tuple[float, str]:
            below = [position[p] for p in inherits.get(role, ()) if p in position]
            return (sum(below) / len(below) if below else float("inf"), role)

        for index, role in enumerate(sorted(members, key=centre)):
            position[role] = index
            ordered.append(role)
    return ordered
