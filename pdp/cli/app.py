"""The `pdp` command: discovers the command modules of this package and runs them.

Each module of `pdp.cli` other than `app` and `output` defines
`register(app: typer.Typer) -> None`. Commands import heavy libraries lazily,
so `pdp check` starts fast. No traceback reaches a user: errors are printed as
one line and exit non-zero.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import sys

import typer

from pdp.errors import PdpError, outcome_of

SKIP = {"app", "output"}

app = typer.Typer(
    name="pdp",
    help="Policy decision point for customer-information confidentiality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
