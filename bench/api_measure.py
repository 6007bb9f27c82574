"""The API benchmark's measurements, client side: each query through `POST /api/v1/sql` and
the same query in an in-process DuckDB over the same Parquet files (and, for the aggregate,
through Datasette over SQLite). Sides are interleaved, so load on the shared machine hits both.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa

from bench.api_data import SMALL_ROWS, SMALL_TABLE, SQLITE_TABLE, TABLE, Published

POINT = "SELECT * FROM {table} WHERE id = {id}"
AGGREGATE = (
    "SELECT sido, count(*) AS accidents, sum(deaths) AS deaths, sum(injured) AS injured, "
    "round(avg(lat), 4) AS lat, round(avg(lon), 4) AS lon FROM {table} GROUP BY sido ORDER BY sido"
)
SMALL_AGGREGATE = (
    "SELECT sido, count(*) AS accidents, sum(deaths) AS deaths, sum(injured) AS injured "
    "FROM {table} WHERE id BETWEEN {lo} AND {hi} GROUP BY sido ORDER BY sido"
)
ARROW = "SELECT * FROM {table} WHERE id <= {n}"
ARROW_BATCH_ROWS = 65_536  # what the sandbox fetches per batch (gongyu.query.sandbox.BATCH_ROWS)
MIX = {"point (small table)": 0.4, "point (large table)": 0.4, "small aggregate": 0.2}
"""The concurrent run's requests; the small aggregates group 10,000 consecutive ids."""
SMALL_SPAN = 10_000


def ms(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies, in milliseconds."""
    a = np.array(seconds) * 1000
    if not len(a):
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "mean": 0.0}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(a.mean())}


class Api:
    """A keep-alive client of the SQL API that counts its requests (each leaves an audit record)."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        )
        self.requests = 0

    def rows(self, sql: str) -> list[list[Any]]:
        """The JSON answer's rows; raises on anything but 200."""
        self.requests += 1
        response = self.client.post("/api/v1/sql", json={"sql": sql, "format": "json"})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
        return response.json()["rows"]

    def arrow(self, sql: str) -> tuple[pa.Table, int]:
        """The Arrow IPC answer read as it streams in, and the bytes received."""
        self.requests += 1
        body = {"sql": sql, "format": "arrow"}
        with self.client.stream("POST", "/api/v1/sql", json=body) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.read()[:500]!r}")
            stream = io.BufferedReader(Chunks(response.iter_raw()), buffer_size=1 << 20)
            table = pa.ipc.open_stream(stream).read_all()
            return table, response.num_bytes_downloaded

    def close(self) -> None:
        self.client.close()


class Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (an HTTP body as it arrives)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.left:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.left = chunk
        n = min(len(buffer), len(self.left))
        buffer[:n] = self.left[:n]
        self.left = self.left[n:]
        return n


def local(data: Published, threads: int, memory: str) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB with both tables as views over the same files, as the sandbox has
    them (same thread and memory limits, same `read_parquet` options)."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
    con.execute(f"CREATE SCHEMA {TABLE.split('.')[0]}")
    for table, paths in ((TABLE, data.files), (SMALL_TABLE, data.small_files)):
        files = ", ".join(f"'{f}'" for f in paths)
        source = f"read_parquet([{files}], union_by_name = true)"
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM {source}")
    return con


def point(
    api: Api, con: duckdb.DuckDBPyConnection, table: str, rows: int, n: int
) -> dict[str, Any]:
    """`n` point queries by id (random ids, fixed seed) through both, interleaved."""
    rng = random.Random(5)
    ids = [rng.randint(1, rows) for _ in range(n)]
    for i in ids[:20]:  # warm-up: the sandbox, page cache, connections
        api.rows(POINT.format(table=table, id=i))
        con.execute(POINT.format(table=table, id=i)).fetchall()
    via_api, in_duckdb = [], []
    for k, i in enumerate(ids):
        sql = POINT.format(table=table, id=i)
        for side in (0, 1) if k % 2 else (1, 0):
            started = time.perf_counter()
            got = api.rows(sql) if side == 0 else con.execute(sql).fetchall()
            (via_api if side == 0 else in_duckdb).append(time.perf_counter() - started)
            if len(got) != 1 or got[0][0] != i:
                raise AssertionError(f"point query for id {i} returned {got!r}")
    a, d = ms(via_api), ms(in_duckdb)
    added = a["p50"] - d["p50"]
    return {
        "table": table,
        "rows": rows,
        "queries": n,
        "api_ms": a,
        "duckdb_ms": d,
        "added_p50_ms": added,
    }


def _normal(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Aggregate rows compared across engines: numbers as floats, 3 decimals."""
    return [tuple(round(float(v), 3) if not isinstance(v, str) else v for v in r) for r in rows]


def aggregate(
    api: Api, con: duckdb.DuckDBPyConnection, datasette: str | None, repeat: int
) -> dict[str, Any]:
    """The GROUP BY over the whole table through the API, DuckDB and Datasette: best of k."""
    sql = AGGREGATE.format(table=TABLE)
    lite = AGGREGATE.format(table=SQLITE_TABLE)
    times: dict[str, list[float]] = {"api": [], "duckdb": [], "datasette": []}
    answers: dict[str, list[tuple[Any, ...]]] = {}
    with httpx.Client(base_url=datasette or "http://unused", timeout=3600) as lite_client:

        def run_datasette() -> list[Any]:
            params = {"sql": lite, "_shape": "arrays"}
            response = lite_client.get(f"/{SQLITE_TABLE}.json", params=params)
            if response.status_code != 200:
                raise RuntimeError(f"datasette {response.status_code}: {response.text[:500]}")
            return response.json()["rows"]

        sides = {
            "api": lambda: api.rows(sql),
            "duckdb": lambda: con.execute(sql).fetchall(),
            **({"datasette": run_datasette} if datasette else {}),
        }
        for name, run in sides.items():  # warm-up: page cache, sandbox, SQLite's pages
            answers[name] = _normal(run())
        for _ in range(repeat):
            for name, run in sides.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
    for name, got in answers.items():
        if got != answers["duckdb"]:
            raise AssertionError(f"{name} answered the aggregate differently: {got[:3]}…")
    best = {k: min(v) if v else None for k, v in times.items()}
    return {
        "sql": sql,
        "groups": len(answers["duckdb"]),
        "seconds": best,
        "all_seconds": times,
        "ratio_api_duckdb": best["api"] / best["duckdb"],
        "ratio_datasette_api": best["datasette"] / best["api"] if best["datasette"] else None,
    }


def _local_arrow(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, int]:
    """DuckDB → Arrow batches → an IPC stream in memory: rows and bytes."""
    reader = con.execute(sql).to_arrow_reader(ARROW_BATCH_ROWS)  # = fetch_record_batch
    sink = pa.BufferOutputStream()
    rows = 0
    with pa.ipc.new_stream(sink, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows, sink.getvalue().size


def arrow(api: Api, con: duckdb.DuckDBPyConnection, n: int, repeat: int) -> dict[str, Any]:
    """`n` rows as an Arrow IPC stream over HTTP, against DuckDB → IPC in memory: best of k."""
    sql = ARROW.format(table=TABLE, n=n)
    api.arrow(sql)  # warm-up
    _local_arrow(con, sql)
    best: dict[str, tuple[float, int, int]] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        table, size = api.arrow(sql)
        took = time.perf_counter() - started
        if table.num_rows != n:
            raise AssertionError(f"the Arrow answer has {table.num_rows} rows, not {n}")
        del table
        if "api" not in best or took < best["api"][0]:
            best["api"] = (took, n, size)
        started = time.perf_counter()
        rows, size = _local_arrow(con, sql)
        took = time.perf_counter() - started
        if "duckdb" not in best or took < best["duckdb"][0]:
            best["duckdb"] = (took, rows, size)
    out: dict[str, Any] = {"sql": sql, "rows": n}
    for name, (seconds, rows, size) in best.items():
        out[name] = {
            "seconds": seconds,
            "bytes": size,
            "mb_per_s": size / seconds / 1e6,
            "rows_per_s": rows / seconds,
        }
    out["fraction"] = out["api"]["rows_per_s"] / out["duckdb"]["rows_per_s"]
    return out


def mixed_query(rng: random.Random, rows: int) -> tuple[str, str]:
    """One request of the concurrent mix: its kind and SQL."""
    draw = rng.random()
    if draw < MIX["point (small table)"]:
        return "point (small table)", POINT.format(table=SMALL_TABLE, id=rng.randint(1, SMALL_ROWS))
    if draw < MIX["point (small table)"] + MIX["point (large table)"]:
        return "point (large table)", POINT.format(table=TABLE, id=rng.randint(1, rows))
    lo = rng.randint(1, max(1, rows - SMALL_SPAN))
    return "small aggregate", SMALL_AGGREGATE.format(table=TABLE, lo=lo, hi=lo + SMALL_SPAN - 1)


def concurrent(url: str, token: str, rows: int, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads, each a keep-alive client, sending the `MIX` of point queries and small
    aggregates for `seconds`; every non-200 answer or transport error counts as an error."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {k: [] for k in MIX}
    errors: list[str] = []

    def client(i: int) -> None:
        rng = random.Random(1000 + i)
        headers = {"Authorization": f"Bearer {token}"}
        mine: dict[str, list[float]] = {k: [] for k in MIX}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while time.monotonic() < deadline:
                kind, sql = mixed_query(rng, rows)
                started = time.perf_counter()
                try:
                    response = http.post("/api/v1/sql", json={"sql": sql, "format": "json"})
                    failed = None
                    if response.status_code != 200:
                        failed = f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    failed = f"{type(exc).__name__}: {exc}"
                mine[kind].append(time.perf_counter() - started)
                if failed:
                    with lock:
                        errors.append(failed)
        with lock:
            for k, v in mine.items():
                latencies[k] += v

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    every = [x for v in latencies.values() for x in v]
    return {
        "clients": clients,
        "seconds": wall,
        "mix": MIX,
        "requests": len(every),
        "requests_per_s": len(every) / wall,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "ms": ms(every),
        "by_kind": {k: {"requests": len(v), "ms": ms(v)} for k, v in latencies.items()},
    }
