"""The Iceberg lakehouse: one namespace per sector, one table per dataset and major contract
version (`<dataset>`, then `<dataset>_v2`...), schemas evolved in place, write–audit–publish.

A delivery is written to a staging branch (`stage-<delivery>`), audited there, and published by
moving `main` to the staged snapshot in one catalog commit. A failed audit drops the branch and
leaves `main` exactly as it was.
"""

from __future__ import annotations

import itertools
import random
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    ResolveError,
)
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema, promote
from pyiceberg.table import Table, TableProperties
from pyiceberg.table.update.snapshot import ManageSnapshots
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    LongType,
    NestedField,
    StringType,
    TimestampType,
)
from pyiceberg.utils.properties import property_as_int

from catalog.published import CONTRACT_VERSION, SUPERSEDES, TABLE_VERSION, table_versions
from contracts.diff import semver_key
from contracts.model import ApplyMode, Contract, LogicalType, arrow_schema

ICEBERG_TYPES: dict[LogicalType, IcebergType] = {
    LogicalType.string: StringType(),
    LogicalType.integer: LongType(),
    LogicalType.number: DoubleType(),
    LogicalType.boolean: BooleanType(),
    LogicalType.date: DateType(),
    LogicalType.timestamp: TimestampType(),
}
SUMMARY_PREFIX = "gongyu."
# pyiceberg's SqlCatalog keys every table by catalog name: "default" is the name its documentation
# and most tools start from, so `SqlCatalog("default", uri=…)` from outside sees our tables.
CATALOG_NAME = "default"
STREAM_FILE_BYTES = (
    256 << 20
)  # Arrow bytes in data files being written from a stream: bounds memory
STREAM_WRITERS = 2  # data files written at once (Parquet encoding releases the GIL)
# A branch-only commit lost to a concurrent writer is made again on the new metadata; the bound
# only stops a broken catalog from looping forever.
REF_COMMIT_ATTEMPTS = 50
STALE_SEQUENCE = "Cannot add snapshot with sequence number"


class PublishConflict(RuntimeError):
    """Another writer committed to the table while a delivery was staged or published (`main`
    moved, or the catalog refused a commit made on older metadata); stage again."""


class Staged(BaseModel):
    """A delivery written to its staging branch, not yet visible on `main`."""

    table: str
    branch: str
    snapshot_id: int
    base_snapshot_id: int | None
    base_rows: int
    delivered_rows: int
    mode: ApplyMode


class Audit(BaseModel):
    """What the audit of a staged snapshot found; empty `problems` means publishable."""

    rows: int
    problems: list[str]

    @property
    def passed(self) -> bool:
        """True when nothing is wrong with the staged snapshot."""
        return not self.problems


Auditor = Callable[[Table, Staged], list[str]]
"""An extra audit: returns problems found in the staged snapshot (issue-specific checks)."""


def iceberg_schema(contract: Contract) -> Schema:
    """The Iceberg schema of a contract's published table (all optional: the gate checks nulls)."""
    return Schema(
        *[
            NestedField(i, c.name, ICEBERG_TYPES[c.logical_type], required=False, doc=c.description)
            for i, c in enumerate(contract.published_columns, start=1)
        ]
    )


def tracked_properties(contract: Contract) -> dict[str, str]:
    """Table properties that follow the contract within one table version."""
    return {CONTRACT_VERSION: contract.version, f"{SUMMARY_PREFIX}access": contract.access.value}


def _promotes(stored: IcebergType, wanted: IcebergType) -> bool:
    if stored == wanted:  # `promote` is dispatched on the type and may refuse its own type
        return True
    try:
        promote(stored, wanted)
    except ResolveError:
        return False
    return True


def unpromotable(old: Schema, new: Schema) -> list[tuple[str, IcebergType, IcebergType]]:
    """Columns both schemas hold whose type changed in a way Iceberg cannot promote in place
    (it widens int to long and float to double; not long to double, nor anything to string).
    """
    stored = {f.name: f.field_type for f in old.fields}
    return [
        (f.name, stored[f.name], f.field_type)
        for f in new.fields
        if f.name in stored and not _promotes(stored[f.name], f.field_type)
    ]


def evolve(table: Table, contract: Contract) -> Table:
    """Bring a table's schema and tracked properties to the contract, in one metadata commit.

    Added columns (optional, placed as in the contract) and promoted types are metadata-only:
    no data file is rewritten and older snapshots keep reading with their own schema. A type
    Iceberg cannot promote raises pyiceberg's ValidationError (admission refuses such a change
    without a new major version, i.e. a new table).
    """
    target = iceberg_schema(contract)
    existing = {f.name for f in table.schema().fields}
    stale = {k: v for k, v in tracked_properties(contract).items() if table.properties.get(k) != v}
    with table.transaction() as tx:
        if stale:
            tx.set_properties(stale)
        with tx.update_schema() as update:
            update.union_by_name(target)
            names = [f.name for f in target.fields]
            for i, name in enumerate(names):
                if name in existing:
                    continue
                if i == 0:
                    update.move_first(name)
                else:
                    update.move_after(name, names[i - 1])
    return table


def sql_catalog(
    url: str, warehouse: Path | str, properties: dict[str, str] | None = None
) -> SqlCatalog:
    """The Iceberg SQL catalog on the catalog database (readable by plain pyiceberg).

    `warehouse` is a local folder or a URI (`s3://…`, reached with FileIO `properties`)."""
    if isinstance(warehouse, Path):
        warehouse.mkdir(parents=True, exist_ok=True)
        warehouse = warehouse.resolve().as_uri()
    return SqlCatalog(CATALOG_NAME, uri=url, warehouse=warehouse, **(properties or {}))


def row_count(table: Table, snapshot_id: int | None) -> int:
    """Rows in a snapshot, from manifest metadata (no data files read)."""
    if snapshot_id is None:
        return 0
    return int(table.scan(snapshot_id=snapshot_id).count())


def upserted(table: Table, base: int | None, data: pa.Table, keys: list[str]) -> pa.Table:
    """The table after an upsert: rows of `base` whose key is not delivered, plus `data`.

    One vectorised anti-join, written as a new snapshot of the whole table: pyiceberg's own
    upsert builds a row filter per key and took half a minute for 54k composite keys.
    """
    if base is None or row_count(table, base) == 0:
        return data
    current = table.scan(snapshot_id=base).to_arrow()
    # A base written before the schema evolved lacks the columns added since: they read as null.
    current = pa.table(
        {
            f.name: current[f.name] if f.name in current.column_names else pa.nulls(len(current))
            for f in data.schema
        }
    ).cast(data.schema)
    kept = current.join(data.select(keys), keys=keys, join_type="left anti")
    return pa.concat_tables([kept.select(data.column_names), data])


def stream_write(
    table: Table,
    data: pa.RecordBatchReader,
    schema: pa.Schema,
    props: dict[str, str],
    branch: str,
    *,
    replace: bool,
) -> int:
    """Append a stream to `branch` as one snapshot (after deleting everything when `replace`),
    holding at most `STREAM_FILE_BYTES` of rows being written plus the bin being read; returns
    the rows written.

    pyiceberg 0.12's `append` takes a RecordBatchReader, but hands its file-sized bins to
    `ThreadPoolExecutor.map`, which takes every bin at once: the whole stream in memory. Here
    `STREAM_WRITERS` bins are written at once (one Parquet file each, on its own thread: a file
    is encoded on one core) while the next is read, inside one transaction and one fast append.
    """
    from pyiceberg.io.pyarrow import _dataframe_to_data_files, bin_pack_record_batches

    target = min(
        property_as_int(table.metadata.properties, TableProperties.WRITE_TARGET_FILE_SIZE_BYTES)
        or TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
        STREAM_FILE_BYTES // STREAM_WRITERS,
    )
    counter, rows = itertools.count(0), 0
    batches = (batch.select(schema.names).cast(schema) for batch in data)
    with ThreadPoolExecutor(STREAM_WRITERS) as pool, table.transaction() as tx:
        if replace:
            tx.delete(AlwaysTrue(), snapshot_properties=props, branch=branch)
        update = tx.update_snapshot(snapshot_properties=props, branch=branch)
        with update.fast_append() as append:

            def write(chunk: pa.Table) -> list[DataFile]:
                files = _dataframe_to_data_files(
                    tx.table_metadata, chunk, table.io, append.commit_uuid, counter
                )
                return list(files)

            writing: deque[Future[list[DataFile]]] = deque()
            for part in bin_pack_record_batches(batches, target):
                chunk = pa.Table.from_batches(part, schema=schema)
                rows += chunk.num_rows
                writing.append(pool.submit(write, chunk))
                del chunk, part
                if len(writing) >= STREAM_WRITERS:  # in order: data files keep stream order
                    for data_file in writing.popleft().result():
                        append.append_data_file(data_file)
            while writing:
                for data_file in writing.popleft().result():
                    append.append_data_file(data_file)
    return rows


def main_history(table: Table) -> list[int]:
    """Snapshot ids in `main`'s ancestry, newest first."""
    history, snapshot = [], table.current_snapshot()
    while snapshot is not None:
        history.append(snapshot.snapshot_id)
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return history


class Lakehouse:
    """Stage, audit and publish deliveries into the sector namespaces."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def table(self, contract: Contract) -> Table:
        """The table of the contract's major version: created (with an empty first snapshot)
        on first use, its schema evolved in place when a compatible contract changed it."""
        try:
            table = self.catalog.load_table(contract.table)
        except NoSuchTableError:
            return self._create(contract)
        return evolve(table, contract)

    def _create(self, contract: Contract) -> Table:
        with suppress(NamespaceAlreadyExistsError):
            self.catalog.create_namespace(contract.sector, {"gongyu.sector": contract.sector})
        major = semver_key(contract.version)[0]
        older = [
            v
            for v in table_versions(self.catalog, contract.sector, contract.id)
            if v.version < major
        ]
        table = self.catalog.create_table_if_not_exists(
            contract.table,
            schema=iceberg_schema(contract),
            properties={
                "format-version": "2",
                f"{SUMMARY_PREFIX}dataset": contract.id,
                f"{SUMMARY_PREFIX}agency": contract.agency,
                TABLE_VERSION: str(major),
                **({SUPERSEDES: older[-1].identifier} if older else {}),
                **tracked_properties(contract),
            },
        )
        if table.metadata.current_snapshot_id is None:
            # Branches need a snapshot to start from: an empty one marks the table's creation.
            table.append(
                arrow_schema(contract.published_columns).empty_table(),
                snapshot_properties={f"{SUMMARY_PREFIX}event": "created"},
            )
        return table

    def stage(
        self,
        contract: Contract,
        delivery_id: str,
        data: pa.Table | pa.RecordBatchReader,
        summary: dict[str, str],
        *,
        rows: int | None = None,
    ) -> Staged:
        """Write a delivery to its own branch off the current `main`, in the contract's mode.

        `data` may be a stream (append and replace write it in bounded memory; upsert reads it
        whole). `rows` is how many rows the gate read: the audit expects that many staged.
        """
        table = self.table(contract)
        base = table.metadata.current_snapshot_id
        branch = f"stage-{delivery_id}"
        self._remove_branch(contract.table, branch)  # a crashed earlier attempt: start it over
        create = lambda t: t.manage_snapshots().create_branch(base, branch)  # noqa: E731
        self._commit_refs(contract.table, create)
        table.refresh()
        props = {f"{SUMMARY_PREFIX}{k}": v for k, v in summary.items()}
        props[f"{SUMMARY_PREFIX}delivery"] = delivery_id
        schema = arrow_schema(contract.published_columns)
        if isinstance(data, pa.RecordBatchReader) and contract.apply_mode == ApplyMode.upsert:
            data = data.read_all()  # upserted datasets are small; the anti-join needs them whole
        if isinstance(data, pa.Table):
            data = data.select(schema.names).cast(schema)
            written = data.num_rows
        with warnings.catch_warnings(), _conflicts(contract.table):
            # Replacing an empty table "deletes nothing"; pyiceberg warns, we expect it.
            warnings.filterwarnings("ignore", "Delete operation did not match any records")
            if isinstance(data, pa.RecordBatchReader):
                replace = contract.apply_mode == ApplyMode.replace
                written = stream_write(table, data, schema, props, branch, replace=replace)
            elif contract.apply_mode == ApplyMode.append:
                table.append(data, snapshot_properties=props, branch=branch)
            elif contract.apply_mode == ApplyMode.upsert:
                merged = upserted(table, base, data, contract.primary_key)
                table.overwrite(merged, snapshot_properties=props, branch=branch)
            else:
                table.overwrite(data, snapshot_properties=props, branch=branch)
        table.refresh()
        return Staged(
            table=contract.table,
            branch=branch,
            snapshot_id=table.metadata.refs[branch].snapshot_id,
            base_snapshot_id=base,
            base_rows=row_count(table, base),
            delivered_rows=written if rows is None else rows,
            mode=contract.apply_mode,
        )

    def published(self, contract: Contract, delivery_id: str) -> int | None:
        """The snapshot in `main`'s history that published this delivery, or None.

        A run killed after moving `main` but before recording it leaves the delivery pending:
        the rerun finds its snapshot here instead of appending it a second time, and drops the
        staging branch the killed run left behind.
        """
        try:
            table = self.catalog.load_table(contract.table)
        except NoSuchTableError:
            return None
        key = f"{SUMMARY_PREFIX}delivery"
        found = next(
            (
                snapshot_id
                for snapshot_id in main_history(table)
                if (table.snapshot_by_id(snapshot_id).summary or {}).get(key) == delivery_id  # type: ignore[union-attr]
            ),
            None,
        )
        if found is not None:
            self._remove_branch(contract.table, f"stage-{delivery_id}")
        return found

    def audit(self, staged: Staged, auditors: list[Auditor] = ()) -> Audit:  # type: ignore[assignment]
        """Check the staged snapshot before anyone can see it."""
        table = self.catalog.load_table(staged.table)
        rows = row_count(table, staged.snapshot_id)
        problems = []
        expected = {
            ApplyMode.replace: (staged.delivered_rows, staged.delivered_rows),
            ApplyMode.append: (staged.base_rows + staged.delivered_rows,) * 2,
            ApplyMode.upsert: (staged.base_rows, staged.base_rows + staged.delivered_rows),
        }[staged.mode]
        if not expected[0] <= rows <= expected[1]:
            problems.append(
                f"staged snapshot has {rows:,} rows; a {staged.mode.value} of "
                f"{staged.delivered_rows:,} rows onto {staged.base_rows:,} should give "
                + (
                    f"{expected[0]:,}"
                    if expected[0] == expected[1]
                    else f"{expected[0]:,}–{expected[1]:,}"
                )
            )
        summary = table.snapshot_by_id(staged.snapshot_id).summary  # type: ignore[union-attr]
        if summary.get(f"{SUMMARY_PREFIX}delivery") is None:
            problems.append("staged snapshot does not name its delivery")
        for auditor in auditors:
            problems += auditor(table, staged)
        return Audit(rows=rows, problems=problems)

    def publish(self, staged: Staged) -> int:
        """Move `main` to the staged snapshot in one commit; returns the published snapshot id.

        Raises PublishConflict when `main` moved since staging (the commit is not made).
        """
        table = self.catalog.load_table(staged.table)
        if table.metadata.current_snapshot_id != staged.base_snapshot_id:
            raise PublishConflict(
                f"{staged.table}: main moved from {staged.base_snapshot_id} to "
                f"{table.metadata.current_snapshot_id} while {staged.branch} was staged"
            )
        # The commit asserts `main` is still at the base: a writer in between makes it fail.
        with _conflicts(staged.table):
            table.manage_snapshots().set_current_snapshot(snapshot_id=staged.snapshot_id).commit()
        self.discard(staged)
        return staged.snapshot_id

    def discard(self, staged: Staged) -> None:
        """Drop a staging branch; `main` is not touched."""
        self._remove_branch(staged.table, staged.branch)

    def _remove_branch(self, identifier: str, branch: str) -> None:
        """Drop a branch if it is there (made again when another writer commits first)."""

        def remove(table: Table) -> ManageSnapshots | None:
            refs = table.metadata.refs
            return table.manage_snapshots().remove_branch(branch) if branch in refs else None

        self._commit_refs(identifier, remove)

    def _commit_refs(
        self, identifier: str, build: Callable[[Table], ManageSnapshots | None]
    ) -> None:
        """Commit a change of branch refs built on fresh metadata, again when another writer's
        commit lands first (it touches no data, so making it again is always right)."""
        for attempt in range(REF_COMMIT_ATTEMPTS):
            update = build(self.catalog.load_table(identifier))
            if update is None:
                return
            try:
                update.commit()
                return
            except CommitFailedException:
                if attempt == REF_COMMIT_ATTEMPTS - 1:
                    raise
                # The jitter keeps the same writers from colliding again in lockstep.
                time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))


@contextmanager
def _conflicts(identifier: str) -> Iterator[None]:
    """Report a data or `main` commit refused for a concurrent writer's as PublishConflict."""
    try:
        yield
    except CommitFailedException as error:
        raise PublishConflict(f"{identifier}: {error}; stage again") from error
    except ValueError as error:
        # pyiceberg numbers a new snapshot from the metadata it wrote against; when another
        # writer's snapshot took that number meanwhile, the catalog refuses it this way.
        if not str(error).startswith(STALE_SEQUENCE):
            raise
        raise PublishConflict(f"{identifier}: {error}; stage again") from error
