"""Published tables' versions and snapshots: which table holds a dataset's major version, and
which snapshot a query `as_of` the past reads."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

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
    """A dataset's table versions, oldest first: `<dataset>` (major 1) and `<dataset>_v<N>`;
    every one stays readable."""
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
