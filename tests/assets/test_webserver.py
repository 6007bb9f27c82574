"""`dagster dev` on a workspace: the daemon's sensor runs a dropped file; the UI shows it all."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pydantic import HttpUrl

from assets.freshness import FRESHNESS_JOB
from assets.runner import dagster_home
from assets.worker import DeliveryWorker
from catalog.access.principal import Principal, Role
from catalog.deliveries import DeliveryState
from gongyu.platform import Platform
from tests.conftest import REPO, data_file

QUERY = """{
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
  runsOrError { ... on Runs { results { runId jobName status tags { key value } } } }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def delivery_runs(data: dict) -> list[dict]:
    """The runs of deliveries (the freshness sensor launches runs of its own)."""
    runs = data["runsOrError"]["results"]
    return [r for r in runs if any(t["key"] == "gongyu/delivery" for t in r["tags"])]


def wait_for(predicate, seconds: float, what: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert server.poll() is None, f"dagster dev exited while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s"
        time.sleep(1)


def approved_contract_reaches_the_ui(platform: Platform, port: int) -> None:
    """A contract approved in the catalog: the worker's next look reloads the UI, which shows
    its asset (no restart of `dagster dev`)."""
    settings = platform.settings.model_copy(
        update={"dagster_url": HttpUrl(f"http://127.0.0.1:{port}")}
    )
    worker = DeliveryWorker(Platform(settings))
    worker.definitions()
    text = platform.contract("kotsa_car_inspection_centers").text.replace(
        "id: kotsa_car_inspection_centers", "id: kotsa_centers_approved"
    )
    steward = Principal(subject="t", agency="kotsa", role=Role.steward, via="api_key")
    operator = Principal(subject="o", agency="kotsa", role=Role.operator, via="api_key")
    reviews = worker.platform.contract_reviews
    reviews.submit(steward, text)
    reviews.approve(
        operator,
        "kotsa_centers_approved",
        platform.contract("kotsa_car_inspection_centers").version,
    )
    worker.definitions()
    keys = {tuple(n["assetKey"]["path"]) for n in graphql(port)["assetNodes"]}
    assert ("transport_logistics", "kotsa", "kotsa_centers_approved") in keys


@pytest.mark.slow
def test_dagster_dev_runs_dropped_files_and_shows_assets_checks_runs(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    zone = platform.workspace.landing / contract.agency / contract.id
    zone.mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        "GONGYU_HOME": str(platform.workspace.root),
        "DAGSTER_HOME": str(dagster_home(platform.workspace)),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        shutil.copy(
            data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv"),
            zone / "drop.csv",
        )

        def published() -> bool:
            done = platform.deliveries.list(states=(DeliveryState.published,))
            return bool(done)

        wait_for(published, 240, "published delivery from the daemon's sensor", server)

        data: dict = {}

        def run_finished() -> bool:
            # The delivery is published inside the run; the run ends a moment later.
            try:
                data.update(graphql(port))
            except OSError:
                return False
            done = {"SUCCESS", "FAILURE", "CANCELED"}
            runs = delivery_runs(data)
            checked = [r for r in data["runsOrError"]["results"] if r["jobName"] == FRESHNESS_JOB]
            return bool(runs and checked) and {runs[0]["status"], checked[-1]["status"]} <= done

        wait_for(run_finished, 120, "finished run in the webserver", server)
        approved_contract_reaches_the_ui(platform, port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
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
