"""The plain-text report: a summary line per severity, then one line per finding."""

from __future__ import annotations

from pdp.analysis.review import Review


def render_text(review: Review) -> str:
    """Findings one a line, most severe first, with where they come from."""
    summary = review.summary
    counts = ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
    lines = [
        f"privilege review of policy {review.policy_version}: "
        f"{summary['findings']} findings" + (f" ({counts})" if counts else "")
    ]
    for f in review.findings:
        where = f" [{f.location}]" if f.location is not None and f.location.file else ""
        lines.append(f"{f.severity:<8} {f.kind:<18} {f.message}{where}")
    return "\n".join(lines) + "\n"
