"""API benchmark: the SQL API over HTTP against in-process DuckDB on the same Parquet files.

    ./dev bench api [--rows N] [--queries Q] [--repeat K] [--arrow-rows M] [--clients C]
                    [--seconds S] [--workers W] [--no-datasette]

A generated accident table of N rows (default 10M) is published as a `public` dataset (cached
in bench/.work), served by `gongyu serve` in its own process on loopback; the client is this
process. Four measurements, each with a baseline measured in the same run:

1. point query by id, Q times (default 500) on a 10,000-row table and on the large one: API
   p50/p95 vs DuckDB in-process; added p50 ≤ 1 ms (on the small table, where DuckDB's own
   time is small; on the large one a point query decodes a whole row group either way);
2. a GROUP BY over the whole table, best of K: API ≤ 1.2 × DuckDB; also Datasette on SQLite;
3. M rows (default 1M) as an Arrow IPC stream: API ≥ 50 % of DuckDB → Arrow IPC in memory;
4. C clients (default 32) for S seconds (default 60), point queries on both tables and small
   aggregates mixed: 0 errors; then the audit chain must verify and hold every request: one
   record, or (a query that ran) an opening record and the record that completes it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from typing import Any

from bench import REPO, WORK
from bench.api_data import SMALL_ROWS, SMALL_TABLE, TABLE, published, sqlite_file
from bench.api_servers import datasette, gongyu
from bench.report import save, table, under_load

FULL = {"rows": 10_000_000, "arrow_rows": 1_000_000, "clients": 32, "seconds": 60.0}
"""The sizes the targets are set at; smaller runs are marked indicative."""
TARGET_ADDED_MS = 1.0
TARGET_AGGREGATE = 1.2
TARGET_ARROW = 0.5
DATASETTE_LIMIT_MS = 3_600_000  # Datasette's default 1 s would cancel the aggregate


def audit_head(platform: Any) -> int:
    """The sequence number of the newest audit record (0 when none)."""
    newest = platform.audit.records(limit=1)
    return newest[0].seq if newest else 0


def audit_requests(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Audit records counted as requests: a request is one record, or an opening record and
    the record that completes it (`completes`); `requests` lists the records that stand for
    one (single or opening), `unfinished` the openings not completed."""
    requests: list[dict[str, Any]] = []
    opened, completed = set(), set()
    for entry in entries:
        if entry.get("completes") is not None:
            completed.add(entry["completes"])
            continue
        requests.append(entry)
        if entry["outcome"] == "opened":
            opened.add(entry["seq"])
    return {"requests": requests, "unfinished": sorted(opened - completed)}


def audit_settled(platform: Any, after: int, expected: int, wait: float = 30.0) -> dict[str, Any]:
    """The requests on the chain after seq `after`, once they number `expected` and each is
    completed (an answer's completing record is written as its last byte leaves, so the newest
    may land a moment after the client is done)."""
    deadline = time.monotonic() + wait
    while True:
        found = audit_requests(platform.audit.entries(after))
        done = len(found["requests"]) >= expected and not found["unfinished"]
        if done or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build or reuse the data, start the servers, measure; the results as a dict."""
    from bench import api_measure as m
    from catalog.access.principal import Role
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

    started = time.perf_counter()
    data = published(args.rows)
    db = sqlite_file(data) if args.datasette else None
    print(f"data ready in {time.perf_counter() - started:.1f} s: {data.root.relative_to(REPO)}")
    settings = Settings(home=data.workspace, contracts_dir=data.contracts)
    platform = Platform(settings)
    _, token = platform.keys.create("kotsa", Role.analyst, "bench-api")  # another sector
    con = m.local(data, settings.sql_threads, settings.sql_memory_limit)
    first = audit_head(platform)
    log = WORK / f"api-server-{args.rows}.log"
    results: dict[str, Any] = {}
    with gongyu(data.workspace, data.contracts, args.workers, log) as url:
        api = m.Api(url, token)
        print(f"1/4 point queries ({args.queries} on each side, each table)...", flush=True)
        results["point"] = m.point(api, con, SMALL_TABLE, SMALL_ROWS, args.queries)
        results["point_large"] = m.point(api, con, TABLE, args.rows, args.queries)
        print(f"2/4 aggregate over {args.rows:,} rows (best of {args.repeat})...", flush=True)
        if db is not None:
            with datasette(db, DATASETTE_LIMIT_MS, WORK / "api-datasette.log") as lite:
                results["aggregate"] = m.aggregate(api, con, lite, args.repeat)
        else:
            results["aggregate"] = m.aggregate(api, con, None, args.repeat)
        arrow_rows = min(args.arrow_rows, args.rows)
        print(f"3/4 {arrow_rows:,} rows as Arrow (best of {args.repeat})...", flush=True)
        results["arrow"] = m.arrow(api, con, arrow_rows, args.repeat)
        api.close()
        audit_settled(platform, first, api.requests)
        before = audit_head(platform)
        print(f"4/4 {args.clients} clients for {args.seconds:g} s...", flush=True)
        results["concurrent"] = m.concurrent(url, token, args.rows, args.clients, args.seconds)
        sent = api.requests + results["concurrent"]["requests"]
        found = audit_settled(platform, first, sent)
    checked = time.perf_counter()
    verified = platform.audit.verify()
    results["audit"] = {
        "ok": verified.ok,
        "records": verified.count,
        "reason": verified.reason,
        "requests": sent,
        "new_records": audit_head(platform) - first,
        "requests_on_chain": len(found["requests"]),
        "unfinished": len(found["unfinished"]),
        "concurrent_requests": results["concurrent"]["requests"],
        "concurrent_requests_on_chain": len(
            audit_requests(platform.audit.entries(before))["requests"]
        ),
        "verify_seconds": time.perf_counter() - checked,
    }
    return results


def targets(args: argparse.Namespace, r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its value, whether it passed, and whether it was measured at size."""
    agg, arrow, conc, audit = r["aggregate"], r["arrow"], r["concurrent"], r["audit"]
    at_rows = args.rows >= FULL["rows"]
    full_load = args.clients >= FULL["clients"] and args.seconds >= FULL["seconds"]
    arrow_at = arrow["rows"] >= FULL["arrow_rows"]
    added = r["point"]["added_p50_ms"]
    return [
        {
            "target": f"point query added p50 ≤ {TARGET_ADDED_MS:g} ms (small table)",
            "value": added,
            "pass": added <= TARGET_ADDED_MS,
            "at_size": True,
        },
        {
            "target": f"aggregate API/DuckDB ≤ {TARGET_AGGREGATE:g}×",
            "value": agg["ratio_api_duckdb"],
            "pass": agg["ratio_api_duckdb"] <= TARGET_AGGREGATE,
            "at_size": at_rows,
        },
        {
            "target": f"Arrow API/DuckDB ≥ {TARGET_ARROW:.0%}",
            "value": arrow["fraction"],
            "pass": arrow["fraction"] >= TARGET_ARROW,
            "at_size": arrow_at,
        },
        {
            "target": f"{args.clients} clients × {args.seconds:g} s: 0 errors",
            "value": conc["errors"],
            "pass": conc["errors"] == 0 and conc["requests"] > 0,
            "at_size": full_load,
        },
        {
            "target": "audit chain verifies, every request on it and completed",
            "value": audit["requests_on_chain"],
            "pass": audit["ok"]
            and audit["requests_on_chain"] == audit["requests"]
            and audit["unfinished"] == 0,
            "at_size": True,
        },
    ]


def _measures(r: dict[str, Any]) -> list[list[str]]:
    """Rows of the measurements table: API, DuckDB in-process, Datasette."""
    small, large, agg, arrow = r["point"], r["point_large"], r["aggregate"], r["arrow"]
    rows = []
    for label, p in ((f"{small['rows']:,}-row", small), (f"{large['rows']:,}-row", large)):
        for q in ("p50", "p95"):
            a, d = p["api_ms"][q], p["duckdb_ms"][q]
            rows.append([f"point query, {label} table, {q} ms", f"{a:.2f}", f"{d:.2f}", ""])
    s = agg["seconds"]
    lite = "" if s["datasette"] is None else f"{s['datasette']:.2f}"
    rows.append(["aggregate, s (best)", f"{s['api']:.3f}", f"{s['duckdb']:.3f}", lite])
    for key, label in (("mb_per_s", "MB/s"), ("rows_per_s", "rows/s")):
        a, d = arrow["api"][key], arrow["duckdb"][key]
        rows.append([f"Arrow stream, {label}", f"{a:,.0f}", f"{d:,.0f}", ""])
    return rows


def render(args: argparse.Namespace, r: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    """The printed summary: measurements, the concurrent run, the audit check, targets."""
    agg, arrow, conc, audit = r["aggregate"], r["arrow"], r["concurrent"], r["audit"]
    lite = agg["ratio_datasette_api"]
    load = r["load_average"]["before"][0]
    out = [
        "",
        f"rows {args.rows:,} · server: {args.workers} uvicorn worker(s) · {os.cpu_count()} "
        f"cores shared by server and client · load average before {load:.1f}",
        "",
        table(["measurement", "Gongyu API", "DuckDB in-process", "Datasette"], _measures(r)),
        "",
        "point query added latency p50: "
        + ", ".join(
            f"{p['added_p50_ms']:.2f} ms ({p['rows']:,} rows)"
            for p in (r["point"], r["point_large"])
        ),
        f"aggregate: API/DuckDB {agg['ratio_api_duckdb']:.2f}×"
        + (f"; Datasette/API {lite:.1f}×" if lite else ""),
        f"Arrow: {arrow['rows']:,} rows, {arrow['api']['bytes'] / 1e6:,.1f} MB over HTTP; "
        f"API at {arrow['fraction']:.0%} of DuckDB → IPC in memory",
        "",
        f"{conc['clients']} clients for {conc['seconds']:.1f} s: {conc['requests']:,} requests "
        f"({conc['requests_per_s']:,.0f}/s), {conc['errors']} errors",
    ]
    kinds = [*conc["by_kind"].items(), ("all", {"requests": conc["requests"], "ms": conc["ms"]})]
    out.append(
        table(
            ["  request", "n", "p50 ms", "p95 ms", "p99 ms"],
            [
                [
                    f"  {k}",
                    f"{v['requests']:,}",
                    *(f"{v['ms'][q]:,.1f}" for q in ("p50", "p95", "p99")),
                ]
                for k, v in kinds
            ],
        )
    )
    out += [f"  error: {sample}" for sample in conc["error_samples"]]
    chain = "verifies" if audit["ok"] else f"BROKEN: {audit['reason']}"
    out += [
        "",
        f"audit: chain {chain} ({audit['records']:,} records, checked in "
        f"{audit['verify_seconds']:.1f} s); this run sent {audit['requests']:,} requests and "
        f"added {audit['new_records']:,} records holding {audit['requests_on_chain']:,} "
        f"requests ({audit['unfinished']} not completed)",
        "",
        "targets:",
    ]
    for t in checks:
        value = t["value"] if isinstance(t["value"], int) else f"{t['value']:.2f}"
        note = "" if t["at_size"] else "  (indicative: below the target's size)"
        out.append(f"  {t['target']:<42} {value:>8}  {'PASS' if t['pass'] else 'MISS'}{note}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Parse, measure, print and save the results."""
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__)
    parser.add_argument("--rows", type=int, default=FULL["rows"], help="table rows (10M)")
    parser.add_argument("--queries", type=int, default=500, help="point queries per side")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the aggregate and Arrow")
    parser.add_argument("--arrow-rows", type=int, default=FULL["arrow_rows"], help="Arrow rows")
    parser.add_argument("--clients", type=int, default=FULL["clients"], help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=FULL["seconds"], help="concurrent run")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the server")
    parser.add_argument("--no-datasette", dest="datasette", action="store_false")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"api benchmark: {args.rows:,} rows")
    results = under_load(lambda: run(args))
    checks = targets(args, results)
    print(render(args, results, checks))
    save(WORK / f"results-api-{args.rows}.json", "api", vars(args), {**results, "targets": checks})
    return 0
