"""Audit records that complete an opened request: `completes` names the opening record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing records complete nothing: NULL, which the chain leaves out of their hash.
    with op.batch_alter_table("gongyu_audit_log") as batch:
        batch.add_column(sa.Column("completes", sa.Integer(), nullable=True))
        batch.create_index("ix_gongyu_audit_log_completes", ["completes"])


def downgrade() -> None:
    with op.batch_alter_table("gongyu_audit_log") as batch:
        batch.drop_index("ix_gongyu_audit_log_completes")
        batch.drop_column("completes")
