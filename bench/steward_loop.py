"""Steward's-loop benchmark: a steward's upload over HTTP until it is published, against the
same delivery's `gongyu deliver` + `gongyu run` from the shell and `process_delivery` alone.

    ./dev bench steward_loop [--uploads 5] [--shell-runs 1] [--in-process-runs 3]

The workspace is the demo's (`gongyu.demo.run_demo`: every shipped dataset delivered, three
quarantined, one fixed), built fresh in `bench/.work/steward-loop/ws`. The file is KoROAD's
fatal accidents of 2020 (CP949, 2,983 rows, 468 KiB); each delivery is it with its rows rotated
by a count of its own, so every file is new bytes (the same bytes are recognised, not run again)
and every one is valid (the contract appends, with no key).

Measured, in one run:

- **served** (`--uploads`): `gongyu serve` (API + delivery worker) on loopback, started once and
  timed to the worker's "ready" line (once a process: imports, Great Expectations, Definitions);
  then each upload, after an untimed pause at random within the worker's 1 s poll interval (a
  steward's upload falls anywhere in it), is `POST /api/v1/datasets/{dataset}/deliveries` with a
  koroad steward's key, followed by `GET /api/v1/deliveries/{id}` every 250 ms (each read is
  audited: a write) until `published`: upload → published;
- **shell** (`--shell-runs`, serve stopped): `gongyu deliver` then `gongyu run`, each a new
  process, as a steward without the worker would: deliver → published;
- **in-process** (`--in-process-runs`): `platform.deliver` + `process_delivery` in this process,
  warm (the demo ran here): the gate and publish alone, without Dagster, HTTP or polling.

Target: median upload → published ≤ 10 s. Ratios: served median to shell median and to
in-process median. Results: `bench/.work/results-steward-loop.json`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench import WORK
from bench.api_servers import BIN, free_port, serving
from bench.report import save, table, under_load

if TYPE_CHECKING:
    from gongyu.platform import Platform

DATASET = "koroad_fatal_traffic_accidents"
AGENCY = "koroad"
SOURCE = "welfare_safety/koroad_fatal_traffic_accidents_2020.csv"
TARGET_SECONDS = 10.0
POLL_SECONDS = 0.25
DONE = ("published", "quarantined")


def rotated(source: Path, shift: int, out: Path) -> Path:
    """`source` (a header, CRLF lines) with its rows rotated by `shift`: new bytes, same rows."""
    header, *rows = [line for line in source.read_bytes().split(b"\r\n") if line]
    shift %= len(rows)
    out.write_bytes(b"\r\n".join([header, *rows[shift:], *rows[:shift], b""]))
    return out


def build_workspace(root: Path) -> Platform:
    """A fresh demo workspace under `root`, every demo delivery run (in this process)."""
    from assets.runner import shared_dagster
    from gongyu.demo import fresh_workspace, run_demo
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

    fresh_workspace(root)
    platform = Platform(Settings(home=root))
    with shared_dagster(platform) as dagster:
        unexpected = [r for r in run_demo(platform, dagster) if not r.as_expected]
    if unexpected:
        raise RuntimeError(f"the demo ended unexpectedly: {unexpected}")
    return platform


def in_process(platform: Platform, file: Path) -> dict[str, Any]:
    """Land `file` and run `process_delivery` on it here: the gate and publish alone."""
    from gongyu.delivery.way import process_delivery

    started = time.perf_counter()
    delivery, _ = platform.deliver(DATASET, file)
    outcome = process_delivery(platform, delivery.delivery_id)
    return _result(platform, delivery.delivery_id, time.perf_counter() - started, outcome.published)


def shell(platform: Platform, file: Path) -> dict[str, Any]:
    """`gongyu deliver` then `gongyu run`, each its own process, as a steward would type them."""
    workspace = ["--workspace", str(platform.workspace.root)]
    started = time.perf_counter()
    landed = subprocess.run(
        [str(BIN / "gongyu"), "deliver", DATASET, str(file), *workspace],
        capture_output=True,
        text=True,
        check=True,
    )
    delivered = time.perf_counter() - started
    subprocess.run([str(BIN / "gongyu"), "run", *workspace], capture_output=True, check=True)
    delivery_id = landed.stdout.split()[1]
    seconds = time.perf_counter() - started
    state = platform.deliveries.get(delivery_id).state.value
    return _result(platform, delivery_id, seconds, state == "published") | {
        "deliver_seconds": delivered
    }


def served(platform: Platform, files: list[Path], log: Path) -> dict[str, Any]:
    """`gongyu serve` with its worker; each file uploaded over HTTP and followed to published."""
    from catalog.access.principal import Role

    _, key = platform.keys.create(AGENCY, Role.steward, "steward_loop benchmark")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GONGYU_HOME": str(platform.workspace.root)}
    cmd = [str(BIN / "gongyu"), "serve", "--workspace", str(platform.workspace.root)]
    started = time.perf_counter()
    with serving([*cmd, "--port", str(port)], env, f"{url}/healthz", log):
        while "delivery worker ready" not in log.read_text(errors="replace"):
            if time.perf_counter() - started > 180:
                raise RuntimeError(f"the delivery worker did not start; see {log}")
            time.sleep(0.1)
        ready = time.perf_counter() - started
        headers = {"Authorization": f"Bearer {key}"}
        # Each upload after a pause at random in the worker's poll interval, as a steward's
        # upload falls at any point of it (right after a publish it would always fall early).
        pauses = random.Random(0)
        poll = platform.settings.worker_poll_seconds
        runs = []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for file in files:
                time.sleep(pauses.uniform(0, poll))
                runs.append(_upload(platform, client, file))
    return {"ready_seconds": ready, "runs": runs}


def _upload(platform: Platform, client: httpx.Client, file: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with file.open("rb") as f:
        answer = client.post(
            f"/api/v1/datasets/{DATASET}/deliveries", files={"file": (file.name, f, "text/csv")}
        )
    answer.raise_for_status()
    uploaded = time.perf_counter() - started
    delivery_id = answer.json()["delivery_id"]
    while (state := client.get(f"/api/v1/deliveries/{delivery_id}").json()["state"]) not in DONE:
        if time.perf_counter() - started > 300:
            break
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    return _result(platform, delivery_id, seconds, state == "published") | {
        "upload_seconds": uploaded
    }


def _result(platform: Platform, delivery_id: str, seconds: float, ok: bool) -> dict[str, Any]:
    delivery = platform.deliveries.get(delivery_id)
    return {
        "delivery_id": delivery_id,
        "ok": ok,
        "seconds": seconds,
        "gate_seconds": delivery.seconds,  # the ledger's own time of the run's process_delivery
        "rows": delivery.rows,
    }


def median(runs: list[dict[str, Any]]) -> float | None:
    """The median seconds of the runs that published (None if none did)."""
    ok = [r["seconds"] for r in runs if r["ok"]]
    return statistics.median(ok) if ok else None


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the workspace, then the in-process, shell and served measurements."""
    from gongyu.demo import DATA_DIR

    out = WORK / "steward-loop"
    out.mkdir(parents=True, exist_ok=True)
    source = DATA_DIR / SOURCE
    total = args.in_process_runs + args.shell_runs + args.uploads
    files = [rotated(source, i + 1, out / f"koroad_2020_rotated_{i + 1}.csv") for i in range(total)]
    print("building the demo's workspace (run_demo)...", flush=True)
    started = time.perf_counter()
    platform = build_workspace(out / "ws")
    print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    print(f"in-process: deliver + process_delivery x{args.in_process_runs}...", flush=True)
    warm = [in_process(platform, f) for f in files[: args.in_process_runs]]
    files = files[args.in_process_runs :]
    print(f"shell: gongyu deliver + gongyu run x{args.shell_runs}...", flush=True)
    cold = [shell(platform, f) for f in files[: args.shell_runs]]
    files = files[args.shell_runs :]
    print(f"served: gongyu serve, {args.uploads} uploads over HTTP...", flush=True)
    http = served(platform, files, WORK / "steward-loop-serve.log")
    return {
        "file": SOURCE,
        "file_kib": source.stat().st_size / 1024,
        "in_process": warm,
        "shell": cold,
        "served": http,
    }


def render(results: dict[str, Any]) -> str:
    """Each figure, the medians, the ratios and the target."""
    rows = []
    for label, runs in (
        ("served: upload -> published", results["served"]["runs"]),
        ("shell: deliver + run", results["shell"]),
        ("in-process: process_delivery", results["in_process"]),
    ):
        for i, r in enumerate(runs, 1):
            extra = r.get("upload_seconds", r.get("deliver_seconds"))
            rows.append(
                [
                    f"{label} #{i}",
                    f"{r['seconds']:.2f}" if r["ok"] else "FAILED",
                    f"{extra:.2f}" if extra is not None else "",
                    f"{r['gate_seconds'] or 0:.2f}",
                    f"{r['rows'] or 0:,}",
                ]
            )
    header = ["measurement", "seconds", "upload/deliver s", "gate s", "rows"]
    m = results["medians"]
    shown = {k: f"{v:.2f} s" if v is not None else "n/a" for k, v in m.items()}
    ratios = results["ratios"]
    lines = [
        "",
        f"file {results['file']} ({results['file_kib']:.0f} KiB), "
        f"worker ready {results['served']['ready_seconds']:.1f} s after `gongyu serve` started",
        "",
        table(header, rows),
        "",
        f"median served {shown['served']} · shell {shown['shell']} · "
        f"in-process {shown['in_process']}",
    ]
    if ratios["served_to_shell"] is not None:
        lines.append(
            f"ratio served/shell {ratios['served_to_shell']:.2f}x · "
            f"served/in-process {ratios['served_to_in_process']:.2f}x"
        )
    target = results["target"]
    value = "n/a" if target["value"] is None else f"{target['value']:.2f} s"
    verdict = "PASS" if target["pass"] else "MISS"
    lines.append(f"target: median upload -> published <= {TARGET_SECONDS:g} s: {value}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Measure, print and save; exit 1 only when a delivery was not published."""
    parser = argparse.ArgumentParser(prog="python -m bench steward_loop", description=__doc__)
    parser.add_argument("--uploads", type=int, default=5, help="HTTP uploads (default 5)")
    parser.add_argument("--shell-runs", type=int, default=1, help="deliver + run (default 1)")
    parser.add_argument(
        "--in-process-runs", type=int, default=3, help="process_delivery runs (default 3)"
    )
    args = parser.parse_args(argv)
    results = under_load(lambda: measure(args))
    medians = {
        "served": median(results["served"]["runs"]),
        "shell": median(results["shell"]),
        "in_process": median(results["in_process"]),
    }
    results["medians"] = medians
    both = medians["served"] is not None and medians["shell"] and medians["in_process"]
    results["ratios"] = {
        "served_to_shell": medians["served"] / medians["shell"] if both else None,
        "served_to_in_process": medians["served"] / medians["in_process"] if both else None,
    }
    served_median = medians["served"]
    results["target"] = {
        "value": served_median,
        "pass": served_median is not None and served_median <= TARGET_SECONDS,
    }
    print(render(results))
    save(WORK / "results-steward-loop.json", "steward_loop", vars(args), results)
    every = [*results["served"]["runs"], *results["shell"], *results["in_process"]]
    return 0 if all(r["ok"] for r in every) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
