"""One entry point for every report format: `write_report` to a stream, `render` to text."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import TextIO

from pdp.analysis.register import NO_VERDICT, Verdict
from pdp.analysis.report.triage import DOCS_URL, Progress, Report, View, quiet
from pdp.analysis.review import Review
from pdp.core.compile import CompiledPolicy


def write_report(
    review: Review,
    fmt: str,
    compiled: CompiledPolicy,
    out: TextIO,
    verdict: Verdict = NO_VERDICT,
    view: View | None = None,
    progress: Progress | None = None,
    docs_url: str = DOCS_URL,
    items: Callable[[Report], Iterable[bytes]] | None = None,
) -> None:
    """Write the review as a report in `fmt` (text, json, markdown, html, sarif, csv).

    `progress(stage, done, total)` is called while the overview is counted
    (`summary`) and the findings are written (`writing`).

    `verdict` is the risk register's (accepted findings are marked as such);
    `view` selects and groups the findings listed (every finding without one);
    `docs_url` is the docs' base for SARIF's rule help links; `items`
    gives the JSON report's encoded findings (`stream.finding_items`, made
    by several processes at the command line's edge: `pdp.cli.report_jobs`).
    Every format opens with the overview of the selection. JSON, SARIF, CSV
    and text are written a finding at a time: a review with a million
    findings never holds its whole report in memory.
    """
    report = Report.of(review, compiled, verdict, view, progress or quiet, docs_url)
    _write(report, fmt, out, items)


def _write(
    report: Report, fmt: str, out: TextIO, items: Callable[[Report], Iterable[bytes]] | None
) -> None:
    if fmt == "json":
        from pdp.analysis.report.stream import write_json_report

        write_json_report(report, out, None if items is None else items(report))
    elif fmt == "sarif":
        from pdp.analysis.report.sarif import write_sarif

        write_sarif(report, out)
    elif fmt == "csv":
        from pdp.analysis.report.spreadsheet import write_csv

        write_csv(report, out)
    elif fmt == "markdown":
        from pdp.analysis.report.markdown import render_markdown

        out.write(render_markdown(report))
    elif fmt == "html":
        from pdp.analysis.report.html import render_html

        out.write(render_html(report))
    else:
        from pdp.analysis.report.text import write_text

        write_text(report, out)


def write_summary(
    review: Review,
    compiled: CompiledPolicy,
    verdict: Verdict,
    view: View | None,
    out: TextIO,
) -> None:
    """Write the overview of the selected findings as CSV (the CSV report's second file)."""
    from pdp.analysis.report.spreadsheet import write_csv_summary

    write_csv_summary(Report.of(review, compiled, verdict, view), out)


def render(
    review: Review,
    fmt: str,
    compiled: CompiledPolicy,
    verdict: Verdict = NO_VERDICT,
    view: View | None = None,
) -> str:
    """The review as a report in `fmt` (text, json, markdown, html, sarif, csv), as text."""
    out = io.StringIO()
    write_report(review, fmt, compiled, out, verdict, view)
    return out.getvalue()
