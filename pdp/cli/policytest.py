"""`pdp test POLICY TESTS`: run YAML policy unit tests (decisions and findings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pdp.cli.output import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    Format,
    FormatOpt,
    JsonOpt,
    echo_json,
    fail,
    load_or_exit,
    wants_json,
)


def policy_test(
    policy: Annotated[Path, typer.Argument(help="Policy file or directory.")],
    tests: Annotated[Path, typer.Argument(help="Test file or directory of YAML test files.")],
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML report here.")
    ] = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Run YAML policy tests (decisions and findings).

    Exit 0 when all pass, 1 when one fails, 2 on invalid input.
    """
    from pdp.core.compile import compile_policy
    from pdp.errors import TestFileError
    from pdp.policyci.junit import junit_xml
    from pdp.policyci.testing import render_report, run_tests

    compiled = compile_policy(load_or_exit(policy, EXIT_INVALID))
    if not tests.exists():
        fail(f"test path `{tests}` does not exist", EXIT_INVALID)
    try:
        run = run_tests(compiled, tests)
    except TestFileError as exc:
        fail(str(exc), EXIT_INVALID)
    if junit is not None:
        junit.write_text(junit_xml(run), encoding="utf-8")
    if wants_json(output, as_json):
        echo_json(run.to_dict())
    else:
        typer.echo(render_report(run))
    raise typer.Exit(EXIT_OK if run.passed else EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Add `test` to the CLI."""
    app.command("test")(policy_test)
