"""Published tables for the rest of the code: Arrow or DuckDB relations, now or `as_of` the past."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

AsOf = int | datetime | None
"""A snapshot id, a point in time, or None for the current `main`."""


def snapshot_at(table: Table, as_of: AsOf) -> Snapshot | None:
    """The snapshot of `main` to read: current, by id, or the one current at a time."""
    if as_of is None:
        return table.current_snapshot()
    if isinstance(as_of, datetime):
        return table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000))
    snapshot = table.snapshot_by_id(as_of)
    if snapshot is None:
        raise LookupError(f"{table.name()}: no snapshot {as_of}")
    return snapshot


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
