"""The Dagster UI serves Gongyu's assets, their checks and the runs of a workspace."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assets.runner import run_pending
from gongyu.platform import Platform
from tests.conftest import REPO, data_file

QUERY = """{
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
  runsOrError { ... on Runs { results { runId status tags { key value } } } }
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


@pytest.mark.slow
def test_dagster_webserver_shows_assets_checks_and_runs(platform: Platform) -> None:
    platform.deliver(
        "kotsa_car_inspection_centers",
        data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv"),
    )
    [(delivery, run_id)] = list(run_pending(platform))
    port = free_port()
    env = {
        **os.environ,
        "GONGYU_HOME": str(platform.workspace.root),
        "DAGSTER_HOME": str(platform.workspace.dagster_home),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
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
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                data = graphql(port)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "webserver did not answer in 120 s"
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    nodes = {tuple(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    kotsa = nodes[("transport_logistics", "kotsa", "kotsa_car_inspection_centers")]
    assert kotsa["groupName"] == "transport_logistics"
    checks = kotsa["assetChecksOrError"]["checks"]
    assert {"readable", "schema", "types"} <= {c["name"] for c in checks}
    assert all(c["blocking"] for c in checks)
    assert len(nodes) == len(platform.contracts)
    runs = {r["runId"]: r for r in data["runsOrError"]["results"]}
    assert runs[run_id]["status"] == "SUCCESS"
    assert {"key": "gongyu/delivery", "value": delivery.delivery_id} in runs[run_id]["tags"]
