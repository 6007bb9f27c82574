"""Reads of published tables, for tests checking what landed (the platform reads through the
SQL API's sandbox, never these)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog

from catalog.published import AsOf, snapshot_at


def read_arrow(
    catalog: Catalog, identifier: str, as_of: AsOf = None, columns: list[str] | None = None
) -> pa.Table:
    """A published table (or some columns) as an Arrow table."""
    table = catalog.load_table(identifier)
    snapshot = snapshot_at(table, as_of)
    if snapshot is None:
        return table.schema().as_arrow().empty_table()
    fields = tuple(columns) if columns else ("*",)
    return table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=fields).to_arrow()


def relation(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, identifier: str, as_of: AsOf = None
) -> duckdb.DuckDBPyRelation:
    """A published table as a DuckDB relation on `con`, streamed from its data files."""
    table = catalog.load_table(identifier)
    snapshot = snapshot_at(table, as_of)
    if snapshot is None:
        return con.from_arrow(table.schema().as_arrow().empty_table())
    return con.from_arrow(table.scan(snapshot_id=snapshot.snapshot_id).to_arrow_batch_reader())
