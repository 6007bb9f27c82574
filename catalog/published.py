"""Published tables for the rest of the code: Arrow or DuckDB relations, now or `as_of` the past."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import duckdb
import pyarrow as pa
from pydantic import BaseModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

AsOf = int | datetime | None
"""A snapshot id, a point in time, or None for the current `main`."""

# Table properties a table version carries (written by `catalog.lakehouse`).
TABLE_VERSION = "gongyu.table-version"
SUPERSEDES = "gongyu.supersedes"
CONTRACT_VERSION = "gongyu.contract-version"


class TableVersion(BaseModel):
    """One Iceberg table of a dataset: a contract's major version starts a new one."""

    identifier: str
    version: int
    contract_version: str | None = Field(description="The contract its schema last followed.")
    supersedes: str | None = None
    superseded_by: str | None = None
    snapshot_id: int | None = Field(description="The snapshot `main` serves (None: empty).")

    @property
    def current(self) -> bool:
        """True for the newest table version, the one new deliveries go to."""
        return self.superseded_by is None


def table_versions(catalog: Catalog, sector: str, dataset_id: str) -> list[TableVersion]:
    """A dataset's table versions, oldest first: `<dataset>` (major 1) and `<dataset>_v<N>`.

    Every one stays readable with `read_arrow` or `relation`.
    """
    name = re.compile(rf"{re.escape(dataset_id)}(?:_v(\d+))?")
    found = []
    for identifier in catalog.list_tables(sector):
        if match := name.fullmatch(identifier[-1]):
            table = catalog.load_table(identifier)
            props = table.properties
            found.append(
                TableVersion(
                    identifier=".".join(identifier),
                    version=int(match.group(1) or 1),
                    contract_version=props.get(CONTRACT_VERSION),
                    supersedes=props.get(SUPERSEDES),
                    snapshot_id=table.metadata.current_snapshot_id,
                )
            )
    found.sort(key=lambda v: v.version)
    for older, newer in itertools.pairwise(found):
        older.superseded_by = newer.identifier
    return found


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
