"""`pdp replay LOG --policy NEW`: which logged decisions a candidate policy would flip."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.output import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    JsonOpt,
    echo_json,
    fail,
    load_or_exit,
)


class Format(StrEnum):
    """Output formats of `pdp replay`."""

    text = "text"
    json = "json"
    markdown = "markdown"


def replay(
    log: Annotated[str, typer.Argument(help="Decision log: path, sqlite:///PATH, URL or .jsonl.")],
    policy: Annotated[Path, typer.Option("--policy", help="Candidate policy file or directory.")],
    output: Annotated[
        Format, typer.Option("--format", help="Output format: text, json or markdown.")
    ] = Format.text,
    as_json: JsonOpt = False,
    fail_on_flip: Annotated[
        bool, typer.Option("--fail-on-flip", help="Exit 1 when any decision would flip.")
    ] = False,
) -> None:
    """Re-decide logged decisions under a candidate policy.

    Reports the decisions that would flip.

    Exit 0, or 1 with --fail-on-flip when a decision would flip; 2 on invalid input.
    """
    from pdp.audit import read_records
    from pdp.core.compile import compile_policy
    from pdp.errors import StorageError
    from pdp.policyci.replay import render_replay_markdown, render_replay_text
    from pdp.policyci.replay import replay as run_replay

    compiled = compile_policy(load_or_exit(policy, EXIT_INVALID))
    if "://" not in log and not Path(log).exists():
        fail(f"decision log `{log}` does not exist", EXIT_INVALID)
    try:
        report = run_replay(compiled, read_records(log))
    except (StorageError, ValueError) as exc:
        fail(f"cannot read decision log `{log}`: {exc}", EXIT_INVALID)
    if as_json or output is Format.json:
        echo_json(report.to_dict())
    elif output is Format.markdown:
        typer.echo(render_replay_markdown(report), nl=False)
    else:
        typer.echo(render_replay_text(report))
    raise typer.Exit(EXIT_FINDINGS if fail_on_flip and report.flips else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add `replay` to the CLI."""
    app.command()(replay)
