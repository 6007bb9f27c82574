"""The platform tables as `catalog/db.py` declared them when migrations began (the baseline).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gongyu_api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "gongyu_audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("datasets", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("bytes_out", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(
        op.f("ix_gongyu_audit_log_agency"), "gongyu_audit_log", ["agency"], unique=False
    )
    op.create_index(op.f("ix_gongyu_audit_log_at"), "gongyu_audit_log", ["at"], unique=False)

    op.create_table(
        "gongyu_contract_versions",
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("table_version", sa.Integer(), nullable=False),
        sa.Column("iceberg_table", sa.String(length=256), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "version"),
    )
    op.create_table(
        "gongyu_deliveries",
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("sector", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=512), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("landing_key", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("snapshot_id", sa.String(length=32), nullable=True),
        sa.Column("contract_version", sa.String(length=32), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
        sa.UniqueConstraint("dataset_id", "content_hash", name="uq_delivery_content"),
    )
    op.create_index(
        op.f("ix_gongyu_deliveries_dataset_id"), "gongyu_deliveries", ["dataset_id"], unique=False
    )
    op.create_index(
        op.f("ix_gongyu_deliveries_state"), "gongyu_deliveries", ["state"], unique=False
    )

    op.create_table(
        "gongyu_grants",
        sa.Column("grant_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.Column("row_filter", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    op.create_index(op.f("ix_gongyu_grants_agency"), "gongyu_grants", ["agency"], unique=False)
    op.create_index(
        op.f("ix_gongyu_grants_dataset_id"), "gongyu_grants", ["dataset_id"], unique=False
    )

    op.create_table(
        "gongyu_sessions",
        sa.Column("session_sha256", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_sha256"),
    )
    op.create_index(
        op.f("ix_gongyu_sessions_expires_at"), "gongyu_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gongyu_sessions_expires_at"), table_name="gongyu_sessions")

    op.drop_table("gongyu_sessions")
    op.drop_index(op.f("ix_gongyu_grants_dataset_id"), table_name="gongyu_grants")
    op.drop_index(op.f("ix_gongyu_grants_agency"), table_name="gongyu_grants")

    op.drop_table("gongyu_grants")
    op.drop_index(op.f("ix_gongyu_deliveries_state"), table_name="gongyu_deliveries")
    op.drop_index(op.f("ix_gongyu_deliveries_dataset_id"), table_name="gongyu_deliveries")

    op.drop_table("gongyu_deliveries")
    op.drop_table("gongyu_contract_versions")
    op.drop_index(op.f("ix_gongyu_audit_log_at"), table_name="gongyu_audit_log")
    op.drop_index(op.f("ix_gongyu_audit_log_agency"), table_name="gongyu_audit_log")

    op.drop_table("gongyu_audit_log")
    op.drop_table("gongyu_api_keys")
