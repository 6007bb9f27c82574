"""Joint products in Dagster: assets downstream of their inputs' assets, built when an input
publishes (the `products` sensor, `gongyu run`, the delivery worker) and on their schedule."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from assets.definitions import build_definitions
from assets.factory import asset_key, check_kinds
from assets.runner import dagster_instance, run_pending, run_products
from assets.worker import DeliveryWorker
from catalog.deliveries import DeliveryState
from contracts.model import Contract
from gongyu.cli import app
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from gongyu.products.freshness import state
from tests.conftest import data_file
from tests.published import read_arrow

AIR, POWER = "seoul_daily_air_quality", "regional_power_generation_by_fuel"
AIR_FILE = "environment_energy/seoul_daily_air_quality_2022.csv"
POWER_FILE = "environment_energy/regional_power_generation_by_fuel_2018_2022.csv"
ENVIRONMENT = "seoul_air_quality_and_thermal_power"
ACCIDENTS, DRUNK = "koroad_fatal_traffic_accidents", "police_drunk_driving_detections"
ACCIDENTS_FILE = "welfare_safety/koroad_fatal_traffic_accidents_2020.csv"
DRUNK_FILE = "welfare_safety/police_drunk_driving_detections_202207.csv"
WELFARE = "road_deaths_and_drunk_driving_by_month"


def product_contracts(platform: Platform) -> list[Contract]:
    found = [c for c in platform.contracts.values() if c.product is not None]
    assert {c.id for c in found} >= {ENVIRONMENT, WELFARE}
    return found


def power_days(name: str, tmp_path: Path, first: int, last: int) -> Path:
    """KPX's real file cut to the rows of days `first`..`last` of 2022 (CP949, as shipped)."""
    header, *rows = data_file(POWER_FILE).read_bytes().splitlines(keepends=True)
    days = sorted({r[:10] for r in rows if r.startswith(b"2022-")})[first : last + 1]
    path = tmp_path / name
    path.write_bytes(header + b"".join(r for r in rows if r[:10] in days))
    return path


def products_tick(platform: Platform) -> dg.SensorResult | dg.SkipReason:
    """One evaluation of the `products` sensor, as the daemon's tick runs it."""
    defs = build_definitions(platform)
    with (
        dagster_instance(platform.workspace) as instance,
        dg.build_sensor_context(instance=instance, resources={"gongyu": platform}) as context,
    ):
        return defs.resolve_sensor_def("products")(context)


def requested(result: dg.SensorResult | dg.SkipReason) -> dict[str, str]:
    """The products a tick asked to build, with their run keys."""
    if isinstance(result, dg.SkipReason):
        return {}
    return {r.tags["gongyu/product"]: r.run_key for r in result.run_requests or []}


def test_each_product_is_an_asset_downstream_of_its_inputs(platform: Platform) -> None:
    defs = build_definitions(platform)
    graph = defs.resolve_asset_graph()
    for product in product_contracts(platform):
        key = asset_key(product)
        inputs = {asset_key(platform.contract(i)) for i in product.product.inputs}
        assert len(inputs) == 2
        assert graph.get(key).parent_keys == inputs
        asset = defs.resolve_assets_def(key)
        assert asset.partitions_def is None
        assert asset.group_names_by_key[key] == product.sector
        assert asset.specs_by_key[key].owners == [product.steward, f"team:{product.agency}"]
        assert set(asset.specs_by_key[key].kinds) == {"iceberg", "duckdb", "sql"}
        assert {k.name for k in asset.check_keys} == {k.value for k in check_kinds(product)}
        assert all(s.blocking for s in asset.check_specs)
        metadata = asset.specs_by_key[key].metadata
        assert metadata["sql"].value.startswith("```sql\n")
        assert product.product.sql.strip() in metadata["sql"].value
        assert [i["dataset"] for i in metadata["inputs"].value] == list(product.product.inputs)
        description = asset.specs_by_key[key].description
        assert "joint product" in description
        assert all(platform.contract(i).table in description for i in product.product.inputs)
    # The landing zone launches deliveries of datasets only: a product's are its builds.
    landing = defs.resolve_sensor_def("landing_zone").asset_selection.resolve(graph)
    assert landing == {asset_key(c) for c in platform.contracts.values() if c.product is None}
    products = defs.resolve_sensor_def("products")
    assert products.default_status == dg.DefaultSensorStatus.RUNNING
    assert products.minimum_interval_seconds == 30


def test_a_product_with_a_schedule_has_its_schedule_in_korean_time(platform: Platform) -> None:
    defs = build_definitions(platform)
    for product in product_contracts(platform):
        schedule = defs.resolve_schedule_def(f"{product.id}_schedule")
        assert schedule.cron_schedule == product.product.schedule
        assert schedule.execution_timezone == "Asia/Seoul"
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        assert schedule.job_name == f"{product.id}_build"
        job = defs.resolve_job_def(f"{product.id}_build")
        assert job.asset_layer.selected_asset_keys == {asset_key(product)}
        # Nothing of its inputs is published yet: the tick is skipped, not a failing run.
        with dg.build_schedule_context(resources={"gongyu": platform}) as context:
            tick = schedule.evaluate_tick(context)
        assert tick.run_requests == [] and "waits for a publication" in tick.skip_message


def test_the_sensor_builds_once_per_input_publication(platform: Platform, tmp_path: Path) -> None:
    product = platform.contract(ENVIRONMENT)
    platform.deliver(AIR, data_file(AIR_FILE))
    platform.deliver(POWER, power_days("jan.csv", tmp_path, 0, 30))
    assert requested(products_tick(platform)) == {}  # the deliveries are not published yet
    assert [d.state for d, _ in run_pending(platform)] == [DeliveryState.published] * 2

    first = requested(products_tick(platform))
    assert list(first) == [ENVIRONMENT]  # the welfare product waits for its inputs
    assert requested(products_tick(platform)) == first  # the same key: Dagster runs it once

    [built] = list(run_products(platform))
    assert built.run_key == first[ENVIRONMENT] and built.failure is None
    assert built.delivery.state == DeliveryState.published
    assert built.delivery.rows == 31  # January 2022, the days both inputs have
    assert read_arrow(platform.lakehouse.catalog, product.table).num_rows == 31
    assert isinstance(products_tick(platform), dg.SkipReason)  # built over these pins
    assert list(run_products(platform)) == []

    platform.deliver(POWER, power_days("feb.csv", tmp_path, 31, 58))
    [(power, _)] = list(run_pending(platform))
    again = requested(products_tick(platform))
    assert list(again) == [ENVIRONMENT] and again != first
    [rebuilt] = list(run_products(platform))
    assert rebuilt.run_key == again[ENVIRONMENT]
    assert rebuilt.delivery.rows == 31 + 28  # upserted: January and February
    snapshot = platform.lakehouse.catalog.load_table(product.table).current_snapshot()
    air = platform.lakehouse.catalog.load_table(platform.contract(AIR).table).current_snapshot()
    assert snapshot.summary[f"gongyu.input.{platform.contract(POWER).table}"] == power.snapshot_id
    assert snapshot.summary[f"gongyu.input.{platform.contract(AIR).table}"] == str(air.snapshot_id)
    with dagster_instance(platform.workspace) as instance:
        run = instance.get_run_by_id(rebuilt.run_id)
        assert run.is_success and run.tags["gongyu/product"] == ENVIRONMENT
        [event] = instance.fetch_materializations(asset_key(product), limit=1).records
    metadata = event.asset_materialization.metadata
    assert metadata["delivery"].value == rebuilt.delivery.delivery_id
    assert metadata["rows"].value == 59
    assert metadata["inputs"].value == rebuilt.delivery.inputs
    assert state(platform, product).stale is False


def shared_days(air: Path, power: Path) -> int:
    """Days in both raw files (their first column), read without Gongyu: the product's rows."""

    def days(path: Path) -> set[str]:
        rows = csv.reader(io.StringIO(path.read_bytes().decode("cp949")))
        next(rows)
        return {row[0].replace("-", "") for row in rows if row}

    return len(days(air) & days(power))


@pytest.fixture
def cli(settings: Settings) -> tuple[CliRunner, Path]:
    """The real command line and the workspace it runs on."""
    return CliRunner(), settings.home


def gongyu(cli: tuple[CliRunner, Path], *args: str) -> tuple[int, str]:
    runner, home = cli
    done = runner.invoke(app, [*args, "--workspace", str(home)])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.output


def test_gongyu_run_publishes_the_inputs_then_builds_the_product(
    cli: tuple[CliRunner, Path], platform: Platform
) -> None:
    for dataset, file in ((AIR, AIR_FILE), (POWER, POWER_FILE)):
        assert gongyu(cli, "deliver", dataset, str(data_file(file)))[0] == 0
    code, shown = gongyu(cli, "run")
    assert code == 0, shown
    lines = shown.splitlines()
    at = lines.index(f"… {ENVIRONMENT} (product)")
    assert [ln for ln in lines[:at] if ln.startswith("  published")] and len(lines) == at + 2
    rows = shared_days(data_file(AIR_FILE), data_file(POWER_FILE))
    assert rows == 181  # January to June 2022
    assert lines[at + 1].startswith(f"  published {rows:,} rows (run ")
    assert WELFARE not in shown  # waiting for its inputs: not a failure
    [build] = platform.deliveries.list(ENVIRONMENT)
    assert set(build.inputs) == {platform.contract(AIR).table, platform.contract(POWER).table}

    code, shown = gongyu(cli, "run")  # nothing new: nothing built, and said so
    assert code == 0 and shown.strip().endswith("nothing to run") and "할 일 없음" in shown
    assert len(platform.deliveries.list(ENVIRONMENT)) == 1


def test_a_product_its_agency_may_not_read_is_refused_until_granted(
    cli: tuple[CliRunner, Path], platform: Platform
) -> None:
    for dataset, file in ((ACCIDENTS, ACCIDENTS_FILE), (DRUNK, DRUNK_FILE)):
        assert gongyu(cli, "deliver", dataset, str(data_file(file)))[0] == 0
    code, shown = gongyu(cli, "run")
    assert code == 1, shown
    lines = shown.splitlines()
    at = lines.index(f"… {WELFARE} (product)")
    assert lines[at + 1].startswith("  refused (run ")
    said = " ".join(" ".join(lines[at + 1 :]).split())  # a long reason wraps
    assert f"nhis may not read input {DRUNK} (restricted)" in said
    assert platform.deliveries.list(WELFARE) == []  # nothing landed, nothing published
    # Refused again (and so reported) on each run until nhis is granted the police table.
    code, shown = gongyu(cli, "run")
    assert code == 1 and f"… {WELFARE} (product)" in shown and "refused" in shown
    granted = gongyu(
        cli, "grants", "add", DRUNK, "--agency", "nhis", "--purpose", "joint product",
        "--expires", "2099-12-31",
    )  # fmt: skip
    assert granted[0] == 0, granted[1]
    code, shown = gongyu(cli, "run")
    assert code == 0, shown
    [build] = platform.deliveries.list(WELFARE)
    assert build.state == DeliveryState.published and build.rows
    assert shown.splitlines()[-1].startswith(f"  published {build.rows} rows (run ")
    code, shown = gongyu(cli, "run")  # built: nothing left to run
    assert code == 0 and shown.strip().endswith("nothing to run")


def test_contracts_list_json_shows_kind_and_inputs(cli: tuple[CliRunner, Path]) -> None:
    runner, _ = cli
    done = runner.invoke(app, ["contracts", "list", "--json"])
    assert done.exit_code == 0, done.output
    rows = {r["id"]: r for r in json.loads(done.output)}
    assert (rows[ENVIRONMENT]["kind"], rows[ENVIRONMENT]["inputs"]) == ("product", [AIR, POWER])
    assert rows[WELFARE]["kind"] == "product"
    assert set(rows[WELFARE]["inputs"]) == {ACCIDENTS, DRUNK}
    assert (rows[AIR]["kind"], rows[AIR]["inputs"]) == ("dataset", [])
    table = runner.invoke(app, ["contracts", "list"]).output
    assert f"{ENVIRONMENT} (product) reads {AIR}, {POWER}" in table


def test_the_worker_builds_products_after_deliveries_and_a_refusal_once(
    platform: Platform,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("assets.worker.PRODUCT_SECONDS", 0.0)  # every poll looks at products
    caplog.set_level(logging.INFO, logger="assets.worker")
    platform.deliver(AIR, data_file(AIR_FILE))
    platform.deliver(POWER, power_days("jan.csv", tmp_path, 0, 30))
    platform.deliver(DRUNK, data_file(DRUNK_FILE))
    platform.deliver(ACCIDENTS, data_file(ACCIDENTS_FILE))
    worker = DeliveryWorker(platform)
    assert len(worker.poll()) == 4
    [built] = platform.deliveries.list(ENVIRONMENT)
    assert (built.state, built.rows) == (DeliveryState.published, 31)
    assert platform.deliveries.list(WELFARE) == []
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{ENVIRONMENT} (product) {built.delivery_id} published, 31 rows" in text
    assert f"{WELFARE} (product) not built" in text and "may not read" in text

    # A later look: the refusal is not tried again over the same inputs, nothing else is new.
    caplog.clear()
    assert worker.poll() == []
    assert not [r for r in caplog.records if "(product)" in r.getMessage()]
    assert len(platform.deliveries.list(ENVIRONMENT)) == 1
