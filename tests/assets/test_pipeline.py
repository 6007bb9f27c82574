"""Real agency files through Dagster: the sensor, materialize, blocking checks, quarantine."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import build_definitions
from assets.factory import asset_key, contract_asset, partitions_name
from assets.runner import dagster_instance, landing_zone_tick, run_pending
from catalog.deliveries import DeliveryState
from gongyu.delivery.admit import RUN_ATTEMPTS
from gongyu.delivery.way import process_delivery
from gongyu.demo import bad_value
from gongyu.platform import Platform
from tests.conftest import data_file
from tests.published import read_arrow

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


def kotsa_names(path: Path) -> set[str]:
    """Inspection-centre names read straight from the CP949 file, without Gongyu."""
    lines = path.read_bytes().decode("cp949").splitlines()[1:]
    return {ln.split(",")[0] for ln in lines if ln}


def tick(platform: Platform) -> dg.SensorResult:
    """One landing-zone sensor tick on the workspace's Dagster instance."""
    with dagster_instance(platform.workspace) as instance:
        return landing_zone_tick(build_definitions(platform), instance)


def test_sensor_requests_a_run_per_delivery_and_the_rows_land(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    delivery, _ = platform.deliver(contract.id, data_file(KOTSA))
    result = tick(platform)
    assert [r.partition_key for r in result.run_requests] == [delivery.delivery_id]
    assert result.run_requests[0].asset_selection == [asset_key(contract)]
    assert result.dynamic_partitions_requests[0].partitions_def_name == partitions_name(contract)

    [(done, run_id)] = list(run_pending(platform))
    assert done.state == DeliveryState.published
    table = read_arrow(platform.lakehouse.catalog, contract.table)
    assert table.num_rows == done.rows == 59
    # Korean text from the CP949 file arrives intact.
    first = contract.columns[0].name
    assert set(table[first].to_pylist()) == kotsa_names(data_file(KOTSA))
    snapshot = platform.lakehouse.catalog.load_table(contract.table).current_snapshot()
    assert str(snapshot.snapshot_id) == done.snapshot_id
    assert snapshot.summary["gongyu.delivery"] == done.delivery_id
    assert snapshot.summary["gongyu.contract-version"] == contract.version
    assert int(snapshot.summary["gongyu.checks-failed"]) == 0
    with dagster_instance(platform.workspace) as instance:
        assert instance.get_run_by_id(run_id).is_success


def test_bad_delivery_is_quarantined_and_main_is_untouched(
    platform: Platform, tmp_path: Path
) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    platform.deliver(contract.id, data_file(KOTSA))
    [(good, _)] = list(run_pending(platform))
    before = platform.lakehouse.catalog.load_table(contract.table).metadata.current_snapshot_id

    bad_file = bad_value(data_file(KOTSA), tmp_path / "bad.csv", "검사진로수", 5, "3개")
    platform.deliver(contract.id, bad_file)
    [(bad, run_id)] = list(run_pending(platform))
    assert bad.state == DeliveryState.quarantined
    assert any("3개" in r or "검사진로수" in r for r in bad.reasons), bad.reasons

    table = platform.lakehouse.catalog.load_table(contract.table)
    assert table.metadata.current_snapshot_id == before
    assert read_arrow(platform.lakehouse.catalog, contract.table).num_rows == good.rows
    report = (platform.workspace.results / contract.id / bad.delivery_id / "report.txt").read_text()
    assert "검사진로수" in report and "row 5" in report
    assert "1 of them held a value that did not cast" in report
    assert platform.landing.path(bad.landing_key).read_bytes() == bad_file.read_bytes()

    with dagster_instance(platform.workspace) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.is_failure
        checks = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        evaluations = {
            r.event_log_entry.dagster_event.event_specific_data.check_name: (
                r.event_log_entry.dagster_event.event_specific_data.passed
            )
            for r in checks
        }
    assert evaluations["types"] is False
    assert evaluations["readable"] is True


def test_file_dropped_in_the_landing_zone_becomes_a_run(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    zone = platform.workspace.landing / contract.agency / contract.id
    zone.mkdir(parents=True)
    shutil.copy(data_file(KOTSA), zone / "drop.csv")
    [(delivery, _)] = list(run_pending(platform))
    assert delivery.state == DeliveryState.published
    assert delivery.filename == "drop.csv"
    # Moved, not copied, into its delivery folder: the raw bytes are there, once.
    assert not (zone / "drop.csv").exists()
    landed = platform.landing.path(delivery.landing_key)
    assert landed.parent.parent == zone
    assert landed.read_bytes() == data_file(KOTSA).read_bytes()
    assert list(run_pending(platform)) == []  # nothing new on the next tick

    shutil.copy(data_file(KOTSA), zone / "again.csv")  # the same bytes dropped again
    assert list(run_pending(platform)) == []
    [hidden] = zone.glob(f".duplicate-of-{delivery.delivery_id}-again.csv")
    assert hidden.read_bytes() == data_file(KOTSA).read_bytes()
    assert len(platform.deliveries.list()) == 1


def test_materialize_one_partition(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    delivery, _ = platform.deliver(contract.id, data_file(KOTSA))
    asset = contract_asset(contract)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(partitions_name(contract), [delivery.delivery_id])
    result = dg.materialize(
        [asset],
        partition_key=delivery.delivery_id,
        instance=instance,
        resources={"gongyu": platform},
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node(asset.node_def.name)
    assert materialization.metadata["rows"].value == 59
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_a_delivery_whose_worker_died_runs_again_once_its_lease_lapses(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGYU_DELIVERY_LEASE_SECONDS", "0.5")  # the resource's platform too
    platform = Platform(platform.settings.model_copy(update={"delivery_lease_seconds": 0.5}))
    contract = platform.contract("kotsa_car_inspection_centers")
    delivery, _ = platform.deliver(contract.id, data_file(KOTSA))
    platform.deliveries.claim(delivery.delivery_id, "killed-worker")  # and it renews no more
    assert platform.deliveries.pending() == []  # its lease still holds
    time.sleep(0.6)
    [request] = tick(platform).run_requests
    # A new run key: Dagster would skip a request with the first run's key.
    assert (request.partition_key, request.run_key) == (
        delivery.delivery_id,
        f"{delivery.delivery_id}.1",
    )
    [(done, _)] = list(run_pending(platform))
    assert (done.state, done.attempts, done.lease_owner) == (DeliveryState.published, 2, None)


def test_a_delivery_that_stops_every_run_is_quarantined_after_the_last_attempt(
    platform: Platform,
) -> None:
    platform = Platform(platform.settings.model_copy(update={"delivery_lease_seconds": 0.05}))
    contract = platform.contract("kotsa_car_inspection_centers")
    delivery, _ = platform.deliver(contract.id, data_file(KOTSA))
    for attempt in range(RUN_ATTEMPTS):  # each worker killed mid-run
        platform.deliveries.claim(delivery.delivery_id, f"worker-{attempt}")
        time.sleep(0.06)
    outcome = process_delivery(platform, delivery.delivery_id)
    assert outcome.delivery.state == DeliveryState.quarantined
    [reason] = outcome.delivery.reasons
    assert reason.startswith(f"{RUN_ATTEMPTS} runs stopped before finishing this delivery")
    assert "delivery:run-attempts" in outcome.report
    assert platform.lakehouse.published(contract, delivery.delivery_id) is None
