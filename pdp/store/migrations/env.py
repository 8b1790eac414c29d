"""Alembic's environment for the policy store: runs on the connection `pdp db upgrade` gives."""

from __future__ import annotations

from alembic import context

from pdp.store.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
