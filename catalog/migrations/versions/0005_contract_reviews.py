"""Contracts submitted through the product, with their review state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gongyu_contract_reviews",
        sa.Column("dataset_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("follows", sa.String(64)),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(256), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(256)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("state", "sector", "agency", "updated_at"):
        op.create_index(f"ix_gongyu_contract_reviews_{column}", "gongyu_contract_reviews", [column])


def downgrade() -> None:
    op.drop_table("gongyu_contract_reviews")
