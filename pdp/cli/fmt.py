"""`pdp fmt [--check] FILES...`: normalise policy files, comments kept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.output import EXIT_FINDINGS, EXIT_INVALID, EXIT_OK


def fmt(
    files: Annotated[list[Path], typer.Argument(help="Policy files or directories.")],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a file would change.")
    ] = False,
) -> None:
    """Normalise key order and id lists of policy files; exit 1 with --check if one would change."""
    from pdp.core.load import policy_files
    from pdp.policyci.fmt import format_text

    changed = 0
    for root in files:
        if not root.exists():
            typer.echo(f"error: `{root}` does not exist", err=True)
            raise typer.Exit(EXIT_INVALID)
        for file in policy_files(root):
            try:
                text = file.read_text(encoding="utf-8")
                formatted = format_text(text)
            except Exception as exc:  # ruamel raises many kinds on bad YAML
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                typer.echo(f"error: cannot format `{file}`: {first}", err=True)
                raise typer.Exit(EXIT_INVALID) from None
            if formatted == text:
                continue
            changed += 1
            if check:
                typer.echo(f"would reformat {file}")
            else:
                file.write_text(formatted, encoding="utf-8")
                typer.echo(f"reformatted {file}")
    raise typer.Exit(EXIT_FINDINGS if check and changed else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add `fmt` to the CLI."""
    app.command()(fmt)
