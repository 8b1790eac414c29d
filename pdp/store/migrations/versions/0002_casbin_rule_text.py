"""casbin_rule values as TEXT: a version-2 condition does not fit in 255 characters.

A version-2 policy line carries its grant's `eval()` condition (requirements,
window, consent) in a value column; on the reference policy such a condition
runs to several hundred characters, which VARCHAR(255) refused.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")


def upgrade() -> None:
    """Widen every value column of casbin_rule to TEXT."""
    with op.batch_alter_table("casbin_rule") as batch:
        for name in COLUMNS:
            batch.alter_column(name, type_=sa.Text, existing_type=sa.String(255))


def downgrade() -> None:
    """Back to VARCHAR(255) (fails while a stored line is longer)."""
    with op.batch_alter_table("casbin_rule") as batch:
        for name in COLUMNS:
            batch.alter_column(name, type_=sa.String(255), existing_type=sa.Text)
