"""A dataset's history for the catalog: contract versions and their diffs, the gate's outcome per
delivery, the snapshots of `main`, a joint product's builds, and lineage from deliveries (and a
product's inputs) to tables to readers and the products built on it.

Read from the ledger, the contract history, the gate's results and the Iceberg tables; what
never changes (a diff between two recorded texts, a finished delivery's counts) is cached.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError
from sqlalchemy import Engine, select

from catalog.contract_versions import ContractVersion, ContractVersions
from catalog.db import deliveries
from catalog.deliveries import PENDING, Deliveries, Delivery, DeliveryState
from catalog.entries import (
    ContractVersionEntry,
    DatasetSummary,
    InputSnapshot,
    Lineage,
    LineageEdge,
    LineageNode,
    ProductBuild,
    ProductInput,
    QualityPoint,
    SnapshotEntry,
    Usage,
)
from catalog.lakehouse import SUMMARY_PREFIX
from catalog.published import TableVersion, publications, table_versions
from contracts.diff import diff_contracts, semver_key
from contracts.model import Contract
from contracts.product_sql import dataset_of
from gongyu.ground.storage import Storage

QUALITY_POINTS = 100  # newest deliveries in the quality chart
BUILDS = 100  # newest builds in a product's refresh history
SNAPSHOTS = 100  # newest published snapshots listed per table version
LINEAGE_DELIVERIES = 20  # newest deliveries drawn in the lineage graph


def utc(moment: datetime) -> datetime:
    """A ledger time as aware UTC (SQLite hands back naive datetimes; the ledger writes UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def recent_deliveries(
    engine: Engine, state: DeliveryState, limit: int, hidden: Iterable[str] = ()
) -> list[Delivery]:
    """The newest deliveries that ended in `state`, except those of `hidden` datasets."""
    query = (
        select(deliveries)
        .where(deliveries.c.state == state.value)
        .order_by(deliveries.c.updated_at.desc())
        .limit(limit)
    )
    if hidden := sorted(hidden):
        query = query.where(deliveries.c.dataset_id.not_in(hidden))
    with engine.connect() as conn:
        return [Delivery.model_validate(r._mapping) for r in conn.execute(query)]


class History:
    """Builds the history parts of a dataset page; one per platform (it holds the caches)."""

    def __init__(
        self,
        ledger: Deliveries,
        results: Storage,
        versions: ContractVersions,
        catalog: Catalog,
    ) -> None:
        self.ledger = ledger
        self.results = results
        self.versions = versions
        self.catalog = catalog
        self._diffs: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._counts: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def contract_versions(self, dataset_id: str) -> list[ContractVersionEntry]:
        """Every recorded version, oldest first, with its changes from the one before."""
        history = self.versions.history(dataset_id)
        entries = []
        for previous, recorded in zip([None, *history], history, strict=False):
            entries.append(
                ContractVersionEntry(
                    version=recorded.version,
                    recorded_at=utc(recorded.recorded_at),
                    table_version=recorded.table_version,
                    iceberg_table=recorded.iceberg_table,
                    changes=self._changes(previous, recorded) if previous else [],
                )
            )
        return entries

    def _changes(self, old: ContractVersion, new: ContractVersion) -> list[dict[str, str]]:
        key = (old.sha256, new.sha256)
        with self._lock:
            if key in self._diffs:
                return self._diffs[key]
        diff = diff_contracts(self.versions.contract(old), self.versions.contract(new))
        changes = [c.model_dump() for c in diff.changes]
        with self._lock:
            self._diffs[key] = changes
        return changes

    def quality(self, dataset_id: str) -> list[QualityPoint]:
        """The gate's outcome for each of the newest deliveries, oldest first."""
        return [
            QualityPoint(
                delivery_id=d.delivery_id,
                at=utc(d.updated_at),
                state=d.state.value,
                rows=d.rows,
                contract_version=d.contract_version,
                reasons=d.reasons,
                **self._check_counts(d),
            )
            for d in self.ledger.list(dataset_id)[-QUALITY_POINTS:]
        ]

    def _check_counts(self, delivery: Delivery) -> dict[str, int]:
        """Passed, failed and warning checks from the delivery's report (none while pending)."""
        if delivery.state in PENDING:
            return {}
        with self._lock:
            if delivery.delivery_id in self._counts:
                return self._counts[delivery.delivery_id]
        key = f"{delivery.dataset_id}/{delivery.delivery_id}/report.json"
        try:
            counts = json.loads(self.results.read_text(key) or "")["counts"]
        except (OSError, ValueError, KeyError):
            return {}  # a report not written (the run broke): the ledger's state still tells
        found = {k: int(counts.get(k, 0)) for k in ("passed", "failed", "warnings")}
        with self._lock:
            self._counts[delivery.delivery_id] = found
        return found

    def builds(self, dataset_id: str) -> list[ProductBuild]:
        """A product's newest builds, newest first: each with the input snapshots it read (from
        the ledger, which records them with the build) and the snapshot it published."""
        found = []
        for d in reversed(self.ledger.list(dataset_id)[-BUILDS:]):
            read = [
                InputSnapshot(id=dataset_of(table.split(".", 1)[-1]), table=table, snapshot_id=s)
                for table, s in (d.inputs or {}).items()
            ]
            published = d.snapshot_id if d.state == DeliveryState.published else None
            found.append(
                ProductBuild(
                    delivery_id=d.delivery_id,
                    at=utc(d.received_at),
                    finished_at=utc(d.updated_at),
                    state=d.state.value,
                    rows=d.rows,
                    inputs=read,
                    snapshot_id=int(published) if published else None,
                    contract_version=d.contract_version,
                    reasons=d.reasons,
                )
            )
        return found

    def tables(self, contract: Contract) -> list[TableVersion]:
        """The dataset's Iceberg tables, oldest first (none before its first publication)."""
        try:
            return table_versions(self.catalog, contract.sector, contract.id)
        except NoSuchNamespaceError:  # nothing of its sector published yet
            return []

    def snapshots(self, tables: list[TableVersion]) -> list[SnapshotEntry]:
        """The published snapshots of `main` of every table version, newest first."""
        found = []
        for version in tables:
            if version.snapshot_id is None:
                continue
            table = self.catalog.load_table(version.identifier)
            # A replace's first (empty) snapshot names its delivery too: only publications count.
            published = {s.snapshot_id for _, s in publications(table)}
            snapshot = table.snapshot_by_id(version.snapshot_id)
            listed = 0
            while snapshot is not None and listed < SNAPSHOTS:
                summary = snapshot.summary
                delivery = summary.get(f"{SUMMARY_PREFIX}delivery") if summary else None
                if summary and delivery and snapshot.snapshot_id in published:
                    total = summary.get("total-records")
                    withheld = summary.get(f"{SUMMARY_PREFIX}rows-withheld")
                    found.append(
                        SnapshotEntry(
                            snapshot_id=snapshot.snapshot_id,
                            table=version.identifier,
                            at=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
                            rows=int(total) if total is not None else None,
                            rows_withheld=int(withheld) if withheld is not None else None,
                            delivery_id=delivery,
                            contract_version=summary.get(f"{SUMMARY_PREFIX}contract-version"),
                            current=version.current and snapshot.snapshot_id == version.snapshot_id,
                        )
                    )
                    listed += 1
                parent = snapshot.parent_snapshot_id
                snapshot = table.snapshot_by_id(parent) if parent is not None else None
        return sorted(found, key=lambda s: s.at, reverse=True)

    def lineage(
        self,
        dataset_id: str,
        tables: list[TableVersion],
        readers: list[Usage],
        agency_names: Mapping[str, str],
        inputs: Sequence[ProductInput] = (),
        used_by: Sequence[DatasetSummary] = (),
    ) -> Lineage:
        """Deliveries (and a product's `inputs`) → the table versions they were published to →
        agencies that read it and the products (`used_by`) built on it."""
        nodes = [
            LineageNode(id=f"table:{t.identifier}", kind="table", label=t.identifier)
            for t in tables
        ]
        edges = [
            LineageEdge(
                source=f"table:{t.supersedes}", target=f"table:{t.identifier}", label="supersedes"
            )
            for t in tables
            if t.supersedes
        ]
        by_major = {t.version: t.identifier for t in tables}
        for d in self.ledger.list(dataset_id)[-LINEAGE_DELIVERIES:]:
            node = f"delivery:{d.delivery_id}"
            nodes.append(
                LineageNode(id=node, kind="delivery", label=f"{d.delivery_id} ({d.state.value})")
            )
            target = by_major.get(semver_key(d.contract_version)[0]) if d.contract_version else None
            if d.state == DeliveryState.published and target:
                edges.append(
                    LineageEdge(
                        source=node, target=f"table:{target}", label=f"snapshot {d.snapshot_id}"
                    )
                )
        current = next((t.identifier for t in tables if t.current), None)
        for source in inputs:
            node = f"input:{source.id}"
            nodes.append(LineageNode(id=node, kind="input", label=source.title or source.table))
            if current:
                edges.append(LineageEdge(source=node, target=f"table:{current}", label="input"))
        for product in used_by if current else []:
            node = f"product:{product.id}"
            nodes.append(LineageNode(id=node, kind="product", label=product.title))
            edges.append(LineageEdge(source=f"table:{current}", target=node, label="input of"))
        for reader in readers if current else []:
            label = agency_names.get(reader.agency, reader.agency)
            nodes.append(LineageNode(id=f"reader:{reader.agency}", kind="reader", label=label))
            edges.append(
                LineageEdge(
                    source=f"table:{current}",
                    target=f"reader:{reader.agency}",
                    label=f"{reader.queries} queries",
                )
            )
        return Lineage(nodes=nodes, edges=edges)
