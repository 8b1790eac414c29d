"""The CSV report: one row per finding, for spreadsheets; its summary in a second CSV file.

A spreadsheet reads one table per file: the CSV report is that table, a
header and one row per finding, and nothing else. The overview every other
format opens with (counts per kind, rule, severity and level, the top
subjects) is its own table, `write_csv_summary`; `pdp review --format csv
--out F.csv` writes it beside the report as `F.summary.csv`.
"""

from __future__ import annotations

import csv
from typing import TextIO

from pdp.analysis.report.triage import DESCRIPTIONS, Report

COLUMNS = (
    "severity",
    "kind",
    "rule_id",
    "subject_kind",
    "subject",
    "level",
    "message",
    "file",
    "line",
    "column",
    "permissions",
    "evidence",
    "fingerprint",
    "details",
    "accepted_until",
    "accepted_reason",
)


def write_csv(report: Report, out: TextIO) -> None:
    """The selected findings as CSV with a header; permissions `class/purpose/action` joined
    by `; `, evidence paths joined by ` | `, the nodes of a path by ` > `; an accepted
    finding's acceptance expiry and reason in the last two columns (empty otherwise)."""
    verdict = report.verdict
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in report.entries():
        f = entry.build()
        acceptance = verdict.acceptance_of(entry)
        loc = f.location
        writer.writerow(
            (
                f.severity,
                f.kind,
                f.rule_id or "",
                f.subject_kind,
                f.subject_id,
                f.level or "",
                f.message,
                loc.file if loc else "",
                loc.line if loc else "",
                loc.column if loc else "",
                "; ".join("/".join(p) for p in f.permissions),
                " | ".join(" > ".join(path) for path in f.evidence),
                f.fingerprint,
                " | ".join(f.details),
                acceptance.expires.isoformat() if acceptance else "",
                acceptance.reason if acceptance else "",
            )
        )


SUMMARY_COLUMNS = ("section", "key", "kind", "severity", "findings", "accepted", "description")


def write_csv_summary(report: Report, out: TextIO) -> None:
    """The report's overview as CSV: one row per count (`section`: total, severity, level,
    kind, rule or subject), rules with their kind, severity, accepted count and description."""
    o = report.overview
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerow(("total", "findings", "", "", o["findings"], o["accepted"], f"of {o['of']}"))
    for severity, n in o["by_severity"].items():
        writer.writerow(("severity", severity, "", severity, n, "", ""))
    for level, n in o["by_level"].items():
        writer.writerow(("level", level, "", "", n, "", ""))
    for kind, n in o["by_kind"].items():
        writer.writerow(("kind", kind, kind, "", n, "", DESCRIPTIONS.get(kind, "")))
    for r in o["by_rule"]:
        row = ("rule", r["rule"], r["kind"], r["severity"], r["findings"], r["accepted"])
        writer.writerow((*row, r["description"]))
    for s in o["top_subjects"]:
        ((kind, ident),) = s["subject"].items()
        writer.writerow(("subject", f"{kind}:{ident}", "", "", s["findings"], "", ""))
