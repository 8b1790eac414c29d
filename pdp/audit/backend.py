"""Opening the backend a decision-log url names: SQLite or PostgreSQL."""

from __future__ import annotations

from pdp.audit.store import SqlStore, parse_log_url


def open_store(url: str, *, create: bool) -> SqlStore:
    """Open the log at `url`; `create` makes it if missing. Raises `StorageError`."""
    target = parse_log_url(url)
    if target.backend == "sqlite":
        from pdp.audit.sqlite import SqliteStore

        return SqliteStore(target, create=create)
    from pdp.audit.postgres import PostgresStore

    return PostgresStore(target, create=create)
