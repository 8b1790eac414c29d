"""`pdp ci`: check, test, review gate, diff against a base revision and replay, one exit code."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.jobs import Jobs, Steps
from pdp.cli.output import (
    DOCS_URL,
    EXIT_INVALID,
    CacheOpt,
    DocsUrlOpt,
    Format,
    FormatOpt,
    JsonOpt,
    echo_json,
    echo_problems,
    fail,
    wants_json,
)


class Severity(StrEnum):
    """The lowest finding severity that fails the review gate (`none`: never)."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    none = "none"


class Gate(StrEnum):
    """Which findings the review gate judges."""

    all = "all"
    new = "new"


class DiffFailOn(StrEnum):
    """When the diff step fails."""

    new_access = "new-access"
    none = "none"


def ci(
    policy: Annotated[Path, typer.Option("--policy", help="Policy file or directory.")] = Path(
        "policies"
    ),
    tests: Annotated[
        Path | None, typer.Option("--tests", help="Policy tests (file or directory).")
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base", help="Git revision to diff against (e.g. origin/main); must resolve."
        ),
    ] = None,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="Lowest finding severity that fails.")
    ] = Severity.high,
    gate: Annotated[
        Gate, typer.Option("--gate", help="Judge all findings, or only those not in --base.")
    ] = Gate.all,
    accept: Annotated[
        Path | None, typer.Option("--accept", help="YAML file of accepted findings (with reasons).")
    ] = None,
    log: Annotated[
        str | None, typer.Option("--log", help="Decision log to replay under the policy.")
    ] = None,
    diff_fail_on: Annotated[
        DiffFailOn, typer.Option("--diff-fail-on", help="Fail on new access vs --base.")
    ] = DiffFailOn.none,
    level: Annotated[
        str | None, typer.Option("--level", help="With --diff-fail-on: only access at/above it.")
    ] = None,
    fail_on_flip: Annotated[
        bool, typer.Option("--fail-on-flip", help="Fail when a logged decision would flip.")
    ] = False,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Write the Markdown summary here.")
    ] = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Write SARIF here.")] = None,
    docs_url: DocsUrlOpt = DOCS_URL,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
    jobs: Jobs = None,
    use_cache: CacheOpt = True,
) -> None:
    """Run policy CI: check, format, test, review gate, diff and replay.

    Exit 0 when every step passes, 1 when one fails, 2 on unusable input (a
    missing policy, a --base that does not resolve, a malformed file).
    """
    from functools import partial

    from pdp.cli.diff import diff_of
    from pdp.core.load import policy_files, read_policy_texts
    from pdp.errors import CiInputError
    from pdp.policyci.cache import default_cache, load_source
    from pdp.policyci.gate import CiOptions, run_ci, unformatted_files
    from pdp.policyci.render import sarif_log

    _, unusable = read_policy_texts(policy)
    if unusable:
        echo_problems(unusable)
        raise typer.Exit(EXIT_INVALID)
    if accept is not None and not accept.exists():
        fail(f"accepted findings file `{accept}` does not exist", EXIT_INVALID)
    options = CiOptions(
        policy,
        tests,
        base,
        fail_on.value,
        gate.value,
        accept,
        log,
        diff_fail_on.value,
        level,
        fail_on_flip,
    )
    cache = default_cache(use_cache)
    with Steps(jobs) as steps:
        # The format check round-trips every file through ruamel.yaml: on a large policy it
        # takes as long as the other steps together, so a worker starts it first.
        formatting = steps.start(unformatted_files, policy_files(policy))
        try:
            result = run_ci(
                options,
                unformatted=lambda _files: formatting(),
                load=partial(load_source, cache=cache),
                differ=partial(diff_of, steps, findings=True),
            )
        except CiInputError as exc:
            fail(str(exc), EXIT_INVALID)
    if summary is not None:
        summary.write_text(result.markdown(), encoding="utf-8")
    if sarif is not None:
        import json

        sarif.write_text(json.dumps(sarif_log(result.sarif, docs_url), indent=2), encoding="utf-8")
    if wants_json(output, as_json):
        echo_json(
            {
                "passed": not result.failed,
                "steps": [
                    {"name": s.name, "status": s.status, "summary": s.summary} for s in result.steps
                ],
            }
        )
    else:
        typer.echo(result.text())
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add `ci` to the CLI."""
    app.command()(ci)
