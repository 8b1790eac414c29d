"""Shared output helpers of the CLI: problems, JSON, and loading a policy or exiting."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from pdp.core.load import check_policy
from pdp.core.model import Policy
from pdp.errors import EXIT_FAILED, EXIT_UNUSABLE, Problem
from pdp.errors import EXIT_OK as EXIT_OK

EXIT_FINDINGS = EXIT_FAILED  # the check failed: findings, a deny, new access
EXIT_INVALID = EXIT_UNUSABLE  # unusable input or usage


def echo_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def echo_problems(problems: list[Problem]) -> None:
    """Print problems one a line on stderr, then a count."""
    for problem in problems:
        typer.echo(str(problem), err=True)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if problems:
        typer.echo(f"{errors} error(s), {warnings} warning(s)", err=True)


def fail(message: str, code: int) -> NoReturn:
    """Print one line on stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_or_exit(path: Path, code: int, *, as_json: bool = False) -> Policy:
    """Load a policy, or print every problem and exit with `code`."""
    result = check_policy(path)
    if result.policy is None:
        if as_json:
            echo_json({"valid": False, "problems": [p.to_dict() for p in result.problems]})
        else:
            echo_problems(result.problems)
        raise typer.Exit(code)
    if result.warnings and not as_json:
        for problem in result.warnings:
            typer.echo(str(problem), err=True)
    return result.policy


def stdout_is_terminal() -> bool:
    """True when stdout is a terminal (progress bars and colour only then)."""
    return sys.stdout.isatty()
