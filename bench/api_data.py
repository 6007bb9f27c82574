"""The API benchmark's data: a generated accident table published as a `public` dataset, and
the same rows in SQLite for Datasette; both cached per row count in `bench/.work/`.

Rows are generated with NumPy from a fixed seed (accident-like: 17 시·도, counts, a time,
coordinates) and written through `Lakehouse.stage/audit/publish` in 1M-row Arrow batches: the
gate's reading and checking are the gate benchmark's business, not this one's.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from bench import REPO, WORK

DATASET = "bench_accidents"
SMALL_DATASET = "bench_accidents_small"
SECTOR, AGENCY = "welfare_safety", "koroad"
TABLE = f"{SECTOR}.{DATASET}"
SMALL_TABLE = f"{SECTOR}.{SMALL_DATASET}"
SMALL_ROWS = 10_000  # a lookup-sized table: the point query's own time stays small
SQLITE_TABLE = "accidents"
DATA_VERSION = 2  # bump when the generator or the contract changes: the cache is rebuilt
BATCH_ROWS = 1_000_000
SEED = 20_240_501

# 시·도: (name, centroid lon, centroid lat, share of accidents, roughly by population)
SIDO = (
    ("서울특별시", 126.98, 37.56, 0.180),
    ("부산광역시", 129.07, 35.18, 0.065),
    ("대구광역시", 128.60, 35.87, 0.055),
    ("인천광역시", 126.70, 37.46, 0.050),
    ("광주광역시", 126.85, 35.16, 0.035),
    ("대전광역시", 127.38, 36.35, 0.030),
    ("울산광역시", 129.31, 35.54, 0.020),
    ("세종특별자치시", 127.29, 36.48, 0.005),
    ("경기도", 127.20, 37.40, 0.240),
    ("강원특별자치도", 128.30, 37.75, 0.030),
    ("충청북도", 127.70, 36.80, 0.035),
    ("충청남도", 126.80, 36.50, 0.045),
    ("전북특별자치도", 127.10, 35.72, 0.035),
    ("전라남도", 126.90, 34.85, 0.035),
    ("경상북도", 128.75, 36.25, 0.050),
    ("경상남도", 128.25, 35.30, 0.060),
    ("제주특별자치도", 126.55, 33.38, 0.015),
)
ACCIDENT_TYPES = (("차대사람", 0.20), ("차대차", 0.72), ("차량단독", 0.08))
DEATHS_P = (0.985, 0.013, 0.0018, 0.0002)  # 0, 1, 2, 3 deaths
START = np.datetime64("2015-01-01T00:00", "m")
MINUTES = 10 * 365 * 24 * 60  # ten years of accident times, to the minute

# (name, logical type, description)
COLUMNS = (
    ("id", "integer", "사고 번호 (1부터 연속)"),
    ("occurred_at", "timestamp", "발생 일시 (분 단위)"),
    ("sido", "string", "발생 시·도"),
    ("accident_type", "string", "사고 유형"),
    ("deaths", "integer", "사망자 수"),
    ("injured", "integer", "부상자 수"),
    ("lon", "number", "경도 (WGS84)"),
    ("lat", "number", "위도 (WGS84)"),
)


@dataclass(frozen=True)
class Published:
    """A benchmark workspace: its folders, the published data files of both tables, rows."""

    root: Path
    workspace: Path
    contracts: Path
    files: tuple[str, ...]
    small_files: tuple[str, ...]
    rows: int


def contract_doc(dataset: str) -> dict[str, Any]:
    """A KoROAD contract for the generated rows: public, replace, no identifiers."""
    properties = [
        {
            "name": name,
            "logicalType": logical,
            "description": text,
            "required": True,
            **({"primaryKey": True} if name == "id" else {}),
            "customProperties": [{"property": "classification", "value": "none"}],
        }
        for name, logical, text in COLUMNS
    ]
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": dataset,
        "name": "교통사고 (벤치마크용 생성 자료)",
        "version": "1.0.0",
        "status": "active",
        "description": {"purpose": "Generated accident-like rows for the API benchmark."},
        "customProperties": [
            {"property": "sector", "value": SECTOR},
            {"property": "agency", "value": AGENCY},
            {"property": "accessLevel", "value": "public"},
            {"property": "applyMode", "value": "replace"},
        ],
        "schema": [{"name": dataset, "physicalType": "file", "properties": properties}],
    }


def contracts_dir() -> Path:
    """The shipped contracts plus the two benchmark tables' (rewritten each run: deterministic)."""
    root = WORK / "api-contracts"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "contracts", root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for dataset in (DATASET, SMALL_DATASET):
        doc = yaml.safe_dump(contract_doc(dataset), allow_unicode=True)
        (root / SECTOR / AGENCY / f"{dataset}.yaml").write_text(doc, encoding="utf-8")
    return root


def batches(rows: int, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """`rows` accident rows in batches of `BATCH_ROWS`; batch i depends only on (SEED, i)."""
    names = pa.array([s[0] for s in SIDO])
    lon0 = np.array([s[1] for s in SIDO])
    lat0 = np.array([s[2] for s in SIDO])
    share = np.array([s[3] for s in SIDO])
    types = pa.array([t[0] for t in ACCIDENT_TYPES])
    type_p = np.array([t[1] for t in ACCIDENT_TYPES])
    for i, first in enumerate(range(0, rows, BATCH_ROWS)):
        n = min(BATCH_ROWS, rows - first)
        rng = np.random.default_rng([SEED, i])
        sido = rng.choice(len(SIDO), size=n, p=share / share.sum())
        minutes = rng.integers(0, MINUTES, size=n)
        columns = {
            "id": np.arange(first + 1, first + n + 1, dtype=np.int64),
            "occurred_at": (START + minutes.astype("timedelta64[m]")).astype("datetime64[us]"),
            "sido": names.take(pa.array(sido)),
            "accident_type": types.take(pa.array(rng.choice(len(types), size=n, p=type_p))),
            "deaths": rng.choice(len(DEATHS_P), size=n, p=DEATHS_P).astype(np.int64),
            "injured": rng.poisson(1.4, size=n).astype(np.int64),
            "lon": np.round(lon0[sido] + rng.normal(0, 0.08, size=n), 6),
            "lat": np.round(lat0[sido] + rng.normal(0, 0.06, size=n), 6),
        }
        yield pa.record_batch([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


def _publish(platform: Any, dataset: str, rows: int) -> tuple[str, ...]:
    """Generate `rows` rows into the dataset's table on `main`; its data files."""
    from contracts.model import arrow_schema

    contract = platform.contract(dataset)
    schema = arrow_schema(contract.published_columns)
    reader = pa.RecordBatchReader.from_batches(schema, batches(rows, schema))
    lakehouse = platform.lakehouse
    staged = lakehouse.stage(contract, f"bench-{rows}", reader, {"source": "bench.api_data"})
    audit = lakehouse.audit(staged)
    if not audit.passed:
        raise RuntimeError(f"audit of the generated table failed: {audit.problems}")
    snapshot_id = lakehouse.publish(staged)
    table = lakehouse.catalog.load_table(contract.table)
    tasks = table.scan(snapshot_id=snapshot_id).plan_files()
    return tuple(t.file.file_path.removeprefix("file://") for t in tasks)


def published(rows: int) -> Published:
    """The workspace with `rows` generated rows published, and `SMALL_ROWS` in the small
    table (built once per rows)."""
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

    root = WORK / f"api-{rows}"
    contracts = contracts_dir()
    marker = root / "published.json"
    if marker.exists():
        found = json.loads(marker.read_text())
        files, small = tuple(found.get("files", ())), tuple(found.get("small_files", ()))
        if found.get("version") == DATA_VERSION and all(Path(f).exists() for f in files + small):
            return Published(root, root / "ws", contracts, files, small, rows)
    shutil.rmtree(root, ignore_errors=True)
    platform = Platform(Settings(home=root / "ws", contracts_dir=contracts))
    files = _publish(platform, DATASET, rows)
    small = _publish(platform, SMALL_DATASET, SMALL_ROWS)
    found = {"version": DATA_VERSION, "files": files, "small_files": small}
    marker.write_text(json.dumps(found))
    return Published(root, root / "ws", contracts, files, small, rows)


def sqlite_file(data: Published) -> Path:
    """The published rows as one SQLite table (times as ISO text), for Datasette (cached)."""
    path = data.root / f"{SQLITE_TABLE}.db"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    types = {"integer": "INTEGER", "number": "REAL", "string": "TEXT", "timestamp": "TEXT"}
    cols = ", ".join(
        f"{n} {types[t]}" + (" PRIMARY KEY" if n == "id" else "") for n, t, _ in COLUMNS
    )
    con.execute(f"CREATE TABLE {SQLITE_TABLE} ({cols})")
    insert = f"INSERT INTO {SQLITE_TABLE} VALUES ({', '.join('?' * len(COLUMNS))})"
    for file in data.files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=200_000):
            # SQLite has no timestamp type: ISO text sorts and groups like the time it names.
            when = batch.column("occurred_at").cast(pa.timestamp("s")).cast(pa.string())
            batch = batch.set_column(
                batch.schema.get_field_index("occurred_at"), "occurred_at", when
            )
            names = [n for n, _, _ in COLUMNS]
            con.executemany(insert, zip(*(batch.column(n).to_pylist() for n in names), strict=True))
    con.commit()
    con.close()
    tmp.rename(path)
    return path
