"""The steward's loop over a real `gongyu serve`: an upload is published (or quarantined) by the
delivery worker serve starts, with no other command; serve and its worker stop as one."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.access.principal import Role
from gongyu.demo import bad_value
from tests.api.served_process import GONGYU, Process, served_process
from tests.api.world import OWNER, free_port
from tests.conftest import REPO, data_file

CRIME = "police_crime_by_region_2015"
CRIME_FILE = "welfare_safety/police_crime_by_region_20151231.csv"
DONE = ("published", "quarantined")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with served_process(tmp_path_factory.mktemp("steward-loop"), worker=True) as w:
        yield w


def delivered(w: Process, file: Path, seconds: float = 60) -> dict[str, Any]:
    """Upload `file` as the owning steward, then follow the delivery until it is done."""
    with w.client(OWNER, Role.steward) as c, file.open("rb") as f:
        landed = c.post(
            f"/api/v1/datasets/{CRIME}/deliveries", files={"file": (file.name, f, "text/csv")}
        )
        assert landed.status_code == 202, landed.text
        delivery_id = landed.json()["delivery_id"]
        deadline = time.monotonic() + seconds
        while True:
            body: dict[str, Any] = c.get(f"/api/v1/deliveries/{delivery_id}").json()
            if body["state"] in DONE:
                return body
            assert time.monotonic() < deadline, f"still {body['state']} after {seconds:.0f}s"
            time.sleep(0.1)


def test_an_upload_is_published_with_no_other_command(served: Process) -> None:
    body = delivered(served, data_file(CRIME_FILE))
    assert (body["state"], body["rows"], body["reasons"]) == ("published", 38, [])
    table = served.platform.contract(CRIME).table
    answer = served.sql(OWNER, f"SELECT count(*) FROM {table}")
    assert answer.json()["rows"] == [[38]], answer.text


def test_a_file_that_fails_the_gate_ends_quarantined(served: Process, tmp_path: Path) -> None:
    bad = bad_value(data_file(CRIME_FILE), tmp_path / "crime_bad.csv", "서울", 3, "많음")
    body = delivered(served, bad)
    assert body["state"] == "quarantined"
    assert any("서울" in reason for reason in body["reasons"]), body["reasons"]


@contextmanager
def serve(root: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`gongyu serve` on an empty workspace, in a process group of its own, once its API answers
    and its worker is ready; yields the process and its log."""
    log = root / "serve.log"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [GONGYU, "serve", "--workspace", str(root / "ws"), "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not (answers(port) and "delivery worker ready" in log.read_text()):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gongyu serve did not start"
            time.sleep(0.2)
        yield proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def processes() -> Iterator[tuple[int, int, int, str]]:
    """(pid, parent, process group, command line) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The fields after the command name's last ')': state, parent, group.
            _, parent, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue  # not a process, or it ended while being read
        yield int(entry.name), int(parent), int(pgrp), command


def group(leader: int) -> list[str]:
    """The command lines of the processes left in `leader`'s process group."""
    return [command for _, _, pgrp, command in processes() if pgrp == leader]


def test_sigterm_stops_serve_and_its_worker(tmp_path: Path) -> None:
    with serve(tmp_path) as (proc, log):
        assert len(group(proc.pid)) == 3, group(proc.pid)  # serve, the API, the worker
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # to serve alone: it stops the other two
        assert proc.wait(timeout=20) == 0, log.read_text()
        assert time.monotonic() - started < 10
        assert group(proc.pid) == []
    assert "Traceback" not in log.read_text()


def test_a_worker_that_dies_ends_serve(tmp_path: Path) -> None:
    with serve(tmp_path) as (proc, log):
        [worker] = [
            pid
            for pid, parent, _, command in processes()
            if parent == proc.pid and " worker " in command
        ]
        os.kill(worker, signal.SIGKILL)
        assert proc.wait(timeout=20) == 1
        assert group(proc.pid) == []
    said = " ".join(log.read_text().split())
    assert "the delivery worker (gongyu worker) stopped by itself (exit code -9)" in said
