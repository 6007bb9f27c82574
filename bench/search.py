"""Search benchmark: catalogue search and the dataset page model over 10,000 generated datasets.

    ./dev bench search [--datasets N] [--rounds R]

The catalogue (`bench.search_data`): N generated contracts (default 10,000) drawn from the
shipped contracts' words, plus the shipped ones, three of which are published from their real
files (Seoul's air quality, KOTSA's inspection centres, the police's drunk-driving detections).
One platform in this process; the viewer is a KOTSA analyst (other agencies' private datasets
hidden). Measured, R rounds (default 20) after one warm-up round:

1. building the search index (on the first search: every contract's terms into SQLite FTS5);
2. a fixed mix of 24 queries (Korean words and 1–2-syllable parts, English words and
   prefixes, filters by sector, agency, access and freshness, broad and narrow) through
   `CatalogService.search` (20 hits with their summaries): p50/p95, target p95 ≤ 50 ms; and the
   same mix through `GET /api/v1/catalog/search` on loopback (app served in this process);
3. the dataset page model: `CatalogService.dataset` (contract, grants, history, snapshots,
   lineage, usage, sample rows through the SQL sandbox) and its JSON, for the three published
   datasets and three generated ones, as their owner and as another agency: p50/p95;
4. the same dataset pages as the web UI serves them: `GET /datasets/<id>` on loopback with a
   signed-in session (model, SVG charts, Jinja2 HTML, audit): p50/p95.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench import REPO, WORK
from bench.api_measure import ms
from bench.memory import rss_mib
from bench.report import table
from bench.search_data import catalogue

TARGET_P95_MS = 50.0
FULL_DATASETS = 10_000
QUERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("미세먼지", {}),
    ("먼지", {}),
    ("대기", {}),
    ("음주", {}),
    ("대기오염", {}),
    ("교통사고 사망", {}),
    ("지하철 혼잡도", {}),
    ("장학금 대학", {}),
    ("의약품 주성분", {}),
    ("서울", {}),
    ("물", {}),
    ("통계", {}),
    ("air qual", {}),
    ("drunk driving", {}),
    ("scholarship", {}),
    ("PM2.5", {}),
    ("ODA", {}),
    ("gas station energy", {}),
    ("발전량", {"sector": "environment_energy"}),
    ("공원", {"access": "public"}),
    ("검사", {"agency": "kotsa"}),
    ("정보", {"freshness": "never_published"}),
    ("", {"sector": "welfare_safety"}),
    ("", {}),
)
PUBLISHED = (
    ("seoul_daily_air_quality", "environment_energy/seoul_daily_air_quality_2022.csv", "seoul"),
    (
        "kotsa_car_inspection_centers",
        "transport_logistics/kotsa_car_inspection_centers_20210927.csv",
        "kotsa",
    ),
    (
        "police_drunk_driving_detections",
        "welfare_safety/police_drunk_driving_detections_202207.csv",
        "knpa",
    ),
)
GENERATED = ("gen_00000", "gen_04711", "gen_09999")


def _publish(platform: Any) -> None:
    """Publish the demo files once (the workspace is kept between runs)."""
    from gongyu.delivery.way import process_delivery

    done = {d.dataset_id for d in platform.deliveries.list() if d.state.value == "published"}
    for dataset_id, name, _ in PUBLISHED:
        if dataset_id not in done:
            delivery, _ = platform.deliver(dataset_id, REPO / "data" / name)
            process_delivery(platform, delivery.delivery_id)


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """The app under uvicorn on a loopback port, in a thread of this process."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _timed(rounds: int, calls: list[tuple[str, Any]]) -> dict[str, list[float]]:
    """Seconds per call label over `rounds` rounds, after one warm-up round."""
    for _, call in calls:
        call()
    times: dict[str, list[float]] = {label: [] for label, _ in calls}
    for _ in range(rounds):
        for label, call in calls:
            started = time.perf_counter()
            call()
            times[label].append(time.perf_counter() - started)
    return times


def _summary(times: dict[str, list[float]]) -> dict[str, Any]:
    every = [t for ts in times.values() for t in ts]
    slowest = sorted(times, key=lambda k: ms(times[k])["p95"], reverse=True)[:3]
    return {"ms": ms(every), "slowest": {k: ms(times[k]) for k in slowest}}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build or reuse the catalogue, measure; the results as a dict."""
    import httpx

    from api.app import create_app
    from catalog.access.principal import Principal, Role
    from catalog.entries import SearchFilters
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

    started = time.perf_counter()
    contracts = catalogue(args.datasets)
    print(f"catalogue ready in {time.perf_counter() - started:.1f} s", flush=True)
    platform = Platform(Settings(home=contracts.parent / "ws", contracts_dir=contracts))
    started = time.perf_counter()
    count = len(platform.contracts)
    loaded = time.perf_counter() - started
    print(f"{count:,} contracts loaded in {loaded:.1f} s", flush=True)
    _publish(platform)
    app = create_app(platform)
    service = app.state.catalog
    viewer = Principal(subject="bench", agency="kotsa", role=Role.analyst, via="api_key")
    before = rss_mib()
    started = time.perf_counter()
    index = service.index()
    built = time.perf_counter() - started
    results: dict[str, Any] = {
        "datasets": count,
        "load_seconds": loaded,
        "index": {"seconds": built, "rss_mib": rss_mib() - before, "documents": index.size},
    }
    print(f"1/4 index of {index.size:,} datasets built in {built:.2f} s", flush=True)

    def search(q: str, f: dict[str, str]) -> Any:
        return lambda: service.search(viewer, q, SearchFilters.model_validate(f), 20, 0)

    calls = [(f"{q or '(all)'} {f or ''}".strip(), search(q, f)) for q, f in QUERIES]
    print(f"2/4 {len(calls)} queries × {args.rounds} rounds (service, then HTTP)", flush=True)
    results["search"] = _summary(_timed(args.rounds, calls))
    results["totals"] = {label: call().total for label, call in calls}
    _, key = platform.keys.create("kotsa", Role.analyst, "bench-search")
    with _served(app) as url, httpx.Client(base_url=url, headers={"X-API-Key": key}) as client:
        http = [
            (label, lambda q=q, f=f: client.get("/api/v1/catalog/search", params={"q": q, **f}))
            for (label, _), (q, f) in zip(calls, QUERIES, strict=True)
        ]
        results["search_http"] = _summary(_timed(args.rounds, http))
    pages = []
    for dataset_id, _, owner in PUBLISHED:
        pages += [(dataset_id, owner, Role.steward), (dataset_id, "kotsa", Role.analyst)]
    pages += [(d, "kotsa", Role.analyst) for d in GENERATED]
    print(f"3/4 {len(pages)} dataset pages × {args.rounds} rounds", flush=True)

    def model(d: str, agency: str, role: Role) -> Any:
        who = Principal(subject="bench", agency=agency, role=role, via="api_key")
        return lambda: service.dataset(who, d)

    entries = {f"{d} as {a}": model(d, a, r)() for d, a, r in pages}
    results["page_model"] = _summary(
        _timed(args.rounds, [(f"{d} as {a}", model(d, a, r)) for d, a, r in pages])
    )
    results["page_json"] = _summary(
        _timed(args.rounds, [(k, e.model_dump_json) for k, e in entries.items() if e])
    )
    print(f"4/4 {len(pages)} dataset pages as HTML × {args.rounds} rounds", flush=True)
    with _served(app) as url, ExitStack() as stack:
        html = []
        for d, agency, role in pages:
            who = Principal(subject="bench", agency=agency, role=role, via="api_key")
            session_id, _ = app.state.sessions.create(who)
            browser = httpx.Client(base_url=url, cookies={"gongyu_session": session_id})
            stack.enter_context(browser)
            html.append((f"{d} as {agency}", lambda d=d, b=browser: b.get(f"/datasets/{d}")))
        results["page_html"] = _summary(_timed(args.rounds, html))
    return results


def render(r: dict[str, Any]) -> str:
    """The printed summary and the target."""
    rows = []
    for key, label in (
        ("search", "search (CatalogService.search, 20 hits)"),
        ("search_http", "search over HTTP (GET /api/v1/catalog/search)"),
        ("page_model", "dataset page model (CatalogService.dataset)"),
        ("page_json", "dataset page JSON (model_dump_json)"),
        ("page_html", "dataset page HTML over HTTP (GET /datasets/…)"),
    ):
        m = r[key]["ms"]
        rows.append([label, f"{m['p50']:.2f}", f"{m['p95']:.2f}", f"{m['p99']:.2f}"])
    p95 = r["search"]["ms"]["p95"]
    index = r["index"]
    out = [
        "",
        f"{r['datasets']:,} datasets · contracts loaded in {r['load_seconds']:.1f} s · index "
        f"built in {index['seconds']:.2f} s (+{index['rss_mib']:.0f} MiB RSS) · "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        "",
        table(["measurement", "p50 ms", "p95 ms", "p99 ms"], rows),
        "",
        "slowest queries (p95 ms): "
        + ", ".join(f"{k} {v['p95']:.1f}" for k, v in r["search"]["slowest"].items()),
        "hits per query: " + ", ".join(f"{k} {n:,}" for k, n in r["totals"].items()),
        "",
        f"target: search p95 ≤ {TARGET_P95_MS:g} ms: {p95:.1f} ms "
        f"{'PASS' if p95 <= TARGET_P95_MS else 'MISS'}"
        + ("" if r["datasets"] >= FULL_DATASETS else "  (indicative: below 10,000 datasets)"),
    ]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Parse, measure, print and save the results."""
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__)
    parser.add_argument("--datasets", type=int, default=FULL_DATASETS, help="generated datasets")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of each measurement")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"search benchmark: {args.datasets:,} generated datasets")
    results = run(args)
    print(render(results))
    out: Path = WORK / f"results-search-{args.datasets}.json"
    saved = {"benchmark": "search", "options": vars(args), **results, "cpus": os.cpu_count()}
    out.write_text(json.dumps(saved, indent=1, ensure_ascii=False))
    print(f"results: {out.relative_to(REPO)}")
    return 0
