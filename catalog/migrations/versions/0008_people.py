"""People and service accounts: each API key belongs to one (with scopes and an expiry), each
session and audit record names the person acting; password, TOTP and recovery codes for
sign-in without an identity provider, and the sign-in steps in flight.

Every key made before people existed becomes a service account of its agency.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    people = op.create_table(
        "gongyu_people",
        sa.Column("person_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agency", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("login", sa.String(128), unique=True),
        sa.Column("roles", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(256)),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("totp_enrolled_at", sa.DateTime(timezone=True)),
        sa.Column("totp_last_step", sa.BigInteger()),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("oidc_issuer", sa.String(512)),
        sa.Column("oidc_subject", sa.String(256)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_gongyu_people_oidc"),
    )
    op.create_index("ix_gongyu_people_agency", "gongyu_people", ["agency"])
    op.create_table(
        "gongyu_recovery_codes",
        sa.Column("code_sha256", sa.String(64), primary_key=True),
        sa.Column("person_id", sa.String(64), nullable=False, index=True),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "gongyu_signin_challenges",
        sa.Column("challenge_sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(64)),
        sa.Column("next_path", sa.Text()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    with op.batch_alter_table("gongyu_api_keys") as batch:
        batch.add_column(sa.Column("person_id", sa.String(64)))
        batch.add_column(sa.Column("scopes", sa.String(64)))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_gongyu_api_keys_person_id", ["person_id"])
    with op.batch_alter_table("gongyu_sessions") as batch:
        batch.add_column(sa.Column("person_id", sa.String(64)))
        batch.add_column(sa.Column("roles", sa.String(128)))
        batch.add_column(sa.Column("mfa_pending", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("gongyu_audit_log") as batch:
        batch.add_column(sa.Column("person", sa.String(256)))
        batch.add_column(sa.Column("client", sa.String(16)))
        batch.create_index("ix_gongyu_audit_log_person", ["person"])

    # Each key made before people existed is a service account of its agency from now on.
    keys = sa.table(
        "gongyu_api_keys",
        sa.column("key_id", sa.String),
        sa.column("agency", sa.String),
        sa.column("role", sa.String),
        sa.column("name", sa.String),
        sa.column("person_id", sa.String),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    for key in bind.execute(sa.select(keys)).all():
        person_id = f"svc-{key.key_id}"
        bind.execute(
            people.insert().values(
                person_id=person_id,
                kind="service",
                agency=key.agency,
                name=key.name or f"service account {key.key_id}",
                roles=key.role,
                failures=0,
                created_by="migration 0008",
                created_at=now,
            )
        )
        bind.execute(keys.update().where(keys.c.key_id == key.key_id).values(person_id=person_id))


def downgrade() -> None:
    with op.batch_alter_table("gongyu_audit_log") as batch:
        batch.drop_index("ix_gongyu_audit_log_person")
        batch.drop_column("client")
        batch.drop_column("person")
    with op.batch_alter_table("gongyu_sessions") as batch:
        for column in ("mfa_pending", "roles", "person_id"):
            batch.drop_column(column)
    with op.batch_alter_table("gongyu_api_keys") as batch:
        batch.drop_index("ix_gongyu_api_keys_person_id")
        for column in ("expires_at", "scopes", "person_id"):
            batch.drop_column(column)
    op.drop_table("gongyu_signin_challenges")
    op.drop_table("gongyu_recovery_codes")
    op.drop_table("gongyu_people")
