"""Run as its own process: read one Iceberg table with DuckDB's Iceberg extension, pyiceberg and
polars, knowing only the catalog properties and metadata location (no Gongyu import).

Argument: a JSON object with `table`, `metadata_location`, `catalog` (SqlCatalog properties),
`extensions` (DuckDB extension files to LOAD, in order), `s3` (None, or DuckDB secret fields) and
`storage_options` (polars' object-store options; None for local files).
Prints `{engine: [row as canonical JSON, ...] sorted}`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog


def canonical(table: pa.Table) -> list[str]:
    """Rows as sorted canonical JSON, so engines' row orders and string types do not matter."""
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def with_duckdb(args: dict[str, Any]) -> pa.Table:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    for extension in args["extensions"]:
        con.execute(f"LOAD {quoted(extension)}")
    if s3 := args["s3"]:
        options = ", ".join(f"{k} {quoted(v)}" for k, v in s3.items())
        con.execute(f"CREATE SECRET external (TYPE s3, {options}, USE_SSL false)")
    location = args["metadata_location"].removeprefix("file://")
    return con.execute(f"SELECT * FROM iceberg_scan({quoted(location)})").fetch_arrow_table()


def main() -> None:
    args = json.loads(sys.argv[1])
    table = SqlCatalog("default", **args["catalog"]).load_table(args["table"])
    out = {
        "duckdb": canonical(with_duckdb(args)),
        "pyiceberg": canonical(table.scan().to_arrow()),
        "polars": canonical(
            pl.scan_iceberg(table, storage_options=args["storage_options"]).collect().to_arrow()
        ),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
