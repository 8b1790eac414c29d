"""Shared parts of the CLI: output options, problems, JSON, and loading a policy or exiting.

Exit codes, for every command: 0 ok, 1 the check failed (findings, a deny, new
access), 2 unusable input or usage (a missing policy included).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from pdp.core.load import check_policy
from pdp.core.model import Policy
from pdp.errors import EXIT_FAILED, EXIT_UNUSABLE, Problem
from pdp.errors import EXIT_OK as EXIT_OK

EXIT_FINDINGS = EXIT_FAILED  # the check failed: findings, a deny, new access
EXIT_INVALID = EXIT_UNUSABLE  # unusable input or usage
UNUSABLE_CODES = frozenset({"not_found", "no_policy_files", "unreadable"})
"""Policy problems that mean there is no policy to judge (exit 2 even for `pdp check`)."""


class Format(StrEnum):
    """The output formats every command with output offers."""

    text = "text"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", help="Output format: text or json.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
DOCS_URL = "docs/"
DocsUrlOpt = Annotated[
    str,
    typer.Option(
        "--docs-url",
        metavar="URL",
        help="SARIF: base of the rules' help links (default: docs/ in the repository).",
    ),
]
CacheOpt = Annotated[
    bool, typer.Option("--cache/--no-cache", help="Use the compiled-policy cache.")
]


def wants_json(output: str, as_json: bool) -> bool:
    """True when `--format json` or its alias `--json` was given."""
    return as_json or output == "json"


def policy_exit_code(problems: Iterable[Problem]) -> int:
    """The exit code of a policy that does not load: 2 when it is missing or unreadable, else 1."""
    return EXIT_INVALID if any(p.code in UNUSABLE_CODES for p in problems) else EXIT_FINDINGS


# C0 and C1 controls, DEL, zero-width and line/paragraph separators, bidi overrides
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` safe to print on a terminal: control characters as escapes (ESC as `\\x1b`)."""
    return _UNPRINTABLE.sub(_escape, text)


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
    """Print one line on stderr (control characters escaped) and exit with `code`."""
    typer.echo(f"error: {printable(message)}", err=True)
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


def parse_moment(text: str) -> datetime:
    """`--at TIME`: an ISO 8601 date (its start) or date-time, UTC without an offset; exit 2
    on anything else."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"`--at` must be an ISO 8601 date or date-time, not `{text}`", EXIT_INVALID)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
