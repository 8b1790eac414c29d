"""The self-contained HTML report: overview, every finding, role graph, toxic paths, heat map.

One file, no external URL. Every finding of the selection is in the page,
as data read by an inline script that pages through them (100 a page),
sorts by any column, searches their text and filters by severity, kind and
rule; the counts say how many match of how many in all. Findings are
grouped by rule, then subject. Messages are plain text. Pictures are inline
SVG drawn without a plotting library (`pictures`): the role graph with its
labels on the boxes (past `MAX_GRAPH_ROLES` roles, a summary graph of role
clusters), one path picture per toxic finding (the first `MAX_TOXIC`), and
a heat map of roles × classes that says how its rows and columns were chosen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import KINDS, SEVERITY_RANK, Finding
from pdp.analysis.register import Acceptance
from pdp.analysis.report.pictures import (
    SEVERITY_COLOURS,
    SEVERITY_INK,
    Box,
    depths,
    layered_svg,
    level_colour,
    level_ink,
    path_svg,
    roles_svg,
)
from pdp.analysis.report.triage import DESCRIPTIONS, Report
from pdp.analysis.report.wire import encode_text
from pdp.analysis.review import timestamp
from pdp.core.model import SEVERITIES

MAX_TOXIC = 20
MAX_GRAPH_ROLES = 300
MAX_CLUSTER_DEPTH = 6  # deeper roles share the last column of the cluster graph
MAX_HEAT_ROLES = 60
MAX_HEAT_CLASSES = 60
EVIDENCE_PATHS = 3


def render_html(report: Report) -> str:
    """The HTML report."""
    review, compiled = report.review, report.compiled
    ctx = ReviewContext.build(compiled)
    levels = list(compiled.policy.levels)
    role_levels = {r: ctx.level_of(held) for r, held in ctx.role_held.items()}
    env = Environment(
        loader=PackageLoader("pdp.analysis.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    overview = report.overview
    return env.get_template("review.html.j2").render(
        review=review,
        generated_at=timestamp(review.generated_at),
        summary=review.summary,
        overview=overview,
        narrowed=report.view.narrows,
        severities=[
            (s, overview["by_severity"][s], SEVERITY_COLOURS[s], SEVERITY_INK[s])
            for s in reversed(SEVERITIES)
        ],
        kinds=[(k, n, DESCRIPTIONS[k]) for k, n in overview["by_kind"].items()],
        data=_data(report),
        sod=[_sod_row(e.build(), report.verdict.acceptance_of(e)) for e in _sod(report)],
        role_graph=_role_picture(compiled.policy.roles, levels, role_levels),
        toxic=_toxic_pictures(report),
        heat=_heat_map(report, ctx, levels),
        legend=[(lv, level_colour(levels, lv), level_ink(levels, lv)) for lv in levels],
        severity_colours=SEVERITY_COLOURS,
        severity_ink=SEVERITY_INK,
    )


def plain(message: str) -> str:
    """A finding's message as plain text: no Markdown backticks."""
    return message.replace("`", "")


def _data(report: Report) -> str:
    """Every selected finding as compact rows for the page's script (JSON, safe in a script)."""
    verdict = report.verdict
    rows = []
    for entry in report.entries():
        f = entry.build()
        acceptance = verdict.acceptance_of(entry)
        rows.append(
            [
                SEVERITY_RANK[f.severity],
                KINDS.index(f.kind),
                f.rule_id or f.kind,
                f"{f.subject_kind} {f.subject_id}",
                f.level or "",
                plain(f.message),
                str(f.location) if f.location is not None and f.location.file else "",
                _accepted(acceptance),
                [
                    " → ".join(p.partition(":")[2] for p in path)
                    for path in f.evidence[:EVIDENCE_PATHS]
                ],
                len(f.evidence),
            ]
        )
    document = {
        "severities": list(SEVERITIES),
        "kinds": list(KINDS),
        "descriptions": {r["rule"]: r["description"] for r in report.overview["by_rule"]},
        "total": report.total,
        "rows": rows,
    }
    return encode_text(document).replace("</", "<\\/")


def _path(path: Sequence[str]) -> str:
    return " → ".join(name.partition(":")[2] for name in path)


def _accepted(acceptance: Acceptance | None) -> str:
    if acceptance is None:
        return ""
    return (
        f"accepted until {acceptance.expires.isoformat()}: {acceptance.reason} "
        f"(owner {acceptance.owner}, approved by {acceptance.approved_by})"
    )


def _sod(report: Report) -> list[Any]:
    return [e for e in report.findings.entries if e.kind == "sod_violation"]


def _sod_row(f: Finding, acceptance: Acceptance | None) -> dict[str, str]:
    return {
        "rule": f.rule_id or "",
        "subject": f"{f.subject_kind} {f.subject_id}",
        "message": plain(f.message),
        "accepted": _accepted(acceptance),
    }


def _role_picture(
    roles: Mapping[str, Any], levels: list[str], role_levels: Mapping[str, str | None]
) -> dict[str, Any]:
    inherits = {rid: tuple(role.inherits) for rid, role in roles.items()}
    if len(inherits) <= MAX_GRAPH_ROLES:
        return {"svg": roles_svg(inherits, levels, role_levels), "clusters": False}
    return {"svg": _cluster_svg(inherits, levels, role_levels), "clusters": True}


def _cluster_svg(
    inherits: Mapping[str, Sequence[str]],
    levels: list[str],
    role_levels: Mapping[str, str | None],
) -> str:
    """Roles in clusters of the same inheritance depth and highest level held, with their links."""
    depth = {r: min(d, MAX_CLUSTER_DEPTH) for r, d in depths(inherits).items()}

    def cluster(role: str) -> str:
        return f"{depth[role]}:{role_levels.get(role) or '-'}"

    members = Counter(cluster(r) for r in inherits)
    links = Counter(
        (cluster(r), cluster(p)) for r, ps in inherits.items() for p in ps if p in depth
    )
    order = [*reversed(levels), "-"]
    boxes = []
    for key in sorted(members, key=lambda k: (int(k.split(":")[0]), order.index(k.split(":")[1]))):
        layer, level = key.split(":")
        held = None if level == "-" else level
        deep = f"{layer}+" if int(layer) == MAX_CLUSTER_DEPTH else layer
        boxes.append(
            Box(
                key,
                f"depth {deep} · {held or 'no data'} · {members[key]} roles",
                int(layer),
                level_colour(levels, held),
                level_ink(levels, held),
                f"{members[key]} roles inheriting {layer} level(s) deep, holding up to "
                f"{held or 'nothing'}",
            )
        )
    edges = [(a, b) for (a, b) in links if a != b]
    return layered_svg(boxes, edges, "role clusters: inheritance depth × highest level held")


def _toxic_pictures(report: Report) -> list[dict[str, str]]:
    entries = [e for e in report.findings.entries if e.kind == "toxic_combination"]
    entries.sort(key=lambda e: (e.subject_kind != "role", e.rule_id or "", e.subject_id))
    found = [e.build() for e in entries[:MAX_TOXIC]]
    return [
        {
            "title": f"{f.rule_id}: {f.subject_kind} {f.subject_id}",
            "svg": path_svg(f.evidence, f"{f.rule_id} — {f.subject_kind} {f.subject_id}"),
        }
        for f in found
    ]


def _heat_map(report: Report, ctx: ReviewContext, levels: list[str]) -> dict[str, Any]:
    policy = ctx.policy
    all_classes = list(ctx.space.classes)
    classes = all_classes
    class_rule = "every class"
    if len(classes) > MAX_HEAT_CLASSES:
        tops = [c for c in all_classes if c.count(".") == 0]
        seconds = [c for c in all_classes if c.count(".") == 1]
        classes = sorted(
            tops + seconds[: max(0, MAX_HEAT_CLASSES - len(tops))], key=lambda c: c.split(".")
        )
        class_rule = (
            f"the {len(tops)} top classes and the first "
            f"{len(classes) - len(tops)} of their {len(seconds)} children, in tree order"
        )
    roles = sorted(policy.roles)
    role_rule = "every role, by name"
    if len(roles) > MAX_HEAT_ROLES:
        counts = Counter(e.subject_id for e in report.findings.entries if e.subject_kind == "role")
        roles = sorted((r for r in policy.roles if counts[r]), key=lambda r: (-counts[r], r))[
            :MAX_HEAT_ROLES
        ]
        role_rule = f"the {len(roles)} roles with the most findings, most first"
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
                    "ink": level_ink(levels, level),
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
        "role_rule": role_rule,
        "class_rule": class_rule,
    }
