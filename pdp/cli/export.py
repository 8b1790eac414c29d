"""`pdp export --casbin OUTDIR POLICY`: write the Casbin model and policy of a pdp policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.output import EXIT_INVALID, load_or_exit


def export(
    policy: Annotated[Path, typer.Argument(help="Policy file or directory.")],
    casbin_dir: Annotated[Path, typer.Option("--casbin", help="Directory to write into.")],
) -> None:
    """Write the Casbin model and policy of a pdp policy.

    Writes OUTDIR/model.conf and OUTDIR/policy.csv, enforceable by any Casbin
    library. Exit 0 when written, 2 when the policy is invalid or missing.
    """
    from pdp.casbin_engine import export_casbin
    from pdp.core.compile import compile_policy

    compiled = compile_policy(load_or_exit(policy, EXIT_INVALID))
    model_path, policy_path = export_casbin(compiled, casbin_dir)
    typer.echo(f"wrote {model_path} and {policy_path} ({compiled.version})")


def register(app: typer.Typer) -> None:
    """Add `export` to the CLI."""
    app.command()(export)
