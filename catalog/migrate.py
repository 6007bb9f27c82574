"""Schema migrations of the platform's tables (Alembic, revisions in `catalog/migrations/`),
applied when a process first connects; no DDL is ever run by hand."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# Dagster keeps its own `alembic_version` when it shares a PostgreSQL database with us.
VERSION_TABLE = "gongyu_alembic_version"
# The revision equal to the tables `create_all` made before migrations were managed.
BASELINE = "0001"
# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises migrating processes.
PG_LOCK = 0x6770_6E67_7975_0001
_migrated: set[str] = set()
_lock = threading.Lock()


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """Only the platform's tables and what is on them: pyiceberg and Dagster keep their own."""
    from catalog.db import metadata  # db imports this module to migrate

    table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table is None or table in metadata.tables


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration that runs the revisions on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None before the first migration."""
    opts = {"version_table": VERSION_TABLE}
    return MigrationContext.configure(connection, opts=opts).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the platform's tables to the newest revision, once per process and database."""
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        if key in _migrated:
            return
        with engine.connect() as conn:
            # One migrating process at a time; the others then find the schema current.
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK})
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            config = alembic_config(conn)
            if current_revision(conn) is None and inspect(conn).has_table("gongyu_deliveries"):
                command.stamp(config, BASELINE)  # a workspace made before migrations existed
            command.upgrade(config, "head")
            conn.commit()
        _migrated.add(key)


def main(argv: list[str]) -> None:
    """`python -m catalog.migrate revision MESSAGE URL`: draft the next revision from the
    difference between a database migrated to head and `catalog/db.py`."""
    from sqlalchemy import create_engine

    if len(argv) != 3 or argv[0] != "revision":
        raise SystemExit("usage: python -m catalog.migrate revision MESSAGE URL")
    engine = create_engine(argv[2])
    upgrade(engine)
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=argv[1], autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1:])
