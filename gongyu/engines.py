"""What engines outside the policy point may read: the `public` tables, where their metadata is,
and how to attach the same catalog and warehouse (pyiceberg properties, DuckDB extension files)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg
from pyiceberg.exceptions import NoSuchTableError
from sqlalchemy.engine import make_url

from contracts.model import AccessLevel
from gongyu.platform import Platform


@dataclass(frozen=True)
class PublicTable:
    """A published `public` table as an outside engine finds it."""

    dataset_id: str
    table: str
    metadata_location: str
    snapshot_id: int | None

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able fields."""
        return asdict(self)


def public_tables(platform: Platform) -> list[PublicTable]:
    """Every published table whose contract's access level is `public`, sorted by identifier.

    Other levels are masked or filtered per caller by the SQL API, so they are never listed."""
    catalog = platform.lakehouse.catalog
    found = []
    for contract in platform.contracts.values():
        if contract.access != AccessLevel.public:
            continue
        try:
            table = catalog.load_table(contract.table)
        except NoSuchTableError:
            continue  # never published yet
        snapshot = table.current_snapshot()
        found.append(
            PublicTable(
                dataset_id=contract.id,
                table=contract.table,
                metadata_location=table.metadata_location,
                snapshot_id=snapshot.snapshot_id if snapshot else None,
            )
        )
    return sorted(found, key=lambda t: t.table)


def catalog_properties(platform: Platform) -> dict[str, str]:
    """pyiceberg `SqlCatalog("default", **properties)` arguments reaching the same tables."""
    store = platform.store
    return {
        "uri": platform.workspace.catalog_url,
        "warehouse": store.warehouse,
        **store.iceberg_properties,
    }


def duckdb_extension(name: str) -> Path:
    """A DuckDB extension file shipped by its pip package (`iceberg`, `avro`): LOADed, never
    INSTALLed, so air-gapped hosts work. Load `avro` before `iceberg`."""
    module = {"iceberg": duckdb_extension_iceberg, "avro": duckdb_extension_avro}[name]
    root = Path(module.__file__ or "").parent
    found = sorted(root.rglob(f"v{duckdb.__version__}/*.duckdb_extension"))
    if not found:
        raise RuntimeError(f"no {name} extension for DuckDB {duckdb.__version__} in {root}")
    return found[0]


def jdbc_url(database_url: str) -> str:
    """The JDBC URL of a PostgreSQL catalog database, for Trino's and Spark's JDBC catalogs
    (credentials left out: each engine gets its own read-only role)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("outside engines attach the catalog on PostgreSQL only")
    return f"jdbc:postgresql://{url.host}:{url.port or 5432}/{url.database}"
