"""The CSV report: one row per finding, for spreadsheets."""

from __future__ import annotations

import csv
from typing import TextIO

from pdp.analysis.report.triage import Report

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
