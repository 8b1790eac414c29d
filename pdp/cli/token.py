"""`pdp token new` and `pdp token hash`: make bearer tokens and the hashes the config stores."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pdp.cli.output import fail

token_app = typer.Typer(
    help="Make service tokens and their config hashes.", no_args_is_help=True, rich_markup_mode=None
)


@token_app.command("new")
def new(
    name: Annotated[str, typer.Option(help="The caller's name, logged with its decisions.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", metavar="SCOPE", help="decide, explain, review or admin (repeat)."),
    ],
) -> None:
    """Print a fresh token (give it to the caller) and its config entry (keep it in the config)."""
    from pdp.service.auth import hash_token, new_token
    from pdp.service.config import SCOPES

    for s in scope:
        if s not in SCOPES:
            fail(f"unknown scope `{s}` (use {', '.join(SCOPES)})", 2)
    token = new_token()
    typer.echo(f"token: {token}", err=True)
    typer.echo(f"- name: {name}\n  sha256: {hash_token(token)}\n  scopes: [{', '.join(scope)}]")


@token_app.command("hash")
def hash_(
    token: Annotated[str | None, typer.Argument(help="The token (default: read stdin).")] = None,
) -> None:
    """Print the sha256 hex of a token, for the `tokens` list of the config file."""
    from pdp.service.auth import hash_token

    value = token if token is not None else sys.stdin.readline().strip()
    if not value:
        fail("no token given", 2)
    typer.echo(hash_token(value))


def register(app: typer.Typer) -> None:
    """Add the `token` command group to the CLI."""
    app.add_typer(token_app, name="token")
