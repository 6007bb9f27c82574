"""Dagster's freshness checks: one per SLA, run by a sensor, agreeing with `gongyu status`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.definitions import build_definitions
from assets.factory import asset_key
from assets.freshness import FRESHNESS_CHECK, FRESHNESS_JOB
from assets.runner import check_freshness, dagster_instance, run_pending
from catalog.deliveries import DeliveryState
from catalog.freshness import FreshnessState
from gongyu.platform import Platform
from tests.conftest import data_file

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
KOICA = "finance_insurance/koica_oda_by_income_group_20210521.csv"


def published_at(platform: Platform, dataset: str, file: str, at: datetime) -> None:
    """Land a real file and record it published at `at` (as if the gate had run back then)."""
    delivery, _ = platform.deliver(dataset, data_file(file))
    platform.deliveries.claim(delivery.delivery_id, "test")
    platform.deliveries.set_state(delivery.delivery_id, DeliveryState.published, updated_at=at)


def test_definitions_hold_a_freshness_check_per_sla(platform: Platform) -> None:
    defs = build_definitions(platform)
    graph = defs.resolve_asset_graph()
    checked = {k.asset_key for k in graph.asset_check_keys if k.name == FRESHNESS_CHECK}
    contracts = platform.contracts.values()
    assert checked == {asset_key(c) for c in contracts if c.sla.max_age is not None}
    no_sla = platform.contract("police_crime_by_region_2015")
    assert no_sla.sla.max_age is None and asset_key(no_sla) not in checked
    spec = graph.get_check_spec(dg.AssetCheckKey(checked.pop(), FRESHNESS_CHECK))
    assert not spec.blocking
    assert defs.resolve_job_def(FRESHNESS_JOB)
    assert defs.resolve_sensor_def("freshness").default_status == dg.DefaultSensorStatus.RUNNING


def test_a_stale_dataset_fails_its_check(platform: Platform) -> None:
    now = datetime.now(UTC)
    kotsa = platform.contract("kotsa_car_inspection_centers")
    assert kotsa.sla.max_age == timedelta(days=396)  # yearly, at most 30 days late
    published_at(platform, kotsa.id, KOTSA, now - timedelta(days=400))
    published_at(platform, "koica_oda_by_income_group", KOICA, now - timedelta(days=3))

    result = check_freshness(platform)

    assert result is not None and result.success
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    stale = evaluations[kotsa.id]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
    assert stale.description.startswith("stale: last published")
    assert stale.metadata["state"].value == "stale"
    due = {f.dataset_id: f for f in platform.freshness()}[kotsa.id].due_by
    assert stale.metadata["due_by"].value == due.timestamp()
    fresh = evaluations["koica_oda_by_income_group"]
    assert fresh.passed and fresh.metadata["state"].value == "fresh"
    never = evaluations["national_urban_parks"]
    assert not never.passed and never.severity == dg.AssetCheckSeverity.WARN
    assert "police_crime_by_region_2015" not in evaluations  # no SLA, no check
    # Dagster and `gongyu status` read the same verdicts.
    verdicts = {f.dataset_id: f.state for f in platform.freshness()}
    for dataset, evaluation in evaluations.items():
        assert evaluation.passed == (verdicts[dataset] == FreshnessState.fresh), dataset
    with dagster_instance(platform.workspace) as instance:
        run = instance.get_run_by_id(result.run_id)
        assert run.is_success and run.job_name == FRESHNESS_JOB


def test_sensor_runs_the_checks_when_a_verdict_changes(platform: Platform) -> None:
    defs = build_definitions(platform)
    sensor = defs.resolve_sensor_def("freshness")
    resources = {"gongyu": defs.resources["gongyu"]}

    def tick(cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        with (
            dagster_instance(platform.workspace) as instance,
            dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as ctx,
        ):
            return sensor(ctx)

    first = tick(None)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    assert isinstance(tick(first.cursor), dg.SkipReason)  # nothing changed: no run

    platform.deliver("kotsa_car_inspection_centers", data_file(KOTSA))
    [(delivery, _)] = list(run_pending(platform))  # the real gate publishes it
    assert delivery.state == DeliveryState.published
    after = tick(first.cursor)
    assert isinstance(after, dg.SensorResult) and len(after.run_requests) == 1
    result = check_freshness(platform)
    assert result is not None
    [kotsa] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == "kotsa_car_inspection_centers"
    ]
    assert kotsa.passed and kotsa.description.startswith("fresh: last published")
