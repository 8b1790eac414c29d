"""`pdp check POLICY`: validate a policy and report every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.output import (
    EXIT_OK,
    Format,
    FormatOpt,
    JsonOpt,
    echo_json,
    echo_problems,
    policy_exit_code,
    wants_json,
)


def check(
    policy: Annotated[Path, typer.Argument(help="Policy file or directory.")],
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Validate a policy and report every problem at once.

    Exit 0 when it is valid, 1 when it has errors, 2 when there is no policy.
    """
    from pdp.core.compile import compile_policy
    from pdp.core.load import check_policy

    result = check_policy(policy)
    compiled = compile_policy(result.policy) if result.policy is not None else None
    if wants_json(output, as_json):
        echo_json(
            {
                "valid": compiled is not None,
                "policy_version": compiled.version if compiled else None,
                "problems": [p.to_dict() for p in result.problems],
            }
        )
    else:
        echo_problems(result.problems)
        if compiled is not None:
            p = compiled.policy
            typer.echo(
                f"ok: {policy} is valid ({compiled.version}): {len(p.classes)} classes, "
                f"{len(p.purposes)} purposes, {len(p.roles)} roles, {len(p.users)} users, "
                f"{len(p.grants)} grants, {len(p.rules)} rules"
            )
    raise typer.Exit(EXIT_OK if compiled is not None else policy_exit_code(result.problems))


def register(app: typer.Typer) -> None:
    """Add `check` to the CLI."""
    app.command()(check)
