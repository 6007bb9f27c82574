"""Scale-out benchmark: the gate on S3 + PostgreSQL, as a ratio to the embedded default.

    ./dev bench scaleout [--rows N] [--repeat K]

Input: the gate benchmark's KoROAD file (CP949, N rows, default 1M). Two measurements, each in
its own process, of land + gate + publish (`bench.gongyu_run.deliver_and_publish`) in a fresh
workspace, in the same run:

(a) the embedded default: landing zones and Iceberg warehouse in the workspace, the catalog in
    SQLite;
(b) the scale-out profile: landing zones, gate results and warehouse in an S3 bucket (moto's S3
    server, started by the benchmark in its own process on a loopback port; a new bucket per
    run) and the catalog in PostgreSQL (a new database per run on 127.0.0.1:5432, or the
    maintenance database `GONGYU_BENCH_POSTGRES` names, dropped afterwards).

Caveat: moto is an in-process Python S3 server (objects in its memory, slower than MinIO), so
the ratio (b)/(a) is an upper bound on what S3 costs. No target: the figure is informative.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import REPO, WORK
from bench.api_servers import free_port, serving
from bench.data import KOROAD, build_csv, warm
from bench.gate import child, repeated
from bench.memory import MIB
from bench.postgres import scratch_database
from bench.report import table

SERVER = os.environ.get(
    "GONGYU_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
"""The PostgreSQL maintenance database the benchmark creates its databases from."""
KEY = "bench"


def vm_hwm_mib(pid: int) -> float | None:
    """Peak RSS of process `pid` (Linux `VmHWM`), or None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@contextmanager
def moto_server(log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """moto's S3 server in its own process group on a free loopback port: (`host:port`, proc)."""
    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    # Ready once S3 answers (`GET /` lists the buckets).
    with serving(cmd, dict(os.environ), f"http://127.0.0.1:{port}/", log) as proc:
        yield f"127.0.0.1:{port}", proc


def embedded(csv: Path, rows: int) -> dict[str, Any]:
    """(a): land + gate + publish in a child process, workspace files and SQLite."""
    args = ["--dataset", KOROAD.dataset_id, "--rows", str(rows)]
    return child("gongyu", csv, *args, log=WORK / f"scaleout-embedded-{rows}.log")


def scaled_out(csv: Path, rows: int, endpoint: str) -> dict[str, Any]:
    """(b): the same, with a new bucket on `endpoint` and a new PostgreSQL database."""
    from minio import Minio

    bucket = f"gongyu-bench-{secrets.token_hex(6)}"
    Minio(endpoint, access_key=KEY, secret_key=KEY, secure=False).make_bucket(bucket)
    env = {
        "GONGYU_S3_ENDPOINT": endpoint,
        "GONGYU_S3_BUCKET": bucket,
        "GONGYU_S3_ACCESS_KEY": KEY,
        "GONGYU_S3_SECRET_KEY": KEY,
        "GONGYU_S3_SECURE": "false",
    }
    with scratch_database(SERVER, "gongyu_bench") as url:
        args = ["--dataset", KOROAD.dataset_id, "--rows", str(rows), "--database-url", url]
        log = WORK / f"scaleout-s3-postgres-{rows}.log"
        return child("gongyu", csv, *args, log=log, env=env)


def main(argv: list[str]) -> int:
    """Build the input, measure both profiles, print and save the results."""
    parser = argparse.ArgumentParser(prog="python -m bench scaleout", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows (default 1M)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; fastest kept")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    csv = build_csv(KOROAD, args.rows)
    size = csv.stat().st_size / MIB
    print(f"scale-out benchmark: {args.rows:,} rows, {size:,.1f} MiB")
    warm(csv)
    print(f"measuring (a) embedded: workspace files + SQLite (x{args.repeat})...", flush=True)
    local = repeated(lambda: embedded(csv, args.rows), args.repeat)
    local["label"] = "(a) embedded (files + SQLite)"
    print(f"measuring (b) S3 (moto) + PostgreSQL (x{args.repeat})...", flush=True)
    with moto_server(WORK / f"scaleout-moto-{args.rows}.log") as (endpoint, proc):
        remote = repeated(lambda: scaled_out(csv, args.rows, endpoint), args.repeat)
        moto_peak = vm_hwm_mib(proc.pid)
    remote["label"] = "(b) S3 (moto) + PostgreSQL"
    remote["moto_peak_rss_mib"] = moto_peak
    ok = local["ok"] and remote["ok"]
    ratio = remote["seconds"] / local["seconds"] if ok else None
    lines = []
    for run in (local, remote):
        if not run["ok"]:
            lines.append([run["label"], "error", "", "", "", ""])
            continue
        stages = run["stages"]
        lines.append(
            [
                run["label"],
                f"{run['seconds']:,.2f}",
                f"{stages['land']['seconds']:,.2f}",
                f"{stages['stage']['seconds']:,.2f}",
                f"{stages['other']['seconds']:,.2f}",
                f"{run['peak_rss_mib']:,.0f}",
            ]
        )
    header = ["measurement", "seconds", "land s", "stage s", "other s", "peak MiB"]
    print(table(header, lines))
    shown = f"{ratio:.2f}" if ratio is not None else "n/a"
    print(f"ratio (b)/(a): {shown} (an upper bound: moto is a Python S3 server, slower than MinIO)")
    if moto_peak is not None:
        print(f"moto server peak RSS: {moto_peak:,.0f} MiB (it holds the objects in memory)")
    for run in (local, remote):
        if not run["ok"]:
            print(f"{run['label']} failed: {run['error']}", file=sys.stderr)
    results = {
        "benchmark": "scaleout",
        "rows": args.rows,
        "file_mib": size,
        "embedded": local,
        "s3_postgres": remote,
        "ratio": ratio,
        "caveat": "moto is an in-process Python S3 server (slower than MinIO): an upper bound",
        "cpus": os.cpu_count(),
    }
    out = WORK / f"results-scaleout-{args.rows}.json"
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"results: {out.relative_to(REPO)}")
    return 0 if ok else 1
