"""The self-contained HTML report: summary, filterable findings, role graph, toxic paths, heat map.

One file, no external URL: styles and the filter script are inline, pictures
are inline SVG (`pictures`), the heat map is an HTML table. Big policies are
cut to what a person can read: the first `MAX_ROWS` findings, the roles
involved in findings for the pictures, `MAX_TOXIC` toxic paths.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
from jinja2 import Environment, PackageLoader, select_autoescape

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import node
from pdp.analysis.graph import role_graph
from pdp.analysis.register import Acceptance
from pdp.analysis.report.pictures import level_colour, path_svg, role_graph_svg
from pdp.analysis.report.triage import Report
from pdp.analysis.review import Review, timestamp
from pdp.core.compile import CompiledPolicy

MAX_ROWS = 5000
MAX_TOXIC = 20
MAX_GRAPH_ROLES = 60
MAX_HEAT_ROLES = 80
MAX_HEAT_CLASSES = 60
SEVERITY_COLOURS = {
    "critical": "#8e1b2b",
    "high": "#c8413b",
    "medium": "#e0a030",
    "low": "#5b7fc7",
    "info": "#7a8494",
}


def render_html(report: Report) -> str:
    """The HTML report."""
    review, compiled, verdict = report.review, report.compiled, report.verdict
    ctx = ReviewContext.build(compiled)
    levels = list(compiled.policy.levels)
    role_levels = {r: ctx.level_of(held) for r, held in ctx.role_held.items()}
    env = Environment(
        loader=PackageLoader("pdp.analysis.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("review.html.j2")
    return template.render(
        review=review,
        generated_at=timestamp(review.generated_at),
        summary=review.summary,
        overview=report.overview,
        severities=[(s, n, SEVERITY_COLOURS[s]) for s, n in review.summary["by_severity"].items()],
        kinds=[(k, n) for k, n in review.summary["by_kind"].items() if n],
        rows=[
            _row(e.build(), verdict.acceptance_of(e)) for e in review.findings.entries[:MAX_ROWS]
        ],
        more=max(0, len(review.findings) - MAX_ROWS),
        role_graph=_role_picture(review, compiled, levels, role_levels),
        toxic=_toxic_pictures(review),
        heat=_heat_map(review, ctx, levels),
        legend=[(lv, level_colour(levels, lv)) for lv in levels],
        severity_colours=SEVERITY_COLOURS,
    )


def _row(f: Any, acceptance: Acceptance | None) -> dict[str, Any]:
    return {
        "accepted": acceptance.to_dict() if acceptance else None,
        "severity": f.severity,
        "kind": f.kind,
        "subject": f"{f.subject_kind} {f.subject_id}",
        "rule": f.rule_id or "",
        "level": f.level or "",
        "message": f.message,
        "where": str(f.location) if f.location is not None and f.location.file else "",
        "evidence": [" → ".join(path) for path in f.evidence[:6]],
        "permissions": len(f.permissions),
    }


def _role_picture(
    review: Review, compiled: CompiledPolicy, levels: list[str], role_levels: dict[str, Any]
) -> dict[str, Any]:
    graph = role_graph(compiled)
    total = graph.number_of_nodes()
    if total > MAX_GRAPH_ROLES:
        involved = [e.subject_id for e in review.findings.entries if e.subject_kind == "role"]
        keep: set[str] = set()
        for rid in involved:
            name = node("role", rid)
            if name in graph and len(keep) < MAX_GRAPH_ROLES:
                keep |= {name} | set(graph.successors(name))
        graph = nx.DiGraph(graph.subgraph(keep))
    if not graph:
        return {"svg": "", "shown": 0, "total": total}
    return {
        "svg": role_graph_svg(graph, levels, role_levels),
        "shown": graph.number_of_nodes(),
        "total": total,
    }


def _toxic_pictures(review: Review) -> list[dict[str, str]]:
    entries = [e for e in review.findings.entries if e.kind == "toxic_combination"]
    entries.sort(key=lambda e: (e.subject_kind != "role", e.rule_id or "", e.subject_id))
    found = [e.build() for e in entries[:MAX_TOXIC]]
    return [
        {
            "title": f"{f.rule_id}: {f.subject_kind} {f.subject_id}",
            "svg": path_svg(f.evidence, f"{f.rule_id} — {f.subject_kind} {f.subject_id}"),
        }
        for f in found
    ]


def _heat_map(review: Review, ctx: ReviewContext, levels: list[str]) -> dict[str, Any]:
    policy = ctx.policy
    classes = ctx.space.classes
    if len(classes) > MAX_HEAT_CLASSES:
        classes = [c for c in classes if c.count(".") == 0]
        classes += [c for c in ctx.space.classes if c.count(".") == 1][
            : max(0, MAX_HEAT_CLASSES - len(classes))
        ]
        classes.sort(key=lambda c: c.split("."))
    roles = sorted(policy.roles)
    if len(roles) > MAX_HEAT_ROLES:
        involved = dict.fromkeys(
            e.subject_id for e in review.findings.entries if e.subject_kind == "role"
        )
        roles = [r for r in involved if r in policy.roles][:MAX_HEAT_ROLES]
    subtree = {c: ctx.space.class_mask(ctx.class_desc[c]) for c in classes}
    rows = []
    for rid in roles:
        cells = []
        for cls in classes:
            reach = ctx.role_held[rid] & subtree[cls]
            level = ctx.level_of(reach)
            cells.append(
                {
                    "colour": level_colour(levels, level) if level else "",
                    "level": level or "",
                    "count": reach.bit_count(),
                    "title": f"{rid} × {cls}: "
                    + (f"{reach.bit_count()} permissions, up to {level}" if level else "nothing"),
                }
            )
        rows.append({"role": rid, "cells": cells})
    return {
        "classes": [(c, policy.classes[c].level) for c in classes],
        "rows": rows,
        "total_roles": len(policy.roles),
        "total_classes": len(policy.classes),
    }
