"""Connecting to the policy store: a small pool, bounded connect and statement times; upgrades.

Every connection carries a statement timeout, so a slow database makes a
command fail or a replica's refresh give up, never hang; decisions never wait
on the store at all (a replica decides with the version it holds).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pdp.errors import StorageError

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 5000
MIGRATIONS = Path(__file__).parent / "migrations"


def store_url(url: str) -> str:
    """A `postgresql://` URL made to use psycopg 3 (raises `StorageError` for anything else)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError("the policy store url is not a database url") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise StorageError("the policy store needs a postgresql:// url")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def store_engine(
    url: str,
    *,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    connect_timeout_s: int = CONNECT_TIMEOUT_S,
    pool_size: int = 2,
) -> Engine:
    """An engine on the store with a bounded pool and connect/statement timeouts."""
    return create_engine(
        store_url(url),
        pool_size=pool_size,
        max_overflow=2,
        pool_timeout=connect_timeout_s,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms}",
            "application_name": "pdp",
        },
    )


def upgrade(url: str) -> str:
    """Create or upgrade the store's tables to the newest revision; return that revision."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    from pdp.store.schema import VERSION_TABLE

    engine = store_engine(url, statement_timeout_ms=60_000)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision() or ""
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot upgrade the policy store: {type(exc).__name__}") from None
    finally:
        engine.dispose()
