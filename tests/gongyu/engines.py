"""Shared by the engine tests: read a Gongyu table from another process, and Gongyu's own read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gongyu.engines import PublicTable, catalog_properties, duckdb_extension
from gongyu.ground.s3 import httpfs_extension
from gongyu.platform import Platform
from tests.published import read_arrow

READER = Path(__file__).with_name("external_reader.py")


def read_outside(platform: Platform, table: PublicTable) -> dict[str, list[str]]:
    """Rows of `table` per outside engine (DuckDB, pyiceberg, polars), from a separate process."""
    settings = platform.settings
    extensions = [str(duckdb_extension("avro")), str(duckdb_extension("iceberg"))]
    s3 = storage = None
    if settings.s3_endpoint and settings.s3_secret_key:
        extensions.insert(0, str(httpfs_extension()))
        s3 = {
            "KEY_ID": settings.s3_access_key or "",
            "SECRET": settings.s3_secret_key.get_secret_value(),
            "ENDPOINT": settings.s3_endpoint,
            "REGION": settings.s3_region,
            "URL_STYLE": "path",
        }
        # polars reads data files with its own object store, not pyiceberg's FileIO.
        scheme = "https" if settings.s3_secure else "http"
        storage = {
            "aws_endpoint_url": f"{scheme}://{settings.s3_endpoint}",
            "aws_access_key_id": s3["KEY_ID"],
            "aws_secret_access_key": s3["SECRET"],
            "aws_region": settings.s3_region,
            "aws_allow_http": str(not settings.s3_secure).lower(),
            "aws_virtual_hosted_style_request": "false",
        }
    args = {
        "table": table.table,
        "metadata_location": table.metadata_location,
        "catalog": catalog_properties(platform),
        "extensions": extensions,
        "s3": s3,
        "storage_options": storage,
    }
    done = subprocess.run(
        [sys.executable, str(READER), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def read_inside(platform: Platform, table: str) -> list[str]:
    """Gongyu's own read of the table, canonical as the reader prints it."""
    rows = read_arrow(platform.lakehouse.catalog, table).to_pylist()
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
