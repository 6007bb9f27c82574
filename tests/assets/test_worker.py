"""The delivery worker's loop: Definitions rebuilt only when the contracts change, a failing
delivery or poll logged and gone past, and a stop on request."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from assets.factory import asset_key
from assets.worker import DeliveryWorker
from catalog.deliveries import DeliveryState
from contracts.loader import DEFAULT_DIR
from gongyu.delivery.admit import RUN_ATTEMPTS
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.conftest import data_file

CRIME = "police_crime_by_region_2015"
CRIME_FILE = "welfare_safety/police_crime_by_region_20151231.csv"
KOTSA = "kotsa_car_inspection_centers"
KOTSA_FILE = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
KOICA = "koica_oda_by_income_group"
KOICA_FILE = "finance_insurance/koica_oda_by_income_group_20210521.csv"


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    """A fresh workspace over a copy of the shipped contracts (the tests change them)."""
    contracts = tmp_path / "contracts"
    shutil.copytree(DEFAULT_DIR, contracts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return Platform(Settings(home=tmp_path / "ws", contracts_dir=contracts))


def contract_file(platform: Platform, dataset_id: str) -> Path:
    return Path(platform.contract(dataset_id).path)


@contextmanager
def running(worker: DeliveryWorker) -> Iterator[threading.Thread]:
    """`worker.run()` in a thread; stopped at the end, and seen to stop."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.stop()
        thread.join(timeout=30)  # at most the run under way
    assert not thread.is_alive()


def wait_for(done: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"waited {seconds:.0f}s for {what}"
        time.sleep(0.05)


def asset_keys(defs: dg.Definitions) -> set[dg.AssetKey]:
    return {key for asset in defs.assets or () for key in asset.keys}  # type: ignore[union-attr]


def ends(platform: Platform, delivery_id: str, state: DeliveryState) -> None:
    """Wait until the delivery is in `state`."""
    wait_for(lambda: platform.deliveries.get(delivery_id).state == state, f"{delivery_id} {state}")


def test_definitions_are_rebuilt_only_when_the_contracts_change(platform: Platform) -> None:
    worker = DeliveryWorker(platform)
    key = asset_key(platform.contract(CRIME))
    first = worker.definitions()
    assert worker.definitions() is first
    path = contract_file(platform, CRIME)
    moved = path.rename(path.with_suffix(".withdrawn"))
    without = worker.definitions()
    assert without is not first and key not in asset_keys(without)
    assert worker.definitions() is without
    moved.rename(path)
    assert key in asset_keys(worker.definitions())


def test_a_failing_delivery_is_logged_and_the_loop_goes_on(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="assets.worker")
    kotsa = platform.contract(KOTSA)
    # A file where its table's folder goes: every run of it stops while publishing.
    blocked = platform.workspace.root / "warehouse" / kotsa.sector / kotsa.id
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("in the way")
    failing, _ = platform.deliver(KOTSA, data_file(KOTSA_FILE))
    good, _ = platform.deliver(CRIME, data_file(CRIME_FILE))
    worker = DeliveryWorker(platform, poll_seconds=0.05, retry_seconds=0.1)
    with running(worker):
        ends(platform, good.delivery_id, DeliveryState.published)
        ends(platform, failing.delivery_id, DeliveryState.quarantined)  # after RUN_ATTEMPTS runs
        later, _ = platform.deliver(KOICA, data_file(KOICA_FILE))
        ends(platform, later.delivery_id, DeliveryState.published)
    lines = [r.getMessage() for r in caplog.records]
    assert f"{CRIME} {good.delivery_id} published, 38 rows" in "\n".join(lines)
    failed = [line for line in lines if line.startswith(f"{KOTSA} {failing.delivery_id} failed")]
    assert len(failed) == RUN_ATTEMPTS and "NotADirectoryError" in failed[0]
    assert platform.deliveries.get(later.delivery_id).rows == 172


def test_a_failing_poll_is_logged_and_retried(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="assets.worker")
    home = platform.workspace.dagster_home
    worker = DeliveryWorker(platform, poll_seconds=0.05, retry_seconds=0.1)
    with running(worker) as thread:
        wait_for(lambda: any("ready" in r.getMessage() for r in caplog.records), "warm-up")
        aside = home.rename(home.with_name("dagster.aside"))
        home.write_text("not a folder")  # Dagster's instance cannot open: the poll fails
        delivery, _ = platform.deliver(CRIME, data_file(CRIME_FILE))
        wait_for(lambda: any("poll failed" in r.getMessage() for r in caplog.records), "a log")
        assert thread.is_alive()
        home.unlink()
        aside.rename(home)  # back: the next poll runs the delivery
        ends(platform, delivery.delivery_id, DeliveryState.published)


def test_a_delivery_whose_contract_is_withdrawn_waits_and_the_others_run(
    platform: Platform,
) -> None:
    waiting, _ = platform.deliver(CRIME, data_file(CRIME_FILE))
    other, _ = platform.deliver(KOICA, data_file(KOICA_FILE))
    path = contract_file(platform, CRIME)
    moved = path.rename(path.with_suffix(".withdrawn"))
    worker = DeliveryWorker(platform, poll_seconds=0.05, retry_seconds=0.1)
    with running(worker):
        ends(platform, other.delivery_id, DeliveryState.published)
        assert platform.deliveries.get(waiting.delivery_id).state == DeliveryState.received
        moved.rename(path)  # back: the Definitions are rebuilt and the delivery runs
        ends(platform, waiting.delivery_id, DeliveryState.published)
