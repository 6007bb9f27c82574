"""A caller's DuckDB: only their policy views, no file or network access, locked limits.

Each view reads a published snapshot's Parquet files directly (`read_parquet`, so queries run
at DuckDB's own speed) with the caller's masks and row filter; a warehouse in a bucket is read
through the packaged httpfs extension and a secret scoped to the warehouse, both set up first.
The database then loses every way out: `enable_external_access` off with only those data files
allowed, no further extension loading, no Python replacement scans, no spilling to disk, and
`lock_configuration` so no statement can undo it. Databases are cached per agency and rebuilt
when a table or the agency's grants change; each query runs on its own cursor with a time limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.table import Table
from sqlalchemy import text

from api.policy import TablePolicy, table_policy
from api.principal import Principal, Role
from api.running import Execution, Limits, run_on_cursor
from api.sqlcheck import CATALOG
from catalog.grants import Grant, korean_today
from catalog.lakehouse import SUMMARY_PREFIX
from catalog.published import AsOf, snapshot_at
from gongyu.platform import Platform

CACHED_SANDBOXES = 32


_DUCKDB_TYPES = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.float32(): "FLOAT",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
}


def duckdb_type(t: pa.DataType) -> str:
    """The DuckDB type a masked column keeps, so clients still see its real type."""
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    return _DUCKDB_TYPES.get(t, "VARCHAR")


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Snapshot:
    """A table's snapshot as a view reads it: its data files and the columns they hold."""

    files: tuple[str, ...]
    present: frozenset[str]


class DataFiles:
    """Data files per (table, snapshot), cached: snapshots and their files never change."""

    def __init__(self, duckdb_path: Callable[[str], str]) -> None:
        self.duckdb_path = duckdb_path
        self._cache: dict[tuple[str, int], Snapshot] = {}
        self._columns: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def of(self, table: Table, snapshot_id: int) -> Snapshot:
        """The files of one snapshot and the union of their columns."""
        key = (".".join(table.name()), snapshot_id)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        tasks = list(table.scan(snapshot_id=snapshot_id).plan_files())
        if any(task.delete_files for task in tasks):
            # Gongyu writes copy-on-write; row-level deletes come from other engines only.
            raise RuntimeError(f"{key[0]}: snapshot {snapshot_id} has row-level deletes")
        present: set[str] = set()
        for location in (t.file.file_path for t in tasks):
            if location not in self._columns:
                # Through the table's FileIO: a local file or an object in the bucket.
                with table.io.new_input(location).open() as f:
                    self._columns[location] = frozenset(pq.read_schema(f).names)
            present |= self._columns[location]
        files = tuple(self.duckdb_path(t.file.file_path) for t in tasks)
        found = Snapshot(files=files, present=frozenset(present))
        with self._lock:
            self._cache[key] = found
        return found


def view_sql(name: str, schema: pa.Schema, policy: TablePolicy, snap: Snapshot | None) -> str:
    """The CREATE VIEW of one policy view: masked columns NULL, the row filter applied."""
    select = []
    for column in schema:
        if column.name not in {c.name for c in policy.columns}:
            continue  # a column of an older table version the contract no longer has
        if policy.masked(column.name) or snap is None or column.name not in snap.present:
            select.append(f"CAST(NULL AS {duckdb_type(column.type)}) AS {quote(column.name)}")
        else:
            select.append(quote(column.name))
    columns = ", ".join(select)
    if snap is None or not snap.files:
        return f"CREATE VIEW {name} AS SELECT {columns} WHERE false"
    files = ", ".join(literal(f) for f in snap.files)
    where = f" WHERE {policy.row_filter}" if policy.row_filter else ""
    source = f"read_parquet([{files}], union_by_name = true)"
    return f"CREATE VIEW {name} AS SELECT {columns} FROM {source}{where}"


@dataclass
class Sandbox:
    """One locked DuckDB database of policy views."""

    con: duckdb.DuckDBPyConnection
    views: dict[tuple[str, str], TablePolicy]
    limits: Limits
    created: float = field(default_factory=time.monotonic)

    @property
    def allowed(self) -> set[tuple[str, str]]:
        """(schema, table) of every view the caller may query."""
        return set(self.views)

    def execute(self, sql: str) -> Execution:
        """Start `sql` on a cursor of its own; the stream is cancelled past the time limit."""
        cursor = self.con.cursor()
        cursor.execute(f"USE {CATALOG}")  # a cursor starts in DuckDB's own `memory` database
        return run_on_cursor(cursor, sql, self.limits)


def _connect(limits: Limits) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(
        config={
            "threads": limits.threads,
            "memory_limit": limits.memory,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "python_enable_replacements": False,
            "temp_directory": "",
        }
    )


def _lock_down(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    # Order matters: the allow-list must be set while external access is still on.
    con.execute("SET allowed_paths = $1", [files])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


class Sandboxes:
    """The policy sandboxes of one platform, cached per agency and catalog state."""

    def __init__(self, platform: Platform, limits: Limits) -> None:
        self.platform = platform
        self.limits = limits
        self.files = DataFiles(platform.store.duckdb_path)
        self._cache: OrderedDict[tuple, Sandbox] = OrderedDict()
        self._lock = threading.Lock()

    def _catalog_state(self) -> tuple[tuple[str, str, str], ...]:
        """Every table and its metadata file: changes with each commit (one small query)."""
        engine = self.platform.lakehouse.catalog.engine
        query = text(
            "SELECT table_namespace, table_name, metadata_location FROM iceberg_tables "
            "WHERE catalog_name = :c ORDER BY 1, 2"
        )
        with engine.connect() as conn:
            rows = conn.execute(query, {"c": self.platform.lakehouse.catalog.name}).all()
        return tuple((r[0], r[1], r[2]) for r in rows)

    def _grants(self, principal: Principal, today: date) -> dict[str, list[Grant]]:
        """The agency's grants working today, by dataset (operators act on none)."""
        by_dataset: dict[str, list[Grant]] = {}
        if principal.role == Role.operator:
            return by_dataset
        for grant in self.platform.grants.list(agency=principal.agency, today=today):
            by_dataset.setdefault(grant.dataset_id, []).append(grant)
        return by_dataset

    def for_principal(self, principal: Principal, as_of: AsOf = None) -> Sandbox:
        """The caller's sandbox: cached for current data, built afresh for `as_of`."""
        today = korean_today()
        grants = self._grants(principal, today)
        state = self._catalog_state()
        if as_of is not None:
            return self._build(principal, grants, state, as_of)
        key = (
            principal.agency,
            principal.role == Role.operator,
            state,
            tuple(sorted((g.grant_id, g.expires) for gs in grants.values() for g in gs)),
            today,
        )
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        sandbox = self._build(principal, grants, state, None)
        with self._lock:
            # One live sandbox per caller class: one built before a publish, a grant change or
            # midnight is never asked for again, and would hold its memory until evicted.
            for stale in [k for k in self._cache if k[:2] == key[:2]]:
                del self._cache[stale]
            self._cache[key] = sandbox
            while len(self._cache) > CACHED_SANDBOXES:
                # Not closed here: a query may still stream from it; its cursors keep the
                # database alive until they finish, then it goes with the last reference.
                self._cache.popitem(last=False)
        return sandbox

    def _build(
        self, principal: Principal, grants: dict[str, list[Grant]], state: tuple, as_of: AsOf
    ) -> Sandbox:
        platform = self.platform
        catalog = platform.lakehouse.catalog
        con = _connect(self.limits)
        platform.store.attach_duckdb(con)  # reach the warehouse before the lock-down
        con.execute(f"ATTACH ':memory:' AS {CATALOG}")
        con.execute(f"USE {CATALOG}")
        views: dict[tuple[str, str], TablePolicy] = {}
        files: list[str] = []
        for namespace, name, _ in state:
            table = catalog.load_table((namespace, name))
            contract = platform.contracts.get(table.properties.get(f"{SUMMARY_PREFIX}dataset", ""))
            if contract is None:
                continue
            policy = table_policy(
                principal, contract, platform.registry, grants.get(contract.id, [])
            )
            if policy is None:
                continue
            snap = self._snapshot(table, as_of)
            if snap is False:
                continue  # the table did not exist at `as_of`
            if namespace not in {s for s, _ in views}:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(namespace)}")
            schema = schema_to_pyarrow(table.schema(), include_field_ids=False)
            con.execute(view_sql(f"{quote(namespace)}.{quote(name)}", schema, policy, snap or None))
            views[(namespace.lower(), name.lower())] = policy
            if snap:
                files += snap.files
        _lock_down(con, files)
        return Sandbox(con=con, views=views, limits=self.limits)

    def _snapshot(self, table: Table, as_of: AsOf) -> Snapshot | bool | None:
        """The snapshot to read (None: empty table; False: the table is absent at `as_of`)."""
        target: AsOf = as_of
        if isinstance(as_of, int) and table.snapshot_by_id(as_of) is None:
            target = None  # a snapshot id names one table; the others are read as they are now
        try:
            snapshot = snapshot_at(table, target)
        except (LookupError, ValueError):
            return False
        if snapshot is None:
            return False if target is not None else None
        return self.files.of(table, snapshot.snapshot_id)
