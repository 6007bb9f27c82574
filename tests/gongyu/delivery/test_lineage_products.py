"""OpenLineage events of a joint product's build, from the real pipeline: Seoul's air quality and
KPX's power generation delivered through Dagster, then the environment-energy product built over
them. The build's events carry both input tables at the snapshots it read, named as the inputs'
own deliveries name their output tables, and its job is SQL; every event stays valid against the
vendored OpenLineage spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assets.runner import run_pending
from catalog.deliveries import Delivery
from gongyu.delivery.lineage import run_id
from gongyu.delivery.report import Outcome
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from gongyu.products.run import run_product
from tests.conftest import data_file
from tests.gongyu.delivery.test_lineage import facets_of, read_events, spec_errors

AIR = ("seoul_daily_air_quality", "environment_energy/seoul_daily_air_quality_2022.csv")
POWER = (
    "regional_power_generation_by_fuel",
    "environment_energy/regional_power_generation_by_fuel_2018_2022.csv",
)
ENERGY = "seoul_air_quality_and_thermal_power"
SQL_FACET = "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"


@dataclass
class Built:
    """The inputs' published deliveries, the product's build, and the events file."""

    platform: Platform
    inputs: dict[str, Delivery]
    build: Outcome
    events: list[dict[str, Any]]

    def of(self, delivery: Delivery) -> list[dict[str, Any]]:
        """The events of one delivery's run."""
        return [e for e in self.events if e["run"]["runId"] == run_id(delivery)]


def deliver_through_dagster(platform: Platform, *files: tuple[str, str]) -> dict[str, Delivery]:
    """Land real files and let the landing sensor's runs take them through the gate."""
    for dataset_id, relative in files:
        platform.deliver(dataset_id, data_file(relative))
    done = {d.dataset_id: d for d, _ in run_pending(platform)}
    assert {d.state.value for d in done.values()} == {"published"}, done
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root: Path = tmp_path_factory.mktemp("product-lineage")
    platform = Platform(Settings(home=root / "ws"))
    inputs = deliver_through_dagster(platform, AIR, POWER)
    build = run_product(platform, ENERGY)
    assert build.published, build.report
    return Built(platform, inputs, build, read_events(platform))


def test_a_builds_events_carry_both_inputs_at_the_snapshots_it_read(built: Built) -> None:
    start, complete = built.of(built.build.delivery)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    pins = built.build.delivery.inputs
    assert pins is not None and len(pins) == 2
    for event in (start, complete):
        landed, *tables = event["inputs"]
        assert landed["namespace"] == "file"  # the file the query wrote, which the gate checked
        read = {t["facets"]["symlinks"]["identifiers"][0]["name"]: t for t in tables}
        assert set(read) == set(pins)
        for identifier, table in read.items():
            assert table["facets"]["version"]["datasetVersion"] == str(pins[identifier])
            assert table["facets"]["storage"]["storageLayer"] == "iceberg"
            assert table["inputFacets"]["inputStatistics"]["rowCount"] > 0
    # Each input's snapshot is the one its own delivery published.
    by_dataset = {d: str(built.inputs[d].snapshot_id) for d in built.inputs}
    assert {k.split(".")[1]: str(v) for k, v in pins.items()} == by_dataset


def test_inputs_are_named_as_their_own_deliveries_name_their_tables(built: Built) -> None:
    (_, complete) = built.of(built.build.delivery)
    read = {(t["namespace"], t["name"]) for t in complete["inputs"][1:]}
    published = set()
    for delivery in built.inputs.values():
        *_, own = built.of(delivery)
        assert own["eventType"] == "COMPLETE"
        (table,) = own["outputs"]
        published.add((table["namespace"], table["name"]))
        # The input's own COMPLETE has no product inputs: only the file it delivered.
        assert len(own["inputs"]) == 1
    assert read == published
    # And the product's output is named the same way: a lineage graph joins them up.
    (output,) = complete["outputs"]
    assert output["facets"]["symlinks"]["identifiers"][0]["name"] == (
        f"environment_energy.{ENERGY}"
    )
    assert output["facets"]["version"]["datasetVersion"] == built.build.delivery.snapshot_id


def test_the_job_is_sql_and_every_event_is_valid(built: Built) -> None:
    product = built.platform.contract(ENERGY).product
    assert product is not None
    for event in built.of(built.build.delivery):
        job = event["job"]
        assert job["name"] == f"environment_energy.{ENERGY}"
        assert job["facets"]["jobType"]["jobType"] == "PRODUCT"
        assert job["facets"]["sql"]["query"] == product.sql
        assert job["facets"]["sql"]["_schemaURL"] == SQL_FACET
    for delivery in built.inputs.values():
        for event in built.of(delivery):
            assert "sql" not in event["job"]["facets"]
            assert event["job"]["facets"]["jobType"]["jobType"] == "DELIVERY"
    for event in built.events:
        assert spec_errors(event) == []
    # The SQL facet is checked by its own vendored schema, like every other facet.
    assert any(f["_schemaURL"] == SQL_FACET for e in built.events for f in facets_of(e))
