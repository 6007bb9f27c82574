"""The AI ledger: agencies' AI projects and their history, shared models, and access held by
projects (grants and requests name the project they serve).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gongyu_projects",
        sa.Column("project_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lead", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("lead", "status", "updated_at"):
        op.create_index(f"ix_gongyu_projects_{column}", "gongyu_projects", [column])
    op.create_table(
        "gongyu_project_history",
        sa.Column("project_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(256), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "gongyu_models",
        sa.Column("model_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("access", sa.String(16), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("artifact_key", sa.String(1024), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("trained_on", sa.JSON(), nullable=False),
        sa.Column("project_id", sa.String(128)),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_gongyu_models_agency", "gongyu_models", ["agency"])
    op.create_index("ix_gongyu_models_project_id", "gongyu_models", ["project_id"])
    for table in ("gongyu_grants", "gongyu_access_requests"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("project_id", sa.String(128)))
            batch.create_index(f"ix_{table}_project_id", ["project_id"])


def downgrade() -> None:
    for table in ("gongyu_grants", "gongyu_access_requests"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_project_id")
            batch.drop_column("project_id")
    op.drop_table("gongyu_models")
    op.drop_table("gongyu_project_history")
    op.drop_table("gongyu_projects")
