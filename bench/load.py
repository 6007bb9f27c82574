"""Load benchmark: C clients for S seconds against `gongyu serve` on loopback, mixing SQL,
catalog JSON, HTML pages and search, while a steward uploads a delivery that gets processed.

    ./dev bench load [--clients 32] [--seconds 60] [--rows N] [--workers W]

The tables are the API benchmark's (`bench.api_data`, N rows, default 1M, cached); the server
is `gongyu serve` with W uvicorn workers in its own process group (`bench.api_servers`); the
clients are asyncio tasks in this process, each a keep-alive `httpx.AsyncClient` signed in
through the sign-in form (for the HTML pages) and carrying an analyst's API key (for the rest).
The mix (`MIX`): SQL point queries on both tables and small aggregates, catalog JSON, HTML
pages, and search (JSON and HTML). At a quarter of the run a kotsa steward uploads KOTSA's
inspection centres (the shipped file, rows in an order of this run's own so the bytes are new)
through `POST /steward/upload`. `gongyu serve` does not run the gate: `process_delivery` (what a
Dagster run calls) gates and publishes it in a thread of this process while the load goes on.
Not `gongyu run`: its in-process Dagster took ~1 minute to start under this load. Great
Expectations is imported before the clock starts (once a process, as in the gate benchmark).

Every request but the sign-ins carries a tag of its own (`load=<tag>` in the query string, a
`/* load:<tag> */` comment in the SQL, the uploaded file's name), so the audit check is per
request: each answered request is on the chain exactly once under its tag (one record, or an
opening record and the record that completes it), and the chain verifies.

The clients first run `--warmup` seconds (default 30: caches and buffer pools fill; a 300 s run
showed the server's RSS level from about 30 s on), then the measured `--seconds`, with the
upload a quarter into those. Every request of both counts for errors and the audit. Server RSS
(all processes of its group) is sampled each second, and judged over the measured part only.
Flat means both: the least-squares slope is not above `SLOPE_LIMIT` MiB/min beyond its noise
(slope − 2 standard errors; RSS swings by ±50 MiB from second to second under this load, so a
60 s window resolves about ±18 MiB/min and a 300 s one about ±2), and the mean of its last
10 % is at most `GROWTH_LIMIT` above the mean of its first 10 %. Under `MIN_SAMPLES` samples
the verdict is not given.

Targets: 0 errors; no lost, doubled or uncompleted request on the audit chain, which
verifies; the delivery is published; RSS flat. Unlike the other benchmarks this one exits 1
on a missed target: its targets are correctness, not speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench import REPO, WORK
from bench.api import audit_head, audit_settled
from bench.api_data import AGENCY, DATASET, SECTOR, SMALL_DATASET, published
from bench.api_measure import mixed_query, ms
from bench.api_servers import gongyu
from bench.memory import MIB, PAGE
from bench.report import save, table, under_load

FULL = {"clients": 32, "seconds": 60.0}
"""The size the targets are set at; smaller runs are marked indicative."""
MIX = {"sql": 0.40, "catalog json": 0.25, "html page": 0.20, "search": 0.15}
"""Shares of the requests the clients draw; SQL splits as `bench.api_measure.MIX`, search
half JSON, half HTML."""
SEARCH_WORDS = (
    "교통사고",
    "사고",
    "검사소",
    "대기",
    "미세먼지",
    "accident",
    "air quality",
    "kotsa",
)
DELIVERY_DATASET = "kotsa_car_inspection_centers"
DELIVERY_FILE = REPO / "data/transport_logistics/kotsa_car_inspection_centers_20210927.csv"
DELIVERY_AT = 0.25
"""When the upload starts, as a share of the measured run."""
SLOPE_LIMIT = 10.0
GROWTH_LIMIT = 0.05
MIN_SAMPLES = 20
TAG = re.compile(r"load[:=_]([0-9a-f]{6}-\d+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Load:
    """The run's requests: a tag for each, latencies and errors per kind."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.sent = 0
        self.answered: set[str] = set()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def tag(self) -> str:
        """A tag no other request of any run has."""
        self.sent += 1
        return f"{self.run}-{self.sent}"

    async def send(
        self,
        http: httpx.AsyncClient,
        kind: str,
        method: str,
        path: str,
        tag: str | None,
        expect: int = 200,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One request timed under `kind`; None (and an error counted) unless it is answered
        with `expect`."""
        started = time.perf_counter()
        try:
            response = await http.request(method, path, **kwargs)
            failed = None if response.status_code == expect else response.status_code
        except httpx.HTTPError as exc:
            response, failed = None, f"{type(exc).__name__}: {exc}"
        self.latencies[kind].append(time.perf_counter() - started)
        if failed is not None:
            body = response.text[:200] if response is not None else ""
            self.errors.append(f"{kind} {method} {path}: {failed} {body}".strip())
            return None
        if tag:
            self.answered.add(tag)
        return response

    async def get(self, http: httpx.AsyncClient, kind: str, path: str, **params: str) -> str:
        """A tagged GET; the page's text ('' on an error)."""
        tag = self.tag()
        got = await self.send(http, kind, "GET", path, tag, params={**params, "load": tag})
        return got.text if got is not None else ""

    async def sql(self, http: httpx.AsyncClient, kind: str, sql: str) -> None:
        """A tagged `POST /api/v1/sql` (JSON answer)."""
        tag = self.tag()
        body = {"sql": f"{sql} /* load:{tag} */", "format": "json"}
        await self.send(http, kind, "POST", "/api/v1/sql", tag, json=body)

    async def sign_in(self, http: httpx.AsyncClient, credential: str) -> None:
        """Sign in through the form, as a browser does (not audited: untagged)."""
        form = await self.send(http, "sign-in", "GET", "/signin", None)
        found = CSRF.search(form.text) if form is not None else None
        if found:
            data = {"credential": credential, "csrf_token": found.group(1), "next": "/"}
            await self.send(http, "sign-in", "POST", "/signin", None, expect=303, data=data)


async def _mixed_request(
    load: Load, http: httpx.AsyncClient, rng: random.Random, rows: int
) -> None:
    """One request drawn from `MIX`."""
    datasets = (DATASET, SMALL_DATASET)
    draw = rng.random()
    if draw < MIX["sql"]:
        kind, sql = mixed_query(rng, rows)
        await load.sql(http, f"sql {kind}", sql)
    elif draw < MIX["sql"] + MIX["catalog json"]:
        path = rng.choice(
            (
                "/api/v1/catalog",
                "/api/v1/catalog/sectors",
                f"/api/v1/catalog/sectors/{SECTOR}",
                "/api/v1/catalog/datasets",
                f"/api/v1/catalog/datasets/{rng.choice(datasets)}",
                f"/api/v1/catalog/agencies/{AGENCY}",
            )
        )
        await load.get(http, "catalog json", path)
    elif draw < 1 - MIX["search"]:
        dataset = f"/datasets/{rng.choice(datasets)}"
        path = rng.choice(("/", "/sectors", f"/sectors/{SECTOR}", f"/agencies/{AGENCY}", dataset))
        await load.get(http, "html page", path)
    elif rng.random() < 0.5:
        await load.get(http, "search (json)", "/api/v1/catalog/search", q=rng.choice(SEARCH_WORDS))
    else:
        await load.get(http, "search (html)", "/search", q=rng.choice(SEARCH_WORDS))


async def _client(load: Load, url: str, key: str, i: int, rows: int, until: float) -> None:
    """One client: signs in, then sends the mix back to back until `until`."""
    rng = random.Random(1000 + i)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        await load.sign_in(http, key)
        while time.monotonic() < until:
            await _mixed_request(load, http, rng, rows)


def delivery_file(run: str) -> Path:
    """The shipped KOTSA file with its rows in an order of this run's own (CP949, CRLF kept):
    the same rows, new bytes, so the ledger takes it as a new delivery."""
    from gongyu.demo import reencode_with_edit

    def edit(lines: list[str]) -> list[str]:
        body = [line for line in lines[1:] if line]
        random.Random(run).shuffle(body)
        return [lines[0], *body, ""]

    return reencode_with_edit(DELIVERY_FILE, WORK / f"load-delivery-{run}.csv", edit)


async def _deliver(load: Load, url: str, key: str, platform: Any, at: float) -> dict[str, Any]:
    """A steward uploads the delivery at `at`; `process_delivery` gates and publishes it in a
    thread of this process (as a Dagster run would); the outcome."""
    from gongyu.delivery.way import process_delivery

    await asyncio.sleep(max(0.0, at - time.monotonic()))
    file = delivery_file(load.run)
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        await load.sign_in(http, key)
        found = CSRF.search(await load.get(http, "steward page", "/steward"))
        if found is None:
            return {"state": "not uploaded: no upload form"}
        tag = load.tag()
        files = {"file": (f"load_{tag}.csv", file.read_bytes(), "text/csv")}
        form = {"dataset": DELIVERY_DATASET, "csrf_token": found.group(1)}
        started = time.perf_counter()
        landed = await load.send(
            http, "upload", "POST", "/steward/upload", tag, 303, data=form, files=files
        )
        upload_seconds = time.perf_counter() - started
        if landed is None:
            return {"state": "not uploaded"}
        delivery_id = httpx.URL(landed.headers["location"]).params["delivery"]
        await load.get(http, "steward page", "/steward", delivery=delivery_id)
        started = time.perf_counter()
        outcome = await asyncio.to_thread(process_delivery, platform, delivery_id)
        process_seconds = time.perf_counter() - started
        await load.get(http, "steward page", f"/steward/deliveries/{delivery_id}")
    delivery = outcome.delivery
    return {
        "delivery_id": delivery_id,
        "state": delivery.state.value,
        "rows": delivery.rows,
        "upload_seconds": upload_seconds,
        "process_seconds": process_seconds,
        "done_at": time.monotonic(),
    }


def server_leader(port: int) -> int:
    """The pid of the `gongyu serve` listening on `port`."""
    want = f"--port\0{port}\0".encode()
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if b"\0serve\0" in cmd and want in cmd:
            return int(entry.name)
    raise RuntimeError(f"no `gongyu serve --port {port}` process found")


def group_rss_mib(leader: int) -> float:
    """The resident memory of every process in the group `leader` leads (the server runs in a
    session of its own: it and its workers), in MiB."""
    pages = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces or ')': the fields that follow its last ')'.
            pgrp = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
            if pgrp == leader:
                pages += int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
    return pages * PAGE / MIB


async def _sample(leader: int, started: float, until: float) -> list[tuple[float, float]]:
    """(seconds since `started`, server RSS MiB) each second until `until`."""
    samples = []
    while (now := time.monotonic()) < until:
        samples.append((now - started, group_rss_mib(leader)))
        # On the next second's tick (ticks missed while the loop was busy are skipped).
        await asyncio.sleep(1.0 - (time.monotonic() - started) % 1.0)
    return samples


def flatness(samples: list[tuple[float, float]]) -> dict[str, Any]:
    """The RSS verdict of the module's rule; `flat` is None under `MIN_SAMPLES` samples."""
    rss = np.array([r for _, r in samples])
    out: dict[str, Any] = {"samples": len(rss), "flat": None}
    if len(rss):
        out |= {"first_mib": float(rss[0]), "last_mib": float(rss[-1])}
    if len(rss) < MIN_SAMPLES:
        return out
    t = np.array([s for s, _ in samples]) / 60
    (slope, _), cov = np.polyfit(t, rss, 1, cov=True)
    noise = 2 * float(np.sqrt(cov[0, 0]))
    tenth = max(1, len(rss) // 10)
    head, tail = float(rss[:tenth].mean()), float(rss[-tenth:].mean())
    growth = tail / head - 1
    flat = float(slope) - noise <= SLOPE_LIMIT and growth <= GROWTH_LIMIT
    return out | {
        "slope_mib_per_min": float(slope),
        "slope_noise_mib_per_min": noise,
        "first_tenth_mean_mib": head,
        "last_tenth_mean_mib": tail,
        "growth": growth,
        "max_mib": float(rss.max()),
        "flat": flat,
    }


async def drive(
    url: str, keys: dict[str, str], platform: Any, args: argparse.Namespace, run: str
) -> dict[str, Any]:
    """The load itself: clients, the delivery and the RSS sampler, side by side."""
    load = Load(run)
    leader = server_leader(httpx.URL(url).port)
    started = time.monotonic()
    until = started + args.warmup + args.seconds
    clients = [
        _client(load, url, keys["analyst"], i, args.rows, until) for i in range(args.clients)
    ]
    at = started + args.warmup + args.seconds * DELIVERY_AT
    sampler = asyncio.create_task(_sample(leader, started, until))
    delivering = asyncio.create_task(_deliver(load, url, keys["steward"], platform, at))
    await asyncio.gather(*clients)
    wall = time.monotonic() - started
    sampled, delivery = await sampler, await delivering
    # A delivery still being processed when the clients stop is waited for, and said so.
    delivery["during_load"] = delivery.pop("done_at", until) <= until
    every = [x for v in load.latencies.values() for x in v]
    return {
        "load": load,
        "clients": args.clients,
        "seconds": wall,
        "requests": len(every),
        "requests_per_s": len(every) / wall,
        "errors": len(load.errors),
        "error_samples": sorted(set(load.errors))[:5],
        "ms": ms(every),
        "by_kind": {
            k: {"requests": len(v), "ms": ms(v)} for k, v in sorted(load.latencies.items())
        },
        "delivery": delivery,
        "rss": {
            "series": sampled,
            **flatness([(t, mib) for t, mib in sampled if t >= args.warmup]),
        },
    }


def audit_check(platform: Any, first: int, load: Load) -> dict[str, Any]:
    """Once the log holds every answered request, each completed: the chain verified, and each
    answered request found by its tag exactly once (one record, or an opening record and the
    record completing it)."""
    from catalog.access.audit import verify_chain

    found = audit_settled(platform, first, len(load.answered))
    checked = time.perf_counter()
    verified = verify_chain(platform.audit.entries())
    tags: Counter[str] = Counter()
    untagged = 0
    for entry in found["requests"]:
        tag = TAG.search(entry["statement"])
        if tag:
            tags[tag.group(1)] += 1
        else:
            untagged += 1
    return {
        "ok": verified.ok,
        "reason": verified.reason,
        "records": verified.count,
        "new_records": verified.count - first,
        "requests_on_chain": len(found["requests"]),
        "answered": len(load.answered),
        "lost": len(load.answered - tags.keys()),
        "doubled": sum(1 for n in tags.values() if n > 1),
        "unfinished": len(found["unfinished"]),
        "untagged": untagged,
        "seconds": time.perf_counter() - checked,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build or reuse the data, serve it, drive the load, check the audit log."""
    from catalog.access.principal import Role
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform
    from quality.suite import build_suite

    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = published(args.rows)
    print(f"data ready in {time.perf_counter() - started:.1f} s: {data.root}")
    platform = Platform(Settings(home=data.workspace, contracts_dir=data.contracts))
    keys = {
        "analyst": platform.keys.create("kotsa", Role.analyst, "bench-load")[1],
        "steward": platform.keys.create("kotsa", Role.steward, "bench-load-steward")[1],
    }
    run_id = secrets.token_hex(3)
    first = audit_head(platform)
    log = WORK / f"load-server-{run_id}.log"
    # GX is imported now, not under the clock (once a process), while the server starts.
    with ThreadPoolExecutor(1) as pool:
        warm = pool.submit(build_suite, platform.contract(DELIVERY_DATASET))
        with gongyu(data.workspace, data.contracts, args.workers, log) as url:
            warm.result()
            print(
                f"{args.clients} clients, {args.warmup:g} s warm-up + {args.seconds:g} s "
                f"(run {run_id})...",
                flush=True,
            )
            results = asyncio.run(drive(url, keys, platform, args, run_id))
            results["audit"] = audit_check(platform, first, results.pop("load"))
    results["run"] = run_id
    return results


def targets(args: argparse.Namespace, r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its value, whether it passed, and whether it was measured at size."""
    audit, rss, delivery = r["audit"], r["rss"], r["delivery"]
    at_size = args.clients >= FULL["clients"] and args.seconds >= FULL["seconds"]
    judged = rss["flat"] is not None
    return [
        {
            "target": f"{args.clients} clients × {args.seconds:g} s: 0 errors",
            "value": r["errors"],
            "pass": r["errors"] == 0 and r["requests"] > 0,
            "at_size": at_size,
        },
        {
            "target": "audit: chain verifies, every request on it once and completed",
            "value": audit["lost"] + audit["doubled"] + audit["unfinished"],
            "pass": audit["ok"]
            and audit["lost"] == 0
            and audit["doubled"] == 0
            and audit["unfinished"] == 0,
            "at_size": True,
        },
        {
            "target": "delivery uploaded and published",
            "value": delivery["state"],
            "pass": delivery["state"] == "published",
            "at_size": True,
        },
        {
            "target": f"server RSS flat (≤ {SLOPE_LIMIT:g} MiB/min, ≤ +{GROWTH_LIMIT:.0%})",
            "value": rss.get("slope_mib_per_min", "n/a"),
            "pass": bool(rss["flat"]) or not judged,
            "at_size": at_size and judged,
        },
    ]


def render(args: argparse.Namespace, r: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    """The printed summary: requests per kind, the delivery, RSS, the audit check, targets."""
    audit, rss, d = r["audit"], r["rss"], r["delivery"]
    kinds = [*r["by_kind"].items(), ("all", {"requests": r["requests"], "ms": r["ms"]})]
    rows = [
        [f"  {k}", f"{v['requests']:,}", *(f"{v['ms'][q]:,.1f}" for q in ("p50", "p95", "p99"))]
        for k, v in kinds
    ]
    load = r["load_average"]["before"][0]
    out = [
        "",
        f"server: {args.workers} uvicorn worker(s), tables of {args.rows:,} rows · "
        f"{os.cpu_count()} cores shared by server and clients · load average before {load:.1f}",
        "",
        f"{r['clients']} clients for {r['seconds']:.1f} s: {r['requests']:,} requests "
        f"({r['requests_per_s']:,.0f}/s), {r['errors']} errors",
        table(["  request", "n", "p50 ms", "p95 ms", "p99 ms"], rows),
    ]
    out += [f"  error: {sample}" for sample in r["error_samples"]]
    if "delivery_id" in d:
        out.append(
            f"delivery {d['delivery_id']}: uploaded in {d['upload_seconds']:.2f} s, "
            f"processed in {d['process_seconds']:.1f} s: {d['state']}, {d['rows'] or 0:,} rows"
            + ("" if d["during_load"] else " (finished after the clients stopped)")
        )
    else:
        out.append(f"delivery: {d['state']}")
    memory = f"server RSS: {rss['samples']} samples"
    if rss["samples"]:
        memory += f", {rss['first_mib']:,.0f} → {rss['last_mib']:,.0f} MiB"
    if rss["flat"] is not None:
        memory += (
            f" (max {rss['max_mib']:,.0f}) after warm-up; slope "
            f"{rss['slope_mib_per_min']:+.1f} ± {rss['slope_noise_mib_per_min']:.1f} MiB/min; "
            f"last 10 % {rss['last_tenth_mean_mib']:,.0f} MiB vs first 10 % "
            f"{rss['first_tenth_mean_mib']:,.0f} ({rss['growth']:+.1%}): "
            f"{'flat' if rss['flat'] else 'GROWING'}"
        )
    else:
        memory += f" (under {MIN_SAMPLES}: no verdict)"
    chain = "verifies" if audit["ok"] else f"BROKEN: {audit['reason']}"
    out += [
        memory,
        f"audit: chain {chain} ({audit['records']:,} records); {audit['answered']:,} answered "
        f"requests, {audit['new_records']:,} new records holding "
        f"{audit['requests_on_chain']:,} requests: {audit['lost']} lost, {audit['doubled']} "
        f"doubled, {audit['unfinished']} not completed, {audit['untagged']} untagged",
        "",
        "targets:",
    ]
    for t in checks:
        v = t["value"]
        value = f"{v:.2f}" if isinstance(v, float) else str(v)
        note = "" if t["at_size"] else "  (indicative: below the target's size)"
        out.append(f"  {t['target']:<46} {value:>10}  {'PASS' if t['pass'] else 'MISS'}{note}")
    kind = r["by_kind"]
    p95 = ", ".join(f"{k} {v['ms']['p95']:,.0f}" for k, v in kind.items() if k != "sign-in")
    out += [
        "",
        f"figure: {r['clients']} clients × {r['seconds']:.0f} s, {r['requests']:,} requests "
        f"({r['requests_per_s']:,.0f}/s), {r['errors']} errors, p95 ms: {p95}; "
        f"RSS slope {rss.get('slope_mib_per_min', float('nan')):+.1f} MiB/min; "
        f"audit {audit['lost']} lost / {audit['doubled']} doubled",
    ]
    return "\n".join(out)


def parse(argv: list[str]) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__)
    parser.add_argument("--clients", type=int, default=FULL["clients"], help="clients (32)")
    parser.add_argument("--seconds", type=float, default=FULL["seconds"], help="run (60)")
    parser.add_argument(
        "--warmup", type=float, default=30.0, help="seconds of load before the run (30)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="large table rows (1M)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the server")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Parse, run, print and save the results; 1 when a target is missed."""
    args = parse(argv)
    print(f"load benchmark: {args.clients} clients × {args.seconds:g} s")
    results = under_load(lambda: run(args))
    checks = targets(args, results)
    print(render(args, results, checks))
    out = WORK / f"results-load-{args.clients}x{args.seconds:g}.json"
    save(out, "load", vars(args), {**results, "targets": checks})
    return 0 if all(t["pass"] for t in checks) else 1
