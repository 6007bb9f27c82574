"""Published tables' versions and snapshots: which table holds a dataset's major version, and
which snapshot a query `as_of` the past reads."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

AsOf = int | datetime | None
"""A snapshot id, a point in time, or None for the current `main`."""
Pins = dict[str, int]
"""The snapshot to read of each table, by `<sector>.<table>` (a product build's inputs)."""

# Table properties a table version carries (written by `catalog.lakehouse`).
TABLE_VERSION = "gongyu.table-version"
SUPERSEDES = "gongyu.supersedes"
CONTRACT_VERSION = "gongyu.contract-version"
# The snapshot summary property naming the delivery it was written for (`catalog.lakehouse`).
DELIVERY = "gongyu.delivery"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def delivery_of(snapshot: Snapshot) -> str | None:
    """The delivery a snapshot was written for (None: none's, e.g. the table's creation)."""
    return snapshot.summary.get(DELIVERY) if snapshot.summary else None


def publications(table: Table) -> list[tuple[int, Snapshot]]:
    """Each publication on `main`, oldest first: when (ms since the epoch) `main` moved to the
    snapshot a delivery published, and that snapshot.

    From the snapshot log (each move of `main`, at the time it moved), less every snapshot no
    delivery published: the empty one marking the table's creation, and a delivery's
    intermediate ones. A replace or upsert writes two snapshots, one deleting every row and one
    adding the delivered rows, and only the last a delivery wrote is its publication. Gongyu
    moves `main` once, to that last one; a writer committing such a pair to `main` directly logs
    the empty one as well, so the log alone is not trusted with it.
    """
    by_id = {s.snapshot_id: s for s in table.metadata.snapshots}
    # Snapshots another snapshot of the same delivery builds on: not the delivery's last.
    continued = {
        s.parent_snapshot_id
        for s in by_id.values()
        if s.parent_snapshot_id in by_id
        and delivery_of(s) is not None
        and delivery_of(by_id[s.parent_snapshot_id]) == delivery_of(s)
    }
    return [
        (entry.timestamp_ms, snapshot)
        for entry in table.metadata.snapshot_log
        if (snapshot := by_id.get(entry.snapshot_id)) is not None  # None: expired
        and delivery_of(snapshot) is not None
        and snapshot.snapshot_id not in continued
    ]


def published_at(table: Table, moment: datetime) -> Snapshot | None:
    """The latest publication at or before `moment` (None: nothing was published by then)."""
    # Whole milliseconds, exactly: float seconds can land a log entry's own time a ms early.
    at = (moment.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)
    return next((s for ms, s in reversed(publications(table)) if ms <= at), None)


def snapshot_at(table: Table, as_of: AsOf) -> Snapshot | None:
    """The snapshot of `main` to read: current, by id, or the publication current at a time
    (never a replace's empty intermediate snapshot; None before the first publication)."""
    if as_of is None:
        return table.current_snapshot()
    if isinstance(as_of, datetime):
        return published_at(table, as_of)
    snapshot = table.snapshot_by_id(as_of)
    if snapshot is None:
        raise LookupError(f"{table.name()}: no snapshot {as_of}")
    return snapshot
