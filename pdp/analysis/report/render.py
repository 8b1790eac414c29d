"""One entry point for every report format."""

from __future__ import annotations

import json

from pdp.analysis.review import Review
from pdp.core.compile import CompiledPolicy


def render(review: Review, fmt: str, compiled: CompiledPolicy) -> str:
    """The review as a report in `fmt` (text, json, markdown, html, sarif, csv)."""
    if fmt == "json":
        return json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        from pdp.analysis.report.markdown import render_markdown

        return render_markdown(review)
    if fmt == "sarif":
        from pdp.analysis.report.sarif import render_sarif

        return json.dumps(render_sarif(review), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        from pdp.analysis.report.spreadsheet import render_csv

        return render_csv(review)
    if fmt == "html":
        from pdp.analysis.report.html import render_html

        return render_html(review, compiled)
    from pdp.analysis.report.text import render_text

    return render_text(review)
