"""The plain-text report: a summary line per severity, then one line per finding."""

from __future__ import annotations

import io
from typing import TextIO

from pdp.analysis.register import NO_VERDICT, Verdict
from pdp.analysis.review import Review


def render_text(review: Review, verdict: Verdict = NO_VERDICT) -> str:
    """The text report as a string (see `write_text`)."""
    out = io.StringIO()
    write_text(review, out, verdict)
    return out.getvalue()


def write_text(review: Review, out: TextIO, verdict: Verdict = NO_VERDICT) -> None:
    """Findings one a line, most severe first, with where they come from."""
    summary = review.summary
    counts = ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
    out.write(
        f"privilege review of policy {review.policy_version}: "
        f"{summary['findings']} findings" + (f" ({counts})" if counts else "") + "\n"
    )
    if verdict.accepted:
        out.write(f"{verdict.accepted} accepted by the risk register (marked `accepted`)\n")
    for line in verdict.warnings():
        out.write(f"warning: {line}\n")
    for entry in review.findings.entries:
        f = entry.build()
        where = f" [{f.location}]" if f.location is not None and f.location.file else ""
        mark = " (accepted)" if verdict.acceptance_of(entry) else ""
        out.write(f"{f.severity:<8} {f.kind:<18} {f.message}{where}{mark}\n")
