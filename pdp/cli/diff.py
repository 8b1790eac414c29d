"""`pdp diff OLD NEW`: which held permissions a policy change adds or removes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pdp.cli.output import EXIT_FINDINGS, EXIT_INVALID, EXIT_OK, echo_json, echo_problems, fail


class Format(StrEnum):
    """Output formats of `pdp diff`."""

    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"


class FailOn(StrEnum):
    """When `pdp diff` exits 1."""

    new_access = "new-access"
    any = "any"
    none = "none"


def diff(
    old: Annotated[str, typer.Argument(help="Old policy: file, directory or git revision.")],
    new: Annotated[str, typer.Argument(help="New policy: file, directory or git revision.")],
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on new access, on any change, or never.")
    ] = FailOn.none,
    level: Annotated[
        str | None,
        typer.Option("--level", help="With --fail-on new-access: only access at or above this."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            help="Policy path inside a git revision (default: the other side's path, "
            "else policies).",
        ),
    ] = None,
    findings: Annotated[
        bool, typer.Option("--findings/--no-findings", help="Compare review findings too.")
    ] = True,
) -> None:
    """Diff two policies by held permission (and review findings).

    Exit 1 per --fail-on, 2 on invalid input.
    """
    from pathlib import Path

    from pdp.errors import PolicyError, RevisionError
    from pdp.policyci.diff import diff_policies, diff_with_findings, level_rank
    from pdp.policyci.parallel import compile_sources
    from pdp.policyci.render import render_markdown, render_text, sarif_log, sarif_results

    if path is None:
        on_disk = [s for s in (new, old) if Path(s).exists()]
        path = on_disk[0] if on_disk else "policies"
    try:
        old_compiled, new_compiled = compile_sources([old, new], path)
    except PolicyError as exc:
        echo_problems(exc.problems)
        raise typer.Exit(EXIT_INVALID) from None
    except RevisionError as exc:
        fail(str(exc), EXIT_INVALID)
    if level is not None and level_rank(level, new_compiled, old_compiled) < 0:
        fail(f"unknown level `{level}`", EXIT_INVALID)
    differ = diff_with_findings if findings else diff_policies
    result = differ(old_compiled, new_compiled)
    if output is Format.json:
        echo_json(result.to_dict())
    elif output is Format.markdown:
        typer.echo(render_markdown(result), nl=False)
    elif output is Format.sarif:
        echo_json(sarif_log(sarif_results(result, level)))
    else:
        typer.echo(render_text(result))
    if fail_on is FailOn.new_access:
        failed = bool(result.added_at_or_above(level))
    elif fail_on is FailOn.any:
        failed = bool(result.added or result.removed or result.obligations)
    else:
        failed = False
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add `diff` to the CLI."""
    app.command()(diff)
