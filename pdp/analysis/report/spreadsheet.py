"""The CSV report: one row per finding, for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import TextIO

from pdp.analysis.register import NO_VERDICT, Verdict
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
    "accepted_until",
    "accepted_reason",
)


def render_csv(review: Review, verdict: Verdict = NO_VERDICT) -> str:
    """Findings as CSV text (see `write_csv`)."""
    out = io.StringIO()
    write_csv(review, out, verdict)
    return out.getvalue()


def write_csv(review: Review, out: TextIO, verdict: Verdict = NO_VERDICT) -> None:
    """Findings as CSV with a header; permissions `class/purpose/action` joined by `; `,
    evidence paths joined by ` | `, the nodes of a path by ` > `; an accepted finding's
    acceptance expiry and reason in the last two columns (empty when not accepted)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in review.findings.entries:
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
                acceptance.expires.isoformat() if acceptance else "",
                acceptance.reason if acceptance else "",
            )
        )
