"""The main job end to end: every real dataset, the two failures and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gongyu.demo import fresh_workspace, plan
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.gongyu.test_cli import gongyu
from tests.published import read_arrow


@pytest.mark.slow
def test_demo_runs_every_delivery_as_expected(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    done = gongyu("demo", "--workspace", str(ws), "--no-serve")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Gongyu demo" in done.stdout
    shown = json.loads(gongyu("status", "--json", "--workspace", str(ws)).stdout)
    status = shown["deliveries"]
    # Everything was just published: datasets with an SLA are fresh; the two closed ones have
    # none and cover a period that has ended (2017, 2015).
    freshness = {f["dataset_id"]: f["state"] for f in shown["freshness"]}
    assert {d for d, s in freshness.items() if s == "closed"} == {
        "seoul_daily_air_quality_2017",
        "police_crime_by_region_2015",
    }
    assert {s for s in freshness.values() if s != "closed"} == {"fresh"}
    planned = plan(ws / "demo-inputs")
    # The planned deliveries, then the joint products' builds: both built once the secretariat
    # held its grant, KPX's re-delivery, and the energy product rebuilt from its new snapshot.
    roads, energy = "road_deaths_and_drunk_driving_by_month", "seoul_air_quality_and_thermal_power"
    power = "regional_power_generation_by_fuel"
    ran = [(s["dataset_id"], s["state"]) for s in status]
    assert ran[: len(planned)] == [(p.dataset_id, p.expect.value) for p in planned]
    assert ran[len(planned) :] == [
        (roads, "published"),
        (energy, "published"),
        (power, "published"),
        (energy, "published"),
    ]
    assert "Joint products" in done.stdout
    builds = [s for s in status if s["dataset_id"] == energy]
    power_table = f"environment_energy.{power}"
    assert builds[0]["inputs"][power_table] != builds[1]["inputs"][power_table]
    status = status[: len(planned)]
    quarantined = [s for s in status if s["state"] == "quarantined"]
    assert len(quarantined) == 3
    assert all(s["reasons"] and s["snapshot_id"] is None for s in quarantined)
    assert "look like a mobile phone" in quarantined[-1]["reasons"][0]
    # The person-level drunk-driving table is published k-anonymous: generalised, some withheld.
    drunk = next(s for s in status if s["dataset_id"] == "police_drunk_driving_detections")
    settings = Settings(home=ws)
    table = read_arrow(
        Platform(settings).lakehouse.catalog, "welfare_safety.police_drunk_driving_detections"
    )
    assert 0 < drunk["rows"] - table.num_rows <= drunk["rows"] * 0.01
    assert table["police_station"].null_count == table.num_rows
    assert set(table["detected_at"].to_pylist()) == {"2022-07"}
    sizes = table.group_by(["sex", "age", "detected_at", "police_station"]).aggregate(
        [([], "count_all")]
    )
    assert min(sizes["count_all"].to_pylist()) >= 5
    # Every shipped contract got at least one published delivery.
    contracts = json.loads(gongyu("contracts", "list", "--json").stdout)
    assert {c["id"] for c in contracts} == {s["dataset_id"] for s in shown["deliveries"]}
    # The joint-use loop: automatic, owner and secretariat (then queried), denied; the board.
    assert "Joint use" in done.stdout
    board = gongyu("requests", "list", "--agency", "knpa", "--json", "--workspace", str(ws))
    requests = {r["requester_agency"]: r for r in json.loads(board.stdout)}
    assert requests["koroad"]["state"] == "approved" and requests["koroad"]["grant_id"]
    assert requests["kotsa"]["state"] == "denied" and requests["kotsa"]["reason"]
    mine = gongyu("requests", "list", "--agency", "nhis", "--role", "analyst", "--json",
                  "--workspace", str(ws))  # fmt: skip
    # KoROAD's table for the analyst, the police table for the secretariat's joint product.
    assert sorted(r["dataset_id"] for r in json.loads(mine.stdout) if r["state"] == "approved") == [
        "koroad_fatal_traffic_accidents",
        "police_drunk_driving_detections",
    ]
    assert Platform(settings).audit.verify().ok


def test_demo_never_wipes_a_folder_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a demo workspace"):
        fresh_workspace(precious)
    assert (precious / "keep.txt").read_text() == "mine"
    fresh_workspace(tmp_path / "new")
    fresh_workspace(tmp_path / "new")  # a demo workspace is replaced on the next run
