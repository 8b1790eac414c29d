"""`pdp fmt [--check] [--sort] FILES...`: normalise policy files, order and comments kept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.output import EXIT_FINDINGS, EXIT_INVALID, EXIT_OK


def fmt(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILES", help="Policy files or directories.")
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a file would change.")
    ] = False,
    sort: Annotated[
        bool,
        typer.Option(
            "--sort", help="Also order sections, keys and entries as the spec does; sort id lists."
        ),
    ] = False,
) -> None:
    """Normalise the layout of policy files, order and comments kept.

    Indentation, spacing, quoting and flow style; the policy's meaning and
    version never change. Exit 0, 1 with --check when a file would change, 2
    when a file is missing or not YAML.
    """
    from pdp.core.load import policy_files
    from pdp.policyci.fmt import format_text, needs_format

    changed = 0
    for root in files:
        if not root.exists():
            typer.echo(f"error: `{root}` does not exist", err=True)
            raise typer.Exit(EXIT_INVALID)
        for file in policy_files(root):
            try:
                text = file.read_text(encoding="utf-8")
                formatted = "" if check else format_text(text, sort=sort)
                differs = needs_format(text, sort=sort) if check else formatted != text
            except Exception as exc:
                if not _unreadable(exc):
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                typer.echo(f"error: cannot format `{file}`: {first}", err=True)
                raise typer.Exit(EXIT_INVALID) from None
            if not differs:
                continue
            changed += 1
            if check:
                typer.echo(f"would reformat {file}")
            else:
                file.write_text(formatted, encoding="utf-8")
                typer.echo(f"reformatted {file}")
    raise typer.Exit(EXIT_FINDINGS if check and changed else EXIT_OK)


def _unreadable(exc: Exception) -> bool:
    """True for an error of reading the file or its YAML (ruamel raises many kinds)."""
    package = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError | UnicodeDecodeError) or package in ("yaml", "ruamel")


def register(app: typer.Typer) -> None:
    """Add `fmt` to the CLI."""
    app.command()(fmt)
