"""Managed migrations: the migrated schema is exactly `catalog/db.py`, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from catalog.db import connect, metadata
from catalog.deliveries import Deliveries
from catalog.lakehouse import sql_catalog
from catalog.migrate import (
    BASELINE,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    include_object,
)
from gongyu.ground.storage import FolderStorage


def schema_diff(url: str) -> list[Any]:
    """Alembic's autogenerate diff between the migrated database and the metadata."""
    engine = connect(url)
    opts = {"version_table": VERSION_TABLE, "include_object": include_object}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
        revision = current_revision(conn)
    engine.dispose()
    assert revision is not None
    return diff


def test_migrated_sqlite_schema_equals_the_metadata(tmp_path: Path) -> None:
    assert schema_diff(f"sqlite:///{tmp_path}/catalog.db") == []


def test_migrated_postgres_schema_equals_the_metadata(postgres_url: str, tmp_path: Path) -> None:
    # pyiceberg's tables share the database; they are its own, not a difference.
    sql_catalog(postgres_url, tmp_path / "warehouse")
    assert schema_diff(postgres_url) == []
    tables = set(inspect(create_engine(postgres_url)).get_table_names())
    assert {*metadata.tables, VERSION_TABLE, "iceberg_tables"} <= tables


def test_a_workspace_made_before_migrations_is_stamped_not_recreated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    with create_engine(url).begin() as conn:
        # The tables as `create_all` made them before Alembic: the baseline, unversioned.
        command.upgrade(alembic_config(conn), BASELINE)
        conn.exec_driver_sql(f"DROP TABLE {VERSION_TABLE}")
        # A delivery its worker left `validating` back then.
        conn.exec_driver_sql(
            "INSERT INTO gongyu_deliveries (delivery_id, dataset_id, sector, agency, filename, "
            "content_hash, size_bytes, landing_key, state, reasons, received_at, updated_at) "
            "VALUES ('old', 'd', 's', 'a', 'f.csv', 'h', 1, 'a/d/old/f.csv', 'validating', '[]', "
            "'2026-11-01 00:00:00', '2026-11-01 00:00:00')"
        )
    assert schema_diff(url) == []
    ledger = Deliveries(connect(url), FolderStorage(tmp_path / "landing"), 1)
    [old] = ledger.pending()  # no lease was ever taken on it: it is picked up again
    assert (old.delivery_id, old.attempts, old.lease_until) == ("old", 0, None)
