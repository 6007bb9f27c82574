"""A joint product's delivery records the input snapshots its query read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gongyu_deliveries") as batch:
        batch.add_column(sa.Column("inputs", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("gongyu_deliveries") as batch:
        batch.drop_column("inputs")
