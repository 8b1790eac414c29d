"""The tables of the policy store (SQLAlchemy Core), created and upgraded by Alembic.

- `pdp_policy_versions`: immutable versions — the source files, their
  manifest, the content-hash version, author, time, message and parent.
- `pdp_policy_events`: the hash-chained history — every push, proposal,
  approval and rollback, with who did it and when (`pdp.audit.chain`'s
  scheme: `hash = sha256("{seq}:{prev_hash}:{body}")`).
- `pdp_policy_active`: one row naming the active version; locked by every
  change, so concurrent changes serialise.
- `casbin_rule`: the active version's Casbin rules, in the schema of Casbin's
  SQL adapters (`casbin-sqlalchemy-adapter`, gorm-adapter, JDBC adapter).
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

VERSION_TABLE = "pdp_store_alembic_version"
"""Alembic's revision table of the store (named apart from any other Alembic user's)."""

metadata = MetaData()

versions = Table(
    "pdp_policy_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(80), nullable=False, index=True),
    Column("parent_id", Integer, nullable=True),
    Column("author", String(200), nullable=False),
    Column("created", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(20), nullable=False),  # proposed, approved
    Column("manifest", Text, nullable=False),  # JSON: [{name, sha256, size}]
    Column("sources", Text, nullable=False),  # JSON: [[name, text], ...]
)

events = Table(
    "pdp_policy_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON of the event
)

active = Table(
    "pdp_policy_active",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version_id", Integer, nullable=True),
    Column("event_seq", Integer, nullable=False),
)

casbin_rule = Table(
    "casbin_rule",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ptype", String(255)),
    # TEXT (migration 0002): a version-2 line carries its grant's condition.
    *(Column(name, Text) for name in ("v0", "v1", "v2", "v3", "v4", "v5")),
)
