"""One entry point for every report format: `write_report` to a stream, `render` to text."""

from __future__ import annotations

import io
from typing import TextIO

from pdp.analysis.review import Review
from pdp.core.compile import CompiledPolicy
from pdp.core.gcpause import paused_gc


def write_report(review: Review, fmt: str, compiled: CompiledPolicy, out: TextIO) -> None:
    """Write the review as a report in `fmt` (text, json, markdown, html, sarif, csv).

    JSON, SARIF, CSV and text are written a finding at a time: a review with a
    million findings never holds its whole report in memory (JSON and SARIF
    write one finding a line).
    """
    with paused_gc():  # a million findings' dicts, no cycles (see `review`)
        _write(review, fmt, compiled, out)


def _write(review: Review, fmt: str, compiled: CompiledPolicy, out: TextIO) -> None:
    if fmt == "json":
        from pdp.analysis.report.stream import PLACEHOLDER, write_json

        document = review.to_dict(findings=False)
        document["findings"] = PLACEHOLDER
        write_json(document, (f.to_json() for f in review.findings), out)
    elif fmt == "sarif":
        from pdp.analysis.report.sarif import write_sarif

        write_sarif(review, out)
    elif fmt == "csv":
        from pdp.analysis.report.spreadsheet import write_csv

        write_csv(review, out)
    elif fmt == "markdown":
        from pdp.analysis.report.markdown import render_markdown

        out.write(render_markdown(review))
    elif fmt == "html":
        from pdp.analysis.report.html import render_html

        out.write(render_html(review, compiled))
    else:
        from pdp.analysis.report.text import write_text

        write_text(review, out)


def render(review: Review, fmt: str, compiled: CompiledPolicy) -> str:
    """The review as a report in `fmt` (text, json, markdown, html, sarif, csv), as text."""
    out = io.StringIO()
    write_report(review, fmt, compiled, out)
    return out.getvalue()
