"""Joint products on real agency data: built as their agency over pinned inputs, through the
same gate and publish as any delivery."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from catalog.access.grants import korean_today
from catalog.deliveries import DeliveryState
from catalog.products import definition_refusals
from contracts.loader import DEFAULT_DIR
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from gongyu.products.build import ProductRefused, build
from gongyu.products.freshness import products, state
from gongyu.products.pins import ProductWaits
from gongyu.products.run import run_product
from tests.conftest import data_file
from tests.published import read_arrow

AIR = ("seoul_daily_air_quality", "environment_energy/seoul_daily_air_quality_2022.csv")
POWER = (
    "regional_power_generation_by_fuel",
    "environment_energy/regional_power_generation_by_fuel_2018_2022.csv",
)
ACCIDENTS = (
    "koroad_fatal_traffic_accidents",
    "welfare_safety/koroad_fatal_traffic_accidents_2020.csv",
)
DRUNK = (
    "police_drunk_driving_detections",
    "welfare_safety/police_drunk_driving_detections_202207.csv",
)
ENERGY = "seoul_air_quality_and_thermal_power"
ROADS = "road_deaths_and_drunk_driving_by_month"


def published(platform: Platform, *deliveries: tuple[str, str]) -> None:
    """Deliver real files and take them through the gate (no Dagster: the way itself)."""
    from gongyu.delivery.way import process_delivery

    for dataset_id, relative in deliveries:
        delivery, _ = platform.deliver(dataset_id, data_file(relative))
        assert process_delivery(platform, delivery.delivery_id).published


def product_yaml(
    dataset_id: str, sql: str, columns: list[tuple[str, str]], *, access: str, extra: str = ""
) -> str:
    """A welfare-sector product of nhis (the sector's secretariat) with inline SQL."""
    props = "\n".join(
        f"  - {{name: {n}, logicalType: {t}, customProperties: [{{property: classification, "
        f"value: none}}]}}"
        for n, t in columns
    )
    body = "\n".join("      " + line for line in sql.strip().splitlines())
    return f"""apiVersion: v3.2.0
kind: DataContract
id: {dataset_id}
name: 시험 상품
version: 1.0.0
status: active
customProperties:
- {{property: sector, value: welfare_safety}}
- {{property: agency, value: nhis}}
- {{property: accessLevel, value: {access}}}
- property: product
  value:
    sql: |
{body}
{extra}
schema:
- name: {dataset_id}
  properties:
{props}
"""


@pytest.fixture
def contracts_dir(tmp_path: Path) -> Path:
    """A copy of the shipped contracts that a test may add products to."""
    root = tmp_path / "contracts"
    shutil.copytree(DEFAULT_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


@pytest.fixture
def own(contracts_dir: Path, tmp_path: Path) -> Platform:
    """A platform over the copied contracts."""
    return Platform(Settings(home=tmp_path / "ws", contracts_dir=contracts_dir))


def add_product(platform: Platform, text: str, dataset_id: str) -> None:
    folder = platform.settings.contracts_dir / "welfare_safety" / "nhis"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{dataset_id}.yaml").write_text(text, encoding="utf-8")
    platform.reload_contracts()
    assert dataset_id in platform.contracts


def grant_police_to_nhis(platform: Platform, **terms: object) -> None:
    platform.grants.add(
        platform.contract(DRUNK[0]),
        "nhis",
        "공동 상품 (joint product)",
        korean_today() + timedelta(days=30),
        created_by="test",
        **terms,  # type: ignore[arg-type]
    )


def expected_energy_rows() -> pd.DataFrame:
    """The product's rows computed from the agencies' raw files, without the platform."""
    air = pd.read_csv(data_file(AIR[1]), encoding="cp949")
    power = pd.read_csv(data_file(POWER[1]), encoding="cp949")
    con = duckdb.connect()
    con.register("air", air)
    con.register("power", power)
    return con.sql(
        """
        WITH a AS (
            SELECT strptime(CAST("측정일시" AS VARCHAR), '%Y%m%d')::DATE AS day,
                   round(avg("미세먼지농도(㎍/㎥)"), 1) AS pm10, count(*) AS stations
            FROM air GROUP BY 1),
        p AS (
            SELECT CAST("거래일자" AS DATE) AS day,
                   sum(" 발전량(MWh) ") FILTER (WHERE "연료원" = '석탄') AS coal,
                   sum(" 발전량(MWh) ") AS thermal
            FROM power GROUP BY 1)
        SELECT day, pm10, stations, coal, thermal FROM a JOIN p USING (day) ORDER BY day
        """
    ).df()


def test_a_product_over_two_agencies_publishes_the_right_rows(platform: Platform) -> None:
    published(platform, AIR, POWER)
    outcome = run_product(platform, ENERGY)
    assert outcome.published, outcome.report
    got = read_arrow(platform.lakehouse.catalog, f"environment_energy.{ENERGY}").to_pandas()
    got = got.sort_values("day").reset_index(drop=True)
    want = expected_energy_rows()
    assert len(got) == len(want) == 181  # the days of 2022 both agencies cover (Jan–Jun)
    assert [d.isoformat() for d in got["day"]] == [str(d)[:10] for d in want["day"]]
    assert got["pm10_ugm3"].tolist() == pytest.approx(want["pm10"].tolist())
    assert got["stations"].tolist() == want["stations"].tolist()
    assert got["coal_mwh"].tolist() == want["coal"].astype(int).tolist()
    assert got["thermal_mwh"].tolist() == want["thermal"].astype(int).tolist()


def test_a_new_input_delivery_rebuilds_and_the_snapshot_records_both_inputs(
    platform: Platform, tmp_path: Path
) -> None:
    published(platform, AIR, POWER)
    assert state(platform, platform.contract(ENERGY)).stale  # never built
    first = run_product(platform, ENERGY).delivery
    assert not state(platform, platform.contract(ENERGY)).stale
    # KPX re-delivers its file in UTF-8: the same rows, a new snapshot of its table.
    utf8 = tmp_path / "regional_power_generation_by_fuel_utf8.csv"
    utf8.write_text(data_file(POWER[1]).read_text(encoding="cp949"), encoding="utf-8")
    delivery, new = platform.deliver(POWER[0], utf8)
    assert new
    from gongyu.delivery.way import process_delivery

    assert process_delivery(platform, delivery.delivery_id).published
    now = state(platform, platform.contract(ENERGY))
    assert now.stale and now.pins is not None
    second = run_product(platform, ENERGY).delivery
    assert second.state == DeliveryState.published
    assert first.inputs and second.inputs
    power_table = f"environment_energy.{POWER[0]}"
    air_table = f"environment_energy.{AIR[0]}"
    assert second.inputs[air_table] == first.inputs[air_table]
    assert second.inputs[power_table] != first.inputs[power_table]
    assert second.inputs == now.pins
    table = platform.lakehouse.catalog.load_table(f"environment_energy.{ENERGY}")
    summary = table.snapshot_by_id(int(second.snapshot_id or 0)).summary  # type: ignore[union-attr]
    assert summary[f"gongyu.input.{air_table}"] == str(second.inputs[air_table])
    assert summary[f"gongyu.input.{power_table}"] == str(second.inputs[power_table])
    # Both input snapshots are still there to read the product's version as of them.
    power = platform.lakehouse.catalog.load_table(power_table)
    assert power.snapshot_by_id(first.inputs[power_table]) is not None


def test_a_product_waits_for_its_inputs_and_builds_in_order(platform: Platform) -> None:
    published(platform, AIR)
    with pytest.raises(ProductWaits, match=POWER[0]):
        build(platform, platform.contract(ENERGY))
    waiting = state(platform, platform.contract(ENERGY))
    assert not waiting.stale and waiting.waiting
    assert {c.id for c in products(platform)} == {ENERGY, ROADS}


def test_a_product_over_a_dataset_its_definer_cannot_read_is_refused(platform: Platform) -> None:
    published(platform, ACCIDENTS, DRUNK)
    roads = platform.contract(ROADS)
    refusals = definition_refusals(
        roads, platform.contracts.values(), platform.registry, lambda a, d: []
    )
    assert refusals == [
        "nhis may not read input police_drunk_driving_detections (restricted); request access "
        "to it first, then define the product"
    ]
    with pytest.raises(ProductRefused, match="nhis may not read input police_drunk"):
        run_product(platform, ROADS)
    assert platform.deliveries.list(ROADS) == []  # nothing landed, nothing published
    denied = [r for r in platform.audit.records() if r.subject == f"product:{ROADS}"]
    assert [r.outcome for r in denied] == ["denied"]
    # Once the police agency grants it, the secretariat's product builds.
    grant_police_to_nhis(platform)
    outcome = run_product(platform, ROADS)
    assert outcome.published, outcome.report
    rows = read_arrow(platform.lakehouse.catalog, f"welfare_safety.{ROADS}").to_pylist()
    july = next(r for r in rows if (r["year"], r["month"]) == (2022, 7))
    police = read_arrow(platform.lakehouse.catalog, f"welfare_safety.{DRUNK[0]}")
    assert july["drunk_driving_detections"] == police.num_rows  # every published detection
    january = next(r for r in rows if (r["year"], r["month"]) == (2020, 1))
    accidents = pd.read_csv(data_file(ACCIDENTS[1]), encoding="cp949")
    in_january = accidents[accidents["발생년월일시"].str.startswith("2020-01")]
    assert january["fatal_accidents"] == len(in_january)
    assert january["deaths"] == in_january["사망자수"].sum()


def test_a_product_breaking_its_contract_quarantines_and_main_keeps_serving(
    own: Platform, contracts_dir: Path
) -> None:
    published(own, AIR, POWER)
    good = run_product(own, ENERGY)
    assert good.published
    before = own.lakehouse.catalog.load_table(f"environment_energy.{ENERGY}").current_snapshot()
    folder = contracts_dir / "environment_energy" / "keco"
    sql = (folder / f"{ENERGY}.sql").read_text(encoding="utf-8")
    # A new version whose query yields negative generation: the contract's minimum is 0.
    broken = sql.replace("CAST(sum(generation_mwh) AS BIGINT) AS thermal_mwh", "-1 AS thermal_mwh")
    assert broken != sql
    (folder / f"{ENERGY}.sql").write_text(broken, encoding="utf-8")
    text = (folder / f"{ENERGY}.yaml").read_text(encoding="utf-8")
    (folder / f"{ENERGY}.yaml").write_text(text.replace("version: 1.0.0", "version: 1.0.1"))
    own.reload_contracts()
    assert state(own, own.contract(ENERGY)).stale  # a new version of the product
    bad = run_product(own, ENERGY)
    assert bad.delivery.state == DeliveryState.quarantined
    assert "thermal_mwh" in bad.report and "Inputs     environment_energy." in bad.report
    after = own.lakehouse.catalog.load_table(f"environment_energy.{ENERGY}").current_snapshot()
    assert after is not None and before is not None
    assert after.snapshot_id == before.snapshot_id  # the last good build keeps serving


def test_the_definers_masks_and_row_filters_apply_while_building(own: Platform) -> None:
    published(own, DRUNK)
    grant_police_to_nhis(own, row_filter="sex = '여자'")
    sql = """
        SELECT sex, count(*) AS detections, count(blood_alcohol) AS with_alcohol
        FROM welfare_safety.police_drunk_driving_detections GROUP BY sex ORDER BY sex
    """
    columns = [("sex", "string"), ("detections", "integer"), ("with_alcohol", "integer")]
    add_product(
        own, product_yaml("drunk_by_sex", sql, columns, access="restricted"), "drunk_by_sex"
    )
    outcome = run_product(own, "drunk_by_sex")
    assert outcome.published, outcome.report
    rows = read_arrow(own.lakehouse.catalog, "welfare_safety.drunk_by_sex").to_pylist()
    police = read_arrow(own.lakehouse.catalog, f"welfare_safety.{DRUNK[0]}").to_pandas()
    # The grant's row filter: only women; the sensitive blood alcohol column: masked (NULL).
    women = int((police["sex"] == "여자").sum())
    assert police["blood_alcohol"].notna().sum() > 0
    assert rows == [{"sex": "여자", "detections": women, "with_alcohol": 0}]


def test_a_product_wider_than_its_inputs_must_be_an_aggregate_that_passes_small_cells(
    own: Platform,
) -> None:
    published(own, DRUNK)
    grant_police_to_nhis(own, columns=("blood_alcohol",))
    sql = """
        SELECT age, sex, blood_alcohol, count(*) AS detections
        FROM welfare_safety.police_drunk_driving_detections GROUP BY ALL ORDER BY ALL
    """
    columns = [
        ("age", "string"),
        ("sex", "string"),
        ("blood_alcohol", "string"),
        ("detections", "integer"),
    ]
    wide = product_yaml("drunk_by_age", sql, columns, access="sector")
    add_product(own, wide, "drunk_by_age")
    with pytest.raises(ProductRefused, match=r"unless it declares product\.aggregate"):
        run_product(own, "drunk_by_age")
    aggregate = "    aggregate: {countColumn: detections, k: 5}"
    text = wide.replace("    sql: |", aggregate + "\n    sql: |").replace(
        "version: 1.0.0", "version: 1.1.0"
    )
    add_product(own, text, "drunk_by_age")
    outcome = run_product(own, "drunk_by_age")
    # Age band × sex × blood alcohol leaves cells of one to four people: the build is blocked.
    assert outcome.delivery.state == DeliveryState.quarantined
    small = [c for c in outcome.gate.checks if c.rule == "privacy:small-cells"]
    assert small and not small[0].passed and small[0].count > 0
    assert all(0 < s.values["detections"] < 5 for s in small[0].samples)
    assert not own.lakehouse.catalog.table_exists("welfare_safety.drunk_by_age")


def test_a_product_is_built_never_delivered(platform: Platform) -> None:
    from catalog.deliveries import BuiltNotDelivered
    from gongyu.delivery.landing import accept, receive_dropped

    file = data_file(AIR[1])
    with pytest.raises(BuiltNotDelivered, match="joint product: it is built from its SQL"):
        accept(platform, ENERGY, file)  # the CLI's, the upload's and the page's way in
    with pytest.raises(BuiltNotDelivered):
        platform.deliver(ENERGY, file)
    # A file dropped into the product's landing folder is never registered, nor removed.
    dropped = platform.workspace.root / "landing" / "keco" / ENERGY / "dropped.csv"
    dropped.parent.mkdir(parents=True)
    dropped.write_bytes(file.read_bytes())
    assert receive_dropped(platform) == []
    assert dropped.exists() and platform.deliveries.list(ENERGY) == []
