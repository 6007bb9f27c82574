"""The demo's Dagster: `dagster-daemon` on a workspace runs a dropped file from its sensor, and the
UI inside `gongyu serve` (`/dagster`, signed in as an operator) shows the assets, checks and
runs (an approved contract reaching the UI at once: tests/api/test_dagster_ui.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from assets.freshness import FRESHNESS_JOB
from assets.runner import dagster_home
from catalog.access.principal import Role
from catalog.deliveries import DeliveryState
from gongyu.platform import Platform
from tests.api.web_session import sign_in
from tests.api.world import free_port
from tests.conftest import REPO, data_file

QUERY = """{
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
  runsOrError { ... on Runs { results { runId jobName status tags { key value } } } }
}"""


def graphql(client: httpx.Client) -> dict:
    answer = client.post("/dagster/graphql", json={"query": QUERY})
    answer.raise_for_status()
    return answer.json()["data"]


def delivery_runs(data: dict) -> list[dict]:
    """The runs of deliveries (the freshness sensor launches runs of its own)."""
    runs = data["runsOrError"]["results"]
    return [r for r in runs if any(t["key"] == "gongyu/delivery" for t in r["tags"])]


def wait_for(
    predicate: Callable[[], bool], seconds: float, what: str, servers: list[subprocess.Popen]
) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert all(s.poll() is None for s in servers), f"a server exited waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s"
        time.sleep(1)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_the_daemon_runs_dropped_files_and_the_ui_shows_assets_checks_runs(
    platform: Platform,
) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    zone = platform.workspace.landing / contract.agency / contract.id
    zone.mkdir(parents=True)
    port, bin_dir = free_port(), Path(sys.executable).parent
    root = str(platform.workspace.root)
    env = {
        **os.environ,
        "GONGYU_HOME": root,
        "GONGYU_DAGSTER_UI": "true",
        "DAGSTER_HOME": str(dagster_home(platform.workspace)),
    }
    operator = platform.keys.create("kotsa", Role.operator, "test operator")[1]
    commands = (
        [str(bin_dir / "gongyu"), "serve", "--no-worker", "--workspace", root, "--port", str(port)],
        [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
    )
    servers = [
        subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for command in commands
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(url), 180, "API with Dagster's UI", servers)
        client = sign_in(url, operator)
        shutil.copy(
            data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv"),
            zone / "drop.csv",
        )

        def published() -> bool:
            done = platform.deliveries.list(states=(DeliveryState.published,))
            return bool(done)

        wait_for(published, 240, "published delivery from the daemon's sensor", servers)

        data: dict = {}

        def run_finished() -> bool:
            # The delivery is published inside the run; the run ends a moment later.
            data.update(graphql(client))
            done = {"SUCCESS", "FAILURE", "CANCELED"}
            runs = delivery_runs(data)
            checked = [r for r in data["runsOrError"]["results"] if r["jobName"] == FRESHNESS_JOB]
            return bool(runs and checked) and {runs[0]["status"], checked[-1]["status"]} <= done

        wait_for(run_finished, 120, "finished run in the UI", servers)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:  # never leave a daemon behind on a slow machine
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    [delivery] = platform.deliveries.list()
    assert delivery.rows == 59 and delivery.filename == "drop.csv"
    nodes = {tuple(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert len(nodes) == len(platform.contracts)
    kotsa = nodes[("transport_logistics", "kotsa", "kotsa_car_inspection_centers")]
    assert kotsa["groupName"] == "transport_logistics"
    checks = kotsa["assetChecksOrError"]["checks"]
    assert {"readable", "schema", "types", "primary_key"} <= {c["name"] for c in checks}
    # The gate's checks block; freshness (run apart by its sensor) only reports.
    assert {c["name"] for c in checks if not c["blocking"]} == {"freshness"}
    [run] = delivery_runs(data)
    # The daemon's freshness sensor ran the freshness checks on its first tick.
    freshness_runs = [r for r in data["runsOrError"]["results"] if r["jobName"] == FRESHNESS_JOB]
    assert freshness_runs[-1]["status"] == "SUCCESS"
    assert run["status"] == "SUCCESS"
    assert {"key": "gongyu/delivery", "value": delivery.delivery_id} in run["tags"]
