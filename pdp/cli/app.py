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

SKIP = {"app", "output"}
SETTINGS = {"help_option_names": ["-h", "--help"]}

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


def main() -> None:
    """Run the CLI; turn any escaped error into a one-line message and its exit code.

    The cyclic garbage collector is off for the run (`pdp.core.gcpause`
    explains why): a command is one batch job whose heap is mostly a policy
    that lives until exit, and reference counting still frees everything that
    is not in a cycle. `pdp serve`, the one long-lived command, turns it back on.
    """
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
