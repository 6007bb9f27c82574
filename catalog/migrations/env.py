"""Alembic environment: migrates the platform's tables on a connection handed in by
`catalog.migrate`; Iceberg's and Dagster's tables in the same database are not ours."""

from __future__ import annotations

from alembic import context

from catalog.db import metadata
from catalog.migrate import VERSION_TABLE, include_object

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_object=include_object,
    # SQLite alters tables by copying them; batch mode does that for later revisions.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
