"""The Markdown report, for pull-request comments: summary tables and findings by severity."""

from __future__ import annotations

from pdp.analysis.finding import KINDS, Finding, Pending
from pdp.analysis.register import NO_VERDICT, Acceptance, Verdict
from pdp.analysis.review import Review, timestamp

ROWS_PER_SEVERITY = 50


def render_markdown(review: Review, verdict: Verdict = NO_VERDICT) -> str:
    """Summary by severity and kind, then a table of findings per severity (first 50 each)."""
    s = review.summary
    lines = [
        "## Privilege review",
        "",
        f"Policy `{review.policy_version}`, {timestamp(review.generated_at)}: "
        f"**{s['findings']} findings** over {s['policy']['roles']} roles and "
        f"{s['policy']['users']} users.",
        "",
        "| severity | findings |",
        "| --- | ---: |",
        *(f"| {sev} | {n} |" for sev, n in s["by_severity"].items()),
        "",
        "| kind | findings |",
        "| --- | ---: |",
        *(f"| `{k}` | {s['by_kind'][k]} |" for k in KINDS if s["by_kind"].get(k)),
    ]
    by_severity: dict[str, list[Pending]] = {}
    for entry in review.findings.entries:  # built only for the rows shown
        by_severity.setdefault(entry.severity, []).append(entry)
    for severity in s["by_severity"]:
        found = by_severity.get(severity, [])
        if not found:
            continue
        lines += ["", f"### {severity.capitalize()} ({len(found)})", ""]
        lines += ["| kind | subject | level | finding | where |", "| --- | --- | --- | --- | --- |"]
        lines += [_row(e.build(), verdict.acceptance_of(e)) for e in found[:ROWS_PER_SEVERITY]]
        if len(found) > ROWS_PER_SEVERITY:
            lines.append(f"\n… and {len(found) - ROWS_PER_SEVERITY} more {severity} findings.")
    return "\n".join(lines) + "\n"


def _row(f: Finding, acceptance: Acceptance | None) -> str:
    where = f"`{f.location}`" if f.location is not None and f.location.file else ""
    message = f.message.replace("|", "\\|")
    if acceptance is not None:
        message += f" **accepted** until {acceptance.expires.isoformat()}"
    return (
        f"| `{f.kind}` | {f.subject_kind} `{f.subject_id}` | {f.level or ''} "
        f"| {message} | {where} |"
    )
