"""`pdp review POLICY`: the privilege review, as text, JSON, Markdown, HTML, SARIF or CSV.

`--kind`, `--rule`, `--min-severity`, `--subject` and `--limit` select the
findings a report lists and counts, `--group-by` groups them (rule, subject
or kind) and `--detail` lists every finding of a group in the text report; a CSV
report (`--out F.csv`) has its summary beside it in `F.summary.csv`;
the exit code judges every finding, whatever the selection.

Exit codes: 0 no finding at or above `--fail-on` (default `high`) that the
risk register (`--accept FILE`) does not accept, 1 at least one, 2 invalid
input (policy, usage log, window, register, option). `--fail-on none` always
exits 0 on valid input. A progress bar shows on stderr when stderr is a
terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from pdp.cli.jobs import Jobs, Steps
from pdp.cli.output import (
    DOCS_URL,
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    DocsUrlOpt,
    JsonOpt,
    fail,
    load_or_exit,
    parse_moment,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pdp.analysis.report.triage import View

FORMATS = ("text", "json", "markdown", "html", "sarif", "csv")
FAIL_ON = ("info", "low", "medium", "high", "critical", "none")


def review(
    policy: Annotated[Path, typer.Argument(help="Policy file or directory.")],
    usage: Annotated[
        str | None,
        typer.Option(
            "--usage",
            metavar="LOG",
            help="Decision log (SQLite path or URL) or a CSV/JSONL export: finds unused "
            "permissions.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Usage window: 90d, 12h, 4w, or an ISO date (needs --usage)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, json, markdown, html, sarif or csv.")
    ] = "text",
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report here.")] = None,
    fail_on: Annotated[
        str,
        typer.Option("--fail-on", help="Exit 1 on findings of this severity or above (or `none`)."),
    ] = "high",
    accept: Annotated[
        Path | None,
        typer.Option(
            "--accept",
            metavar="FILE",
            help="Risk register of accepted findings: reported as accepted, not failing.",
        ),
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only findings of this kind (repeatable).")
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Only findings of this rule or grant id (repeatable)."),
    ] = None,
    min_severity: Annotated[
        str, typer.Option("--min-severity", help="Only findings of this severity or above.")
    ] = "info",
    subject: Annotated[
        list[str] | None,
        typer.Option("--subject", help="Only findings about this id, or `user:ID`/`role:ID`."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="List at most this many findings.")
    ] = None,
    group_by: Annotated[
        str, typer.Option("--group-by", help="Group findings by rule, subject or kind.")
    ] = "rule",
    detail: Annotated[
        bool, typer.Option("--detail", help="Text: list every finding of every group.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="Judge what is held at this time (ISO 8601 date or date-time; default now).",
        ),
    ] = None,
    docs_url: DocsUrlOpt = DOCS_URL,
    jobs: Jobs = None,
) -> None:
    """Review a policy's privileges and report the findings.

    Separation of duties, toxic combinations, duties, grants and exposure; exit
    0 with no finding at or above --fail-on, 1 with one, 2 on invalid input.
    """
    from datetime import UTC, datetime

    from pdp.analysis.finding import severity_at_least
    from pdp.analysis.register import NO_VERDICT, read_register
    from pdp.analysis.report.render import write_report, write_summary
    from pdp.analysis.review import review as run_review
    from pdp.analysis.usage import parse_since, read_usage
    from pdp.cli.report_jobs import report_items
    from pdp.core.compile import compile_policy
    from pdp.errors import RegisterError, StorageError, UsageError

    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        fail(f"unknown format `{fmt}` (choose one of {', '.join(FORMATS)})", EXIT_INVALID)
    if fail_on not in FAIL_ON:
        fail(f"unknown severity `{fail_on}` (choose one of {', '.join(FAIL_ON)})", EXIT_INVALID)
    if since is not None and usage is None:
        fail("`--since` needs `--usage`", EXIT_INVALID)
    view = _view(kind, rule, min_severity, subject, limit, group_by, detail)
    now = datetime.now(UTC)
    moment = parse_moment(at) if at is not None else now
    try:
        window = parse_since(since, now) if since is not None else None
    except UsageError as exc:
        fail(str(exc), EXIT_INVALID)
    try:
        register = read_register(accept) if accept is not None else None
    except RegisterError as exc:
        fail(str(exc), EXIT_INVALID)
    compiled = compile_policy(load_or_exit(policy, EXIT_INVALID))
    with _progress() as progress, Steps(jobs) as steps:
        try:
            events = list(read_usage(usage)) if usage is not None else None
            result = run_review(
                compiled, usage=events, since=window, now=now, progress=progress, at=moment
            )
        except (UsageError, StorageError) as exc:
            fail(str(exc), EXIT_INVALID)
        verdict = register.judge(result.findings.entries, now.date()) if register else NO_VERDICT
        for line in verdict.warnings():
            typer.echo(f"warning: {line}", err=True)

        def write(stream: TextIO) -> None:
            items = partial(report_items, steps=steps)
            write_report(result, fmt, compiled, stream, verdict, view, progress, docs_url, items)

        if out is None:
            write(sys.stdout)
        else:
            try:
                _write_whole(out, write)
                if fmt == "csv":
                    summary = out.with_name(f"{out.stem}.summary.csv")
                    _write_whole(summary, partial(write_summary, result, compiled, verdict, view))
            except OSError as exc:
                fail(f"cannot write `{out}`: {(exc.strerror or str(exc)).lower()}", EXIT_INVALID)
    if out is not None:
        typer.echo(f"wrote {out}: {result.summary['findings']} findings ({fmt})", err=True)
        if fmt == "csv":
            typer.echo(f"wrote {summary}: the summary of the findings", err=True)
    failing = fail_on != "none" and any(
        severity_at_least(entry.severity, fail_on) and verdict.acceptance_of(entry) is None
        for entry in result.findings.entries
    )
    raise typer.Exit(EXIT_FINDINGS if failing else EXIT_OK)


def _view(
    kinds: list[str] | None,
    rules: list[str] | None,
    min_severity: str,
    subjects: list[str] | None,
    limit: int | None,
    group_by: str,
    detail: bool,
) -> View:
    """The report's view of the options, or exit 2 naming the option at fault."""
    from pdp.analysis.finding import KINDS
    from pdp.analysis.report.triage import GROUPINGS, View

    for kind in kinds or ():
        if kind not in KINDS:
            fail(f"unknown kind `{kind}` (choose from {', '.join(KINDS)})", EXIT_INVALID)
    if min_severity not in FAIL_ON[:-1]:
        fail(
            f"unknown severity `{min_severity}` (choose one of {', '.join(FAIL_ON[:-1])})",
            EXIT_INVALID,
        )
    if group_by not in GROUPINGS:
        fail(f"unknown grouping `{group_by}` (choose one of {', '.join(GROUPINGS)})", EXIT_INVALID)
    return View(
        kinds=frozenset(kinds or ()),
        rules=frozenset(rules or ()),
        min_severity=min_severity,
        subjects=frozenset(subjects or ()),
        limit=limit,
        group_by=group_by,
        detail=detail,
    )


def _write_whole(out: Path, write: Callable[[TextIO], None]) -> None:
    """Stream a report into a partial file beside `out`, then rename it: all or nothing."""
    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as stream:
            write(stream)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# The stages a review reports (context, nine checks, sorting) and the report's two (summary,
# writing): the overall bar's estimate spreads over these.
EXPECTED_STAGES = 13


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress display on stderr when it is a terminal; None (quiet) otherwise.

    It shows the stage, the run's elapsed time and an estimate of the time left
    for the whole run, the writing of the report included: the overall
    fraction is (stages done + the current stage's fraction) / stages expected.
    """
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]review[/] {task.description:<24}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left ~"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("starting", total=1000)
    seen: list[str] = []

    def update(stage: str, done: int, total: int) -> None:
        if stage not in seen:
            seen.append(stage)
        expected = max(EXPECTED_STAGES, len(seen) + 1)
        fraction = (seen.index(stage) + min(done / max(total, 1), 1.0)) / expected
        bar.update(task, description=stage, completed=round(1000 * fraction))

    with bar:
        yield update


def register(app: typer.Typer) -> None:
    """Add `review` to the CLI."""
    app.command()(review)
