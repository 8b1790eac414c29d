"""The `pdp` command: discovers the command modules of this package and runs them.

Each module of `pdp.cli` other than `app` and `output` defines
`register(app: typer.Typer) -> None`. Commands import heavy libraries lazily,
so `pdp check` starts fast. No traceback reaches a user: errors are printed as
one line and exit with the code `pdp.errors.OUTCOMES` gives them. Every
command takes `-h`; help is plain text (flags show no value type).
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import sys
from typing import Annotated

import typer

from pdp.errors import PdpError, outcome_of

SKIP = {"app", "output", "jobs", "report_jobs", "ring"}
SETTINGS = {"help_option_names": ["-h", "--help"]}
LONG_LIVED = {"serve"}  # commands that keep the cyclic garbage collector on

app = typer.Typer(
    name="pdp",
    help="Policy decision point for customer-information confidentiality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=SETTINGS,
)


def _print_version(value: bool) -> None:
    if value:
        from pdp import __version__

        typer.echo(f"pdp {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Policy decision point for customer-information confidentiality."""


def _register_commands() -> None:
    import pdp.cli as package

    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.name in SKIP or module.name.startswith("_"):
            continue
        importlib.import_module(f"pdp.cli.{module.name}").register(app)


_register_commands()


def command_of(args: list[str]) -> str | None:
    """The command an argument list runs: its first argument that is not an option."""
    return next((a for a in args if not a.startswith("-")), None)


def main() -> None:
    """Run the CLI; turn any escaped error into a one-line message and its exit code.

    The process's collector policy is set here and nowhere else: a batch
    command's heap is mostly a policy (millions of small, long-lived objects,
    no cycles worth collecting) that lives until exit, so the cyclic garbage
    collector is off for it and reference counting frees everything else
    (a 30,000-grant policy reads in half the time). `pdp serve`, the one
    long-lived command, keeps the collector on (the service freezes its
    startup heap instead).
    """
    if command_of(sys.argv[1:]) not in LONG_LIVED:
        gc.disable()
    try:
        app()
    except PdpError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(outcome_of(exc).exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # no traceback reaches a user
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(outcome_of(exc).exit_code)
