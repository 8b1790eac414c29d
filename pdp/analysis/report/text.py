"""The plain-text report: the overview, then findings grouped by rule, subject or kind.

Readable at a hundred thousand findings: each group gives its count and its
first few findings (`--detail`: all of them), and at most `MAX_GROUPS` groups
are listed unless `--detail` is given.
"""

from __future__ import annotations

from typing import TextIO

from pdp.analysis.finding import Finding
from pdp.analysis.report.triage import Group, Report
from pdp.analysis.wording import LINES

FIRST = 5
DETAILS = LINES + 1  # lines of a finding's details: a summary's, with the rest counted
MAX_GROUPS = 40


def write_text(report: Report, out: TextIO) -> None:
    """The overview, the register's warnings, then the groups of findings."""
    for line in report.lines():
        out.write(line + "\n")
    for line in report.verdict.warnings():
        out.write(f"warning: {line}\n")
    groups = report.groups()
    detail = report.view.detail
    shown = groups if detail else groups[:MAX_GROUPS]
    for group in shown:
        _write_group(report, group, out, detail)
    if len(shown) < len(groups):
        rest = sum(len(g.entries) for g in groups[len(shown) :])
        out.write(
            f"\n… and {len(groups) - len(shown)} more groups ({rest} findings): "
            "narrow with --kind, --rule, --subject or --min-severity, or give --detail\n"
        )


def _write_group(report: Report, group: Group, out: TextIO, detail: bool) -> None:
    entries = group.entries
    accepted = sum(report.verdict.acceptance_of(e) is not None for e in entries)
    kind = f" ({group.kind})" if group.key not in (group.kind,) and " " not in group.key else ""
    about = f": {group.description}" if group.description else ""
    noun = "finding" if len(entries) == 1 else "findings"
    tally = f"{len(entries)} {noun}" + (f", {accepted} accepted" if accepted else "")
    out.write(f"\n{group.severity.upper()} {group.key}{kind}{about} [{tally}]\n")
    listed = entries if detail else entries[:FIRST]
    for entry in listed:
        finding = entry.build()
        out.write(f"  {_line(finding, report.verdict.acceptance_of(entry) is not None)}\n")
        for line in finding.details[:DETAILS]:
            out.write(f"           · {line}\n")
        if len(finding.details) > DETAILS:
            out.write(
                f"           · … {len(finding.details) - DETAILS} more (JSON and CSV list all)\n"
            )
    if len(listed) < len(entries):
        more = entries[len(listed) :]
        names = ", ".join(f"{e.subject_kind} {e.subject_id}" for e in more[:FIRST])
        etc = " …" if len(more) > FIRST else ""
        out.write(f"  … and {len(more)} more ({names}{etc}); --detail lists them all\n")


def _line(f: Finding, accepted: bool) -> str:
    where = f" [{f.location}]" if f.location is not None and f.location.file else ""
    mark = " (accepted)" if accepted else ""
    return f"{f.severity:<8} {f.message}{where}{mark}"
