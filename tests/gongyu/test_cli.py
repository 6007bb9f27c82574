"""The `gongyu` command as a steward runs it: a real process, real files, clean errors."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.deliveries import DeliveryState
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.conftest import REPO, data_file

GONGYU = str(Path(sys.executable).with_name("gongyu"))
KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


def gongyu(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    if "PYTHONPATH" in os.environ:  # a worktree's checkout, not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    if env_home:
        env["GONGYU_HOME"] = str(env_home)
    return subprocess.run(
        [GONGYU, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=600
    )


def test_contracts_list_json() -> None:
    done = gongyu("contracts", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) >= 8
    assert {r["sector"] for r in rows} == {
        "environment_energy",
        "transport_logistics",
        "finance_insurance",
        "welfare_safety",
        "industry_sme",
    }
    kotsa = next(r for r in rows if r["id"] == "kotsa_car_inspection_centers")
    assert kotsa["table"] == "transport_logistics.kotsa_car_inspection_centers"
    assert Path(kotsa["path"]).is_file()


def test_contracts_lint_points_at_file_and_field(tmp_path: Path) -> None:
    good = REPO / "contracts/transport_logistics/kotsa/kotsa_car_inspection_centers.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text(encoding="utf-8").replace("value: kotsa}", "value: nowhere}", 1),
        encoding="utf-8",
    )
    done = gongyu("contracts", "lint", str(bad))
    assert done.returncode == 1
    assert f"{bad}:customProperties.agency: unknown agency 'nowhere'" in done.stdout
    assert gongyu("contracts", "lint", str(good)).returncode == 0


def test_deliver_run_status(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = gongyu(
        "deliver", "kotsa_car_inspection_centers", str(data_file(KOTSA)), "--workspace", str(ws)
    )
    assert first.returncode == 0, first.stderr
    again = gongyu("deliver", "kotsa_car_inspection_centers", str(data_file(KOTSA)), env_home=ws)
    assert "already delivered" in again.stdout
    ran = gongyu("run", "--workspace", str(ws))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    shown = json.loads(gongyu("status", "--json", env_home=ws).stdout)
    status = shown["deliveries"]
    assert len(status) == 1
    assert set(status[0]) == {
        "dataset_id",
        "delivery_id",
        "state",
        "reasons",
        "rows",
        "snapshot_id",
        "attempts",
        "lease_owner",
        "lease_until",
        "inputs",  # a joint product's build: the input snapshots it read (None here)
    }
    assert status[0]["inputs"] is None
    assert status[0]["state"] == "published" and status[0]["rows"] == 59
    assert (status[0]["attempts"], status[0]["lease_owner"]) == (1, None)
    assert status[0]["snapshot_id"]
    freshness = {f["dataset_id"]: f for f in shown["freshness"]}
    assert freshness["kotsa_car_inspection_centers"]["state"] == "fresh"
    assert freshness["kotsa_car_inspection_centers"]["max_age"] == 396 * 86400  # seconds
    assert freshness["koica_oda_by_income_group"]["state"] == "never_published"


def test_status_shows_a_stale_dataset(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    platform = Platform(Settings(home=ws))
    delivery, _ = platform.deliver("kotsa_car_inspection_centers", data_file(KOTSA))
    ledger = platform.deliveries
    ledger.claim(delivery.delivery_id, "test")
    # Published a year and two months ago: a yearly SLA with 30 days' latency is missed.
    published = datetime.now(UTC) - timedelta(days=430)
    ledger.set_state(delivery.delivery_id, DeliveryState.published, updated_at=published)

    shown = gongyu("status", "-w", str(ws))
    assert shown.returncode == 0, shown.stderr
    [line] = [
        ln
        for ln in shown.stdout.splitlines()
        if "kotsa_car_inspection_centers" in ln and "stale" in ln
    ]
    assert f"{published:%Y-%m-%d %H:%M}" in line and "396 d" in line
    assert f"{published + timedelta(days=396):%Y-%m-%d %H:%M}" in line
    assert "seoul_daily_air_quality_2017" in shown.stdout and "no_sla" in shown.stdout

    late = gongyu("status", "--stale", "--json", "-w", str(ws))
    assert late.returncode == 1
    only = json.loads(late.stdout)
    assert [f["dataset_id"] for f in only["freshness"]] == ["kotsa_car_inspection_centers"]
    assert only["freshness"][0]["state"] == "stale"
    assert [d["delivery_id"] for d in only["deliveries"]] == [delivery.delivery_id]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deliver", "no_such_dataset", "README.md"), "unknown dataset 'no_such_dataset'"),
        (("deliver", "kotsa_car_inspection_centers", "missing.csv"), "missing.csv: no such file"),
    ],
)
def test_errors_are_messages_not_tracebacks(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = gongyu(*args, "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# A parent that calls the CLI's entry hook, then maps signals as Dagster's processes do, and starts
# a child that does the same (as `gongyu demo` starts `dagster dev`); both then wait for a signal.
SIGNAL_TREE = """
import subprocess, sys, time
from dagster._utils.interrupts import setup_interrupt_handlers
from gongyu.cli import hear_interrupts
hear_interrupts()
setup_interrupt_handlers()
child = (
    "from dagster._utils.interrupts import setup_interrupt_handlers as s; s(); "
    "import time; print('ready', flush=True); time.sleep(120)"
)
with subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True) as p:
    p.stdout.readline()
    print("ready", flush=True)
    time.sleep(120)
"""


def test_sigterm_stops_the_demo_started_by_a_script() -> None:
    # A background job of a script starts with SIGINT ignored; Dagster maps SIGTERM onto SIGINT.
    tree = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_TREE],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert tree.stdout is not None and tree.stdout.readline() == "ready\n"
    os.killpg(tree.pid, signal.SIGTERM)
    try:
        tree.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(tree.pid, signal.SIGKILL)
    assert not living(tree.pid), "a process of the tree ignored SIGTERM"


def living(group: int, seconds: float = 5) -> list[str]:
    """The group's processes still running once `seconds` have passed: a process that ended is
    listed as a zombie until its parent (here PID 1, slow under load) reaps it."""
    deadline = time.monotonic() + seconds
    while True:
        listed = subprocess.run(
            ["ps", "-o", "pid=,stat=", "-g", str(group)], capture_output=True, text=True
        ).stdout.split("\n")
        alive = [line for line in listed if line.strip() and "Z" not in line.split()[1]]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_requests_from_the_shell(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    dataset = "police_drunk_driving_detections"  # decided by knpa and the welfare secretariat
    asked = gongyu(
        "requests", "ask", dataset, "--agency", "koroad", "--purpose", "음주운전 사고 분석",
        "--legal-basis", "pseudonymised_research", "--columns", "blood_alcohol",
        env_home=ws,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    request_id = asked.stdout.split()[1].rstrip(":")
    own = gongyu("requests", "approve", request_id, "--agency", "koroad", env_home=ws)
    assert own.returncode == 1 and "own agency" in own.stderr
    listed = gongyu("requests", "list", "--agency", "knpa", "--json", env_home=ws)
    [waiting] = json.loads(listed.stdout)
    assert (waiting["request_id"], waiting["state"]) == (request_id, "pending")
    first = gongyu("requests", "approve", request_id, "--agency", "knpa", env_home=ws)
    assert "waiting for secretariat" in first.stdout, first.stderr
    done = gongyu(
        "requests", "approve", request_id, "--agency", "nhis", "--role", "secretariat",
        env_home=ws,
    )  # fmt: skip
    assert "approved, grant" in done.stdout, done.stderr
    again = gongyu(
        "requests", "ask", dataset, "--agency", "kotsa", "--purpose", "검사소 연계",
        "--legal-basis", "statute", "--legal-basis-detail", "자동차관리법 제43조",
        env_home=ws,
    )  # fmt: skip
    second = again.stdout.split()[1].rstrip(":")
    denied = gongyu(
        "requests", "deny", second, "--agency", "knpa", "--reason", "목적 불분명", env_home=ws
    )
    assert denied.stdout.strip().endswith("denied"), denied.stderr
    grants = gongyu("grants", "list", "--json", env_home=ws)
    assert [(g["agency"], g["columns"]) for g in json.loads(grants.stdout)] == [
        ("koroad", ["blood_alcohol"])
    ]
