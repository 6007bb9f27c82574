"""Managed migrations: the migrated schema is exactly `catalog/db.py`, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from catalog.db import connect, metadata
from catalog.lakehouse import sql_catalog
from catalog.migrate import VERSION_TABLE, current_revision, include_object


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
    metadata.create_all(create_engine(url))  # what `connect()` did before Alembic
    assert schema_diff(url) == []
