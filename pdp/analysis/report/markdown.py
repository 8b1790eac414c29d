"""The Markdown report, for pull-request comments: the overview, then findings in groups."""

from __future__ import annotations

from pdp.analysis.finding import Finding
from pdp.analysis.register import Acceptance
from pdp.analysis.report.triage import Report
from pdp.analysis.review import timestamp

ROWS_PER_GROUP = 10
MAX_GROUPS = 30


def render_markdown(report: Report) -> str:
    """Counts per severity, level, kind and rule, top subjects, then each group's first rows."""
    review, o = report.review, report.overview
    s = review.summary
    scope = f"{o['findings']} of {o['of']}" if report.view.narrows else f"{o['findings']}"
    accepted = f", {o['accepted']} accepted" if o["accepted"] else ""
    lines = [
        "## Privilege review",
        "",
        f"Policy `{review.policy_version}`, {timestamp(review.generated_at)}: "
        f"**{scope} findings**{accepted} over {s['policy']['roles']} roles and "
        f"{s['policy']['users']} users.",
        "",
        "| severity | findings |",
        "| --- | ---: |",
        *(f"| {sev} | {n} |" for sev, n in o["by_severity"].items()),
        "",
        "| level | findings |",
        "| --- | ---: |",
        *(f"| {lv} | {n} |" for lv, n in o["by_level"].items()),
        "",
        "| kind | findings |",
        "| --- | ---: |",
        *(f"| `{k}` | {n} |" for k, n in o["by_kind"].items()),
        "",
        "| rule | kind | severity | findings | accepted | description |",
        "| --- | --- | --- | ---: | ---: | --- |",
        *(
            f"| `{r['rule']}` | `{r['kind']}` | {r['severity']} | {r['findings']} "
            f"| {r['accepted']} | {_cell(r['description'])} |"
            for r in o["by_rule"][:MAX_GROUPS]
        ),
    ]
    if o["top_subjects"]:
        lines += [
            "",
            "Top subjects: "
            + ", ".join(
                f"{kind} `{ident}` ({t['findings']})"
                for t in o["top_subjects"]
                for kind, ident in t["subject"].items()
            )
            + ".",
        ]
    warnings = report.verdict.warnings()
    if warnings:
        lines += ["", "**Risk register**", "", *(f"- {_cell(w)}" for w in warnings)]
    groups = report.groups()
    for group in groups[:MAX_GROUPS]:
        n = len(group.entries)
        about = f" — {_cell(group.description)}" if group.description else ""
        lines += ["", f"### {group.severity.capitalize()}: `{group.key}` ({n}){about}", ""]
        lines += ["| subject | level | finding | where |", "| --- | --- | --- | --- |"]
        shown = group.entries[:ROWS_PER_GROUP]
        lines += [_row(e.build(), report.verdict.acceptance_of(e)) for e in shown]
        if n > len(shown):
            lines.append(f"\n… and {n - len(shown)} more.")
    if len(groups) > MAX_GROUPS:
        lines.append(f"\n… and {len(groups) - MAX_GROUPS} more groups.")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(f: Finding, acceptance: Acceptance | None) -> str:
    where = f"`{f.location}`" if f.location is not None and f.location.file else ""
    message = _cell(f.message)
    if acceptance is not None:
        message += f" **accepted** until {acceptance.expires.isoformat()}"
    return f"| {f.subject_kind} `{f.subject_id}` | {f.level or ''} | {message} | {where} |"
