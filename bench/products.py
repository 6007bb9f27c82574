"""Joint-product benchmark: re-materialising a product over two 1M-row inputs of two agencies,
against the same SQL run directly by DuckDB on the same Parquet files.

    ./dev bench products [--rows 1000000] [--repeat 3]

Inputs (generated from a fixed seed, published through `Lakehouse.stage/audit/publish`, cached
per rows in `bench/.work/products-<rows>/`): KoROAD-like accidents (day, 시·도, deaths) and
police-like detections (day, 시·도, blood alcohol), `--rows` each, ten years × 17 시·도. The
product (the welfare secretariat's, public) joins their counts per day and 시·도: about 62,000
rows.

Measured in this process, best of `--repeat` after one warm-up of each side:

1. **DuckDB**: the product's SQL on a fresh in-memory DuckDB whose `<sector>.<table>` views read
   the inputs' published Parquet files (`read_parquet`), materialised as a Parquet file
   (`COPY (…) TO … (FORMAT parquet)`: a product is a stored table), the baseline; and the same
   query fetched as one Arrow table, for reference;
2. **Gongyu, build and gate** (`gongyu.products.run.run_product`): the inputs' snapshots pinned,
   the definer's sandbox built, the SQL checked and run, its output landed as a delivery, then the
   whole gate (contract, quality, privacy) and write–audit–publish of a new snapshot;
3. **Gongyu through Dagster** (`assets.runner.run_products` after an input publication): the
   product asset materialised in-process on the workspace's Dagster instance, as `gongyu run`
   and the delivery worker do.

Target: (2) ≤ 2× (1). Results: `bench/.work/results-products-<rows>.json`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from bench import REPO, WORK
from bench.report import save, table, under_load

TARGET_RATIO = 2.0
SECTOR = "welfare_safety"
PRODUCT = "bench_deaths_and_detections"
DATA_VERSION = 1
BATCH_ROWS = 1_000_000
SEED = 20_261_207
SIDO = ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원")
SIDO += ("충북", "충남", "전북", "전남", "경북", "경남", "제주")
START = np.datetime64("2015-01-01", "D")
DAYS = 3652
INPUTS = {
    "bench_accidents": ("koroad", (("day", "date"), ("sido", "string"), ("deaths", "integer"))),
    "bench_detections": ("knpa", (("day", "date"), ("sido", "string"), ("alcohol", "number"))),
}
SQL = f"""
WITH a AS (
    SELECT day, sido, count(*) AS accidents, CAST(sum(deaths) AS BIGINT) AS deaths
    FROM {SECTOR}.bench_accidents GROUP BY ALL
),
d AS (
    SELECT day, sido, count(*) AS detections, round(avg(alcohol), 3) AS mean_alcohol
    FROM {SECTOR}.bench_detections GROUP BY ALL
)
SELECT day, sido, coalesce(accidents, 0) AS accidents, coalesce(deaths, 0) AS deaths,
       coalesce(detections, 0) AS detections, mean_alcohol
FROM a FULL JOIN d USING (day, sido)
"""
OUTPUT = (
    ("day", "date"),
    ("sido", "string"),
    ("accidents", "integer"),
    ("deaths", "integer"),
    ("detections", "integer"),
    ("mean_alcohol", "number"),
)


def contract_doc(dataset: str, agency: str, columns: tuple[tuple[str, str], ...]) -> dict:
    """A public contract for generated rows (an input) or for the product (with its SQL)."""
    custom = [
        {"property": "sector", "value": SECTOR},
        {"property": "agency", "value": agency},
        {"property": "accessLevel", "value": "public"},
        {"property": "applyMode", "value": "replace"},
    ]
    if dataset == PRODUCT:
        custom.append({"property": "product", "value": {"sql": SQL}})
    properties = [
        {
            "name": name,
            "logicalType": logical,
            "required": name in ("day", "sido"),
            "customProperties": [{"property": "classification", "value": "none"}],
        }
        for name, logical in columns
    ]
    quality = [{"metric": "rowCount", "mustBeGreaterThan": 0, "severity": "error"}]
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": dataset,
        "name": f"{dataset} (벤치마크용 생성 자료)",
        "version": "1.0.0",
        "status": "active",
        "customProperties": custom,
        "schema": [{"name": dataset, "properties": properties, "quality": quality}],
    }


def contracts_dir(root: Path) -> Path:
    """The shipped contracts plus the two inputs' and the product's."""
    contracts = root / "contracts"
    shutil.rmtree(contracts, ignore_errors=True)
    shutil.copytree(REPO / "contracts", contracts, ignore=shutil.ignore_patterns("*.py", "__py*"))
    for dataset, (agency, columns) in INPUTS.items():
        doc = contract_doc(dataset, agency, columns)
        (contracts / SECTOR / agency / f"{dataset}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8"
        )
    folder = contracts / SECTOR / "nhis"
    folder.mkdir(parents=True, exist_ok=True)
    doc = contract_doc(PRODUCT, "nhis", OUTPUT)
    (folder / f"{PRODUCT}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return contracts


def batches(dataset: str, rows: int, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """`rows` generated rows of an input, batch i depending only on (SEED, dataset, i)."""
    names = pa.array(SIDO)
    salt = sum(map(ord, dataset))
    for i, first in enumerate(range(0, rows, BATCH_ROWS)):
        n = min(BATCH_ROWS, rows - first)
        rng = np.random.default_rng([SEED, salt, i])
        values = {
            "day": START + rng.integers(0, DAYS, size=n).astype("timedelta64[D]"),
            "sido": names.take(pa.array(rng.integers(0, len(SIDO), size=n))),
            "deaths": rng.choice(3, size=n, p=(0.97, 0.025, 0.005)).astype(np.int64),
            "alcohol": np.round(rng.uniform(0.03, 0.25, size=n), 3),
        }
        yield pa.record_batch([pa.array(values[f.name], f.type) for f in schema], schema=schema)


def publish_input(platform: Any, dataset: str, rows: int, tag: str) -> list[str]:
    """Publish `rows` generated rows as the dataset's new snapshot; its data files."""
    from contracts.model import arrow_schema

    contract = platform.contract(dataset)
    schema = arrow_schema(contract.published_columns)
    reader = pa.RecordBatchReader.from_batches(schema, batches(dataset, rows, schema))
    staged = platform.lakehouse.stage(contract, f"bench-{tag}", reader, {"source": "bench"})
    if not platform.lakehouse.audit(staged).passed:
        raise RuntimeError(f"the generated {dataset} failed its audit")
    snapshot_id = platform.lakehouse.publish(staged)
    table_ = platform.lakehouse.catalog.load_table(contract.table)
    return [
        t.file.file_path.removeprefix("file://")
        for t in table_.scan(snapshot_id=snapshot_id).plan_files()
    ]


def workspace(rows: int) -> tuple[Any, dict[str, list[str]]]:
    """A platform with both inputs published (`rows` each), fresh per run."""
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

    root = WORK / f"products-{rows}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    platform = Platform(Settings(home=root / "ws", contracts_dir=contracts_dir(root)))
    files = {d: publish_input(platform, d, rows, "1") for d in INPUTS}
    return platform, files


def duckdb_run(files: dict[str, list[str]], out: Path | None = None) -> int:
    """The product's SQL by DuckDB alone on the inputs' files: fetched as Arrow, or with `out`
    materialised as a Parquet file (`COPY … TO`); the rows it made."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {SECTOR}")
    for dataset, paths in files.items():
        listed = ", ".join(f"'{p}'" for p in paths)
        con.execute(f"CREATE VIEW {SECTOR}.{dataset} AS FROM read_parquet([{listed}])")
    if out is None:
        return con.execute(SQL).fetch_arrow_table().num_rows
    return con.execute(f"COPY ({SQL}) TO '{out}' (FORMAT parquet)").fetchone()[0]


def best(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """The fastest of `repeat` timed runs (after one untimed warm-up) and the rows."""
    run()
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - started)
    return min(times), rows


def measure(rows: int, repeat: int) -> dict[str, Any]:
    """The three measurements on one workspace."""
    from assets.runner import run_products
    from gongyu.products.run import run_product

    platform, files = workspace(rows)

    def gongyu() -> int:
        outcome = run_product(platform, PRODUCT)
        if not outcome.published:
            raise RuntimeError(outcome.report)
        return outcome.delivery.rows or 0

    query_s, duck_rows = best(lambda: duckdb_run(files), repeat)
    out = WORK / f"products-{rows}" / "duckdb-product.parquet"
    duck_s, copied = best(lambda: duckdb_run(files, out), repeat)
    gong_s, gong_rows = best(gongyu, repeat)
    if not duck_rows == copied == gong_rows:
        raise RuntimeError(f"DuckDB made {duck_rows:,}/{copied:,} rows, the product {gong_rows:,}")
    dagster = []
    for i in range(repeat):
        publish_input(platform, "bench_detections", rows, f"{i + 2}")  # an input's news
        started = time.perf_counter()
        built = list(run_products(platform))
        dagster.append(time.perf_counter() - started)
        if len(built) != 1:
            raise RuntimeError(f"expected one product run, got {built}")
    return {
        "rows_per_input": rows,
        "product_rows": gong_rows,
        "duckdb_query_seconds": query_s,
        "duckdb_seconds": duck_s,
        "gongyu_seconds": gong_s,
        "dagster_seconds": min(dagster),
        "ratio": gong_s / duck_s,
        "dagster_ratio": min(dagster) / duck_s,
        "targets": {"ratio": {"target": TARGET_RATIO, "pass": gong_s / duck_s <= TARGET_RATIO}},
    }


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="bench products", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each input")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side")
    args = parser.parse_args(argv)
    results = under_load(lambda: measure(args.rows, args.repeat))
    verdict = "PASS" if results["targets"]["ratio"]["pass"] else "MISS"
    print(
        table(
            ["measurement", "seconds", "× DuckDB"],
            [
                [
                    "DuckDB: the SQL on the same Parquet files, to Arrow",
                    f"{results['duckdb_query_seconds']:.3f}",
                    f"{results['duckdb_query_seconds'] / results['duckdb_seconds']:.2f}",
                ],
                [
                    "DuckDB: the same, materialised (COPY … TO parquet)",
                    f"{results['duckdb_seconds']:.3f}",
                    "1.00",
                ],
                [
                    "Gongyu: build + gate + publish",
                    f"{results['gongyu_seconds']:.3f}",
                    f"{results['ratio']:.2f}",
                ],
                [
                    "Gongyu through Dagster (run_products)",
                    f"{results['dagster_seconds']:.3f}",
                    f"{results['dagster_ratio']:.2f}",
                ],
            ],
        )
    )
    print(f"{results['product_rows']:,} product rows from 2 × {args.rows:,} input rows")
    print(f"target: build + gate ≤ {TARGET_RATIO:.1f}× DuckDB: {verdict}")
    save(WORK / f"results-products-{args.rows}.json", "products", vars(args), results)
    return 0
