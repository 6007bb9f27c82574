"""Access requests and the notices about them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gongyu_access_requests",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("owner_agency", sa.String(64), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("requester_agency", sa.String(64), nullable=False),
        sa.Column("requester_subject", sa.String(256), nullable=False),
        sa.Column("requester_role", sa.String(16), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(32), nullable=False),
        sa.Column("legal_basis_detail", sa.Text()),
        sa.Column("columns", sa.JSON()),
        sa.Column("row_filter", sa.Text()),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("grant_id", sa.String(32)),
        sa.Column("renewal_of", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("dataset_id", "owner_agency", "sector", "requester_agency", "state"):
        op.create_index(f"ix_gongyu_access_requests_{column}", "gongyu_access_requests", [column])
    op.create_table(
        "gongyu_notices",
        sa.Column("notice_id", sa.String(32), primary_key=True),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32)),
        sa.Column("grant_id", sa.String(32)),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("other_agency", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed_at", sa.DateTime(timezone=True)),
    )
    for column in ("agency", "request_id", "grant_id", "created_at"):
        op.create_index(f"ix_gongyu_notices_{column}", "gongyu_notices", [column])


def downgrade() -> None:
    op.drop_table("gongyu_notices")
    op.drop_table("gongyu_access_requests")
