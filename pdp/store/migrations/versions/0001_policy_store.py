"""The policy store: versions, the hash-chained events, the active row, casbin_rule.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the store's tables and the empty active row."""
    op.create_table(
        "pdp_policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(80), nullable=False, index=True),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
    )
    op.create_table(
        "pdp_policy_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    active = op.create_table(
        "pdp_policy_active",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version_id", sa.Integer, nullable=True),
        sa.Column("event_seq", sa.Integer, nullable=False),
    )
    op.bulk_insert(active, [{"id": 1, "version_id": None, "event_seq": 0}])
    op.create_table(
        "casbin_rule",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(
            sa.Column(name, sa.String(255))
            for name in ("ptype", "v0", "v1", "v2", "v3", "v4", "v5")
        ),
    )


def downgrade() -> None:
    """Drop the store's tables."""
    for name in ("casbin_rule", "pdp_policy_active", "pdp_policy_events", "pdp_policy_versions"):
        op.drop_table(name)
