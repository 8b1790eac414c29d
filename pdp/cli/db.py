"""`pdp db upgrade --db URL`: create or upgrade the policy store's tables (Alembic)."""

from __future__ import annotations

from typing import Annotated

import typer

from pdp.cli.output import EXIT_INVALID, fail

db_app = typer.Typer(name="db", help="The policy store's database schema.", no_args_is_help=True)

DbUrl = Annotated[
    str,
    typer.Option("--db", envvar="PDP_DB", help="Policy store URL (postgresql://...; env PDP_DB)."),
]


@db_app.command()
def upgrade(db: DbUrl) -> None:
    """Create the store's tables, or upgrade them to the newest revision."""
    from pdp.errors import PdpError
    from pdp.secrets import redact_url
    from pdp.store.db import upgrade as run_upgrade

    try:
        revision = run_upgrade(db)
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    typer.echo(f"ok: {redact_url(db)} is at revision {revision}")


def register(app: typer.Typer) -> None:
    """Add the `db` command group to the CLI."""
    app.add_typer(db_app, name="db")
