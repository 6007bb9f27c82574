"""A caller's DuckDB: only their policy views, locked, and no file the caller may not read whole.

Each policy view reads one published snapshot, in one of two ways:
- a table the caller reads whole (every column its files hold is visible to them, no row
  filter) reads its local Parquet files directly (`read_parquet`, DuckDB's own speed): the
  files hold nothing the caller may not see;
- any other table (masked columns, a grant's row filter, or a warehouse in a bucket) reads an
  Arrow dataset that holds only the visible columns and applies the row filter itself
  (`catalog.access.row_filter`): DuckDB gets rows that already passed the policy, through a Python
  object registered on the query's own cursor, never a path or a credential.
The database then loses every way out: `enable_external_access` off with only the first kind's
files allowed, no extension loading, no Python replacement scans, no spilling to disk, and
`lock_configuration` so no statement can undo it. Whatever a statement names — a path from a
view's SQL, a registered source, a catalog function — it can reach no row or column the policy
hides. A view that cannot be built (a grant's filter no longer fits the table) denies that one
dataset, with the reason, and leaves the rest of the caller's sandbox working. Databases are
cached per agency and rebuilt when a table, the agency's grants or the contracts change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.table import Table
from sqlalchemy import text

from catalog.access.grants import Grant, korean_today
from catalog.access.policy import TablePolicy, table_policy
from catalog.access.principal import Principal, Role
from catalog.access.row_filter import RowFilterError, arrow_filter, check_row_filter
from catalog.access.statements import CATALOG
from catalog.lakehouse import SUMMARY_PREFIX
from catalog.published import AsOf, Pins, snapshot_at
from gongyu.platform import Platform
from gongyu.query.running import Execution, Limits, run_on_cursor

log = logging.getLogger(__name__)

CACHED_SANDBOXES = 32
# Built once: it is read on every query, and building a statement costs more than running it.
_CATALOG_STATE = text(
    "SELECT table_namespace, table_name, metadata_location FROM iceberg_tables "
    "WHERE catalog_name = :c ORDER BY 1, 2"
)


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

    locations: tuple[str, ...]
    present: frozenset[str]


class DataFiles:
    """Data files per (table, snapshot), cached: snapshots and their files never change."""

    def __init__(self) -> None:
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
        found = Snapshot(
            locations=tuple(t.file.file_path for t in tasks), present=frozenset(present)
        )
        with self._lock:
            self._cache[key] = found
        return found


@dataclass(frozen=True)
class Source:
    """What a policy view reads: local files the caller may read whole, or a registered Arrow
    dataset that holds only what the policy lets through (None of both: an empty table)."""

    files: tuple[str, ...] = ()
    dataset: ds.Dataset | None = None


def policy_dataset(
    table: Table, snap: Snapshot, visible: list[pa.Field], policy: TablePolicy
) -> ds.Dataset:
    """The snapshot's files as an Arrow dataset of the visible columns, filtered by the policy's
    row filters; RowFilterError when a filter no longer fits the table."""
    for f in policy.row_filters:
        check_row_filter(f, table.schema(), [v.name for v in visible])
    io = table.io
    paths, filesystem = [], None
    for location in snap.locations:
        scheme, netloc, path = io.parse_location(location, io.properties)
        filesystem = io.fs_by_scheme(scheme, netloc)
        paths.append(path)
    dataset = ds.dataset(paths, schema=pa.schema(visible), format="parquet", filesystem=filesystem)
    if policy.row_filters:
        dataset = dataset.filter(arrow_filter(policy.row_filters, table.schema()))
    return dataset


def policy_view(
    name: str, table: Table, policy: TablePolicy, snap: Snapshot | None, source_name: str
) -> tuple[str, Source]:
    """The CREATE VIEW of one policy view (masked columns NULL, of their type) and its source;
    an Arrow source is read under `source_name`."""
    schema = schema_to_pyarrow(table.schema(), include_field_ids=False)
    contract_columns = {c.name for c in policy.columns}
    # A column of an older table version the contract no longer has is not part of the view.
    fields = [f for f in schema if f.name in contract_columns]
    visible = [f for f in fields if not policy.masked(f.name)]
    empty = snap is None or not snap.locations
    select = ", ".join(
        quote(f.name)
        if f in visible and not empty
        else f"CAST(NULL AS {duckdb_type(f.type)}) AS {quote(f.name)}"
        for f in fields
    )
    if snap is None or empty:
        return f"CREATE VIEW {name} AS SELECT {select} WHERE false", Source()
    parsed = [table.io.parse_location(loc) for loc in snap.locations]
    local = all(scheme == "file" for scheme, _, _ in parsed)
    if local and not policy.filtered and snap.present <= {f.name for f in visible}:
        files = tuple(path for _, _, path in parsed)
        body = "read_parquet([" + ", ".join(literal(f) for f in files) + "], union_by_name = true)"
        return f"CREATE VIEW {name} AS SELECT {select} FROM {body}", Source(files=files)
    dataset = policy_dataset(table, snap, visible, policy)
    view = f"CREATE VIEW {name} AS SELECT {select} FROM {quote(source_name)}"
    return view, Source(dataset=dataset)


@dataclass(frozen=True)
class Denied:
    """A dataset the caller may read whose view could not be built, and why."""

    dataset_id: str
    reason: str


@dataclass
class Sandbox:
    """One locked DuckDB database of policy views."""

    con: duckdb.DuckDBPyConnection
    views: dict[tuple[str, str], TablePolicy]
    limits: Limits
    sources: dict[tuple[str, str], tuple[str, ds.Dataset]] = field(default_factory=dict)
    denied: dict[tuple[str, str], Denied] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)

    @property
    def allowed(self) -> set[tuple[str, str]]:
        """(schema, table) of every view the caller may query."""
        return set(self.views)

    def execute(self, sql: str, tables: Iterable[tuple[str, str]] | None = None) -> Execution:
        """Start `sql` on a cursor of its own (with the Arrow sources of `tables`, or of every
        view, registered on it); the stream is cancelled past the time limit."""
        cursor = self.con.cursor()
        for key in self.sources if tables is None else tables:
            if key in self.sources:
                # Registered objects belong to one connection: each cursor gets its own.
                cursor.register(*self.sources[key])
        # A cursor starts in DuckDB's own `memory` database. `USE` goes with the query, in one
        # call on the query's thread: a call of its own here cost a round trip through the GIL.
        # `sql` is one statement (checked and written anew by sqlglot, or built here).
        return run_on_cursor(cursor, f"USE {CATALOG}; {sql}", self.limits)


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
        self.files = DataFiles()
        self._cache: OrderedDict[tuple, Sandbox] = OrderedDict()
        self._lock = threading.Lock()

    def _catalog_state(self) -> tuple[tuple[str, str, str], ...]:
        """Every table and its metadata file: changes with each commit (one small query)."""
        engine = self.platform.lakehouse.catalog.engine
        with engine.connect() as conn:
            rows = conn.execute(_CATALOG_STATE, {"c": self.platform.lakehouse.catalog.name}).all()
        return tuple((r[0], r[1], r[2]) for r in rows)

    def _grants(self, principal: Principal, today: date) -> dict[str, list[Grant]]:
        """The agency's grants working today, by dataset (operators act on none)."""
        by_dataset: dict[str, list[Grant]] = {}
        if principal.role == Role.operator:
            return by_dataset
        for grant in self.platform.grants.list(agency=principal.agency, today=today):
            by_dataset.setdefault(grant.dataset_id, []).append(grant)
        return by_dataset

    def for_principal(self, principal: Principal, as_of: AsOf | Pins = None) -> Sandbox:
        """The caller's sandbox: cached for current data, built afresh for `as_of` (a moment, a
        snapshot id, or pinned snapshots per table)."""
        today = korean_today()
        contracts = self.platform.contracts_version()  # a tightened contract applies at once
        grants = self._grants(principal, today)
        state = self._catalog_state()
        if as_of is not None:
            return self._build(principal, grants, state, as_of)
        key = (
            principal.agency,
            principal.role == Role.operator,
            contracts,
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
        self,
        principal: Principal,
        grants: dict[str, list[Grant]],
        state: tuple,
        as_of: AsOf | Pins,
    ) -> Sandbox:
        platform = self.platform
        catalog = platform.lakehouse.catalog
        contracts = platform.contracts
        con = _connect(self.limits)
        con.execute(f"ATTACH ':memory:' AS {CATALOG}")
        con.execute(f"USE {CATALOG}")
        sandbox = Sandbox(con=con, views={}, limits=self.limits)
        files: list[str] = []
        for namespace, name, _ in state:
            if isinstance(as_of, dict) and f"{namespace}.{name}" not in as_of:
                continue  # pinned reads (a product's build) see only the tables pinned
            table = catalog.load_table((namespace, name))
            contract = contracts.get(table.properties.get(f"{SUMMARY_PREFIX}dataset", ""))
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
            key = (namespace.lower(), name.lower())
            source_name = f"policy_source_{len(sandbox.sources) + 1}"
            view = f"{quote(namespace)}.{quote(name)}"
            try:
                sql, source = policy_view(view, table, policy, snap or None, source_name)
            except RowFilterError as exc:
                reason = f"{contract.id}: grant {', '.join(policy.grants)}: {exc}"
                log.warning("view not built for %s: %s", principal.agency, reason)
                sandbox.denied[key] = Denied(dataset_id=contract.id, reason=str(exc))
                continue
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(namespace)}")
            if source.dataset is not None:
                # Registered here only so the view binds; each query's cursor registers anew.
                con.register(source_name, source.dataset)
                sandbox.sources[key] = (source_name, source.dataset)
            con.execute(sql)
            sandbox.views[key] = policy
            files += source.files
        _lock_down(con, files)
        return sandbox

    def _snapshot(self, table: Table, as_of: AsOf | Pins) -> Snapshot | bool | None:
        """The snapshot to read (None: empty table; False: the table is absent at `as_of`)."""
        target: AsOf = as_of.get(".".join(table.name())) if isinstance(as_of, dict) else as_of
        if isinstance(as_of, int) and table.snapshot_by_id(as_of) is None:
            target = None  # a snapshot id names one table; the others are read as they are now
        try:
            snapshot = snapshot_at(table, target)
        except (LookupError, ValueError):
            return False
        if snapshot is None:
            return False if target is not None else None
        return self.files.of(table, snapshot.snapshot_id)
