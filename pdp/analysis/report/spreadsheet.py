"""The CSV report: one row per finding, for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import TextIO

from pdp.analysis.review import Review

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
)


def render_csv(review: Review) -> str:
    """Findings as CSV text (see `write_csv`)."""
    out = io.StringIO()
    write_csv(review, out)
    return out.getvalue()


def write_csv(review: Review, out: TextIO) -> None:
    """Findings as CSV with a header; permissions `class/purpose/action` joined by `; `,
    evidence paths joined by ` | `, the nodes of a path by ` > `."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in review.findings:
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
            )
        )
