"""The shipped contracts: they load, lint clean and describe the shipped demo files."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from python_calamine import CalamineWorkbook

from contracts.lint import lint_all
from contracts.loader import DEFAULT_DIR, contract_files, load_contracts
from contracts.model import AccessLevel, ApplyMode, Classification
from sectors.registry import default_registry

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"

# dataset id -> demo file under data/, and how that file is encoded (readers detect this).
DEMO_FILES = {
    "motie_gas_station_registrations": ("motie_gas_station_registrations_2021.csv", "cp949", ","),
    "national_urban_parks": ("national_urban_parks_standard_data.csv", "cp949", ","),
    "regional_power_generation_by_fuel": (
        "regional_power_generation_by_fuel_2018_2022.csv",
        "cp949",
        ",",
    ),
    "seoul_daily_air_quality": ("seoul_daily_air_quality_2022.csv", "cp949", ","),
    "seoul_daily_air_quality_2017": ("seoul_daily_air_quality_2017.xlsx", None, None),
    "hira_drug_active_ingredients": ("hira_drug_master_active_ingredients.csv", "cp949", ","),
    "koica_oda_by_income_group": ("koica_oda_by_income_group_20210521.csv", "cp949", ","),
    "kosaf_scholarships_by_university": ("kosaf_scholarships_by_university.csv", "cp949", ","),
    "kotra_overseas_korean_companies": ("kotra_overseas_korean_companies.csv", "cp949", ","),
    "mois_localdata_edible_ice_sellers": (
        "mois_localdata_edible_ice_sellers.csv",
        "utf-8-sig",
        ",",
    ),
    "kotsa_car_inspection_centers": ("kotsa_car_inspection_centers_20210927.csv", "cp949", ","),
    "seoul_metro_congestion": ("seoul_metro_congestion_20221231.csv", "cp949", ","),
    "koroad_fatal_traffic_accidents": ("koroad_fatal_traffic_accidents_2020.csv", "cp949", ","),
    "police_crime_by_region_2015": ("police_crime_by_region_20151231.csv", "cp949", ","),
    "police_drunk_driving_detections": (
        "police_drunk_driving_detections_202207.csv",
        "utf-16",
        "\t",
    ),
}


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


def _header(path: Path, encoding: str | None, delimiter: str | None) -> list[str]:
    if encoding is None:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(nrows=1)
        return [str(h) for h in rows[0]]
    text = path.read_bytes().decode(encoding)
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or ","))


def test_every_shipped_contract_loads(contracts):
    assert len(contracts) >= 8
    assert len(contracts) == len(contract_files())
    assert {c.sector for c in contracts} == {s.id for s in default_registry().sectors}


def test_shipped_contracts_lint_clean():
    issues = lint_all()
    assert [str(i) for i in issues] == []


def test_contracts_sit_at_sector_agency_id(contracts):
    for c in contracts:
        assert c.path.relative_to(DEFAULT_DIR).parts == (c.sector, c.agency, f"{c.id}.yaml")


def test_access_levels_and_apply_modes_are_varied(contracts):
    by_id = {c.id: c for c in contracts}
    assert by_id["police_drunk_driving_detections"].access is AccessLevel.restricted
    assert by_id["koroad_fatal_traffic_accidents"].access is AccessLevel.sector
    assert by_id["seoul_daily_air_quality"].apply_mode is ApplyMode.append
    assert {c.apply_mode for c in contracts} == set(ApplyMode)
    for c in contracts:
        if c.apply_mode is ApplyMode.upsert:
            assert c.primary_key, c.id


def test_every_property_declares_its_classification(contracts):
    for c in contracts:
        raw = yaml.safe_load(c.path.read_text(encoding="utf-8"))
        for prop in raw["schema"][0]["properties"]:
            declared = {p["property"]: p["value"] for p in prop.get("customProperties", [])}
            assert declared.get("classification") in set(Classification), (c.id, prop["name"])
    drunk = next(c for c in contracts if c.id == "police_drunk_driving_detections")
    assert drunk.column("blood_alcohol").classification is Classification.sensitive
    assert drunk.column("age").classification is Classification.quasi_identifier


def test_every_contract_has_quality_rules_and_some_warn(contracts):
    for c in contracts:
        assert any(r.spec.get("metric") == "rowCount" for r in c.quality), c.id
    warnings = [r for c in contracts for r in c.quality if r.severity.value == "warning"]
    assert len(warnings) >= 5


def test_slas_follow_how_often_each_source_is_published(contracts):
    by_id = {c.id: c for c in contracts}
    assert by_id["seoul_daily_air_quality"].sla.max_age == timedelta(days=2)  # daily, a day late
    assert by_id["hira_drug_active_ingredients"].sla.frequency == timedelta(days=31)  # monthly
    assert by_id["koroad_fatal_traffic_accidents"].sla.frequency == timedelta(days=366)  # yearly
    # Closed tables (one year, or an old download layout) promise no further deliveries.
    assert {c.id for c in contracts if c.sla.max_age is None} == {
        "seoul_daily_air_quality_2017",
        "police_crime_by_region_2015",
    }


def test_contracts_cover_every_demo_file(contracts):
    shipped = {p.name for p in DATA.glob("*/*") if p.suffix in {".csv", ".xlsx"}}
    assert shipped == {f for f, _, _ in DEMO_FILES.values()}
    # Every dataset contract has its demo file; joint products are built from those datasets.
    assert {c.id for c in contracts if c.product is None} == set(DEMO_FILES)
    products = {c.id: set(c.product.inputs) for c in contracts if c.product is not None}
    assert products == {
        "road_deaths_and_drunk_driving_by_month": {
            "koroad_fatal_traffic_accidents",
            "police_drunk_driving_detections",
        },
        "seoul_air_quality_and_thermal_power": {
            "seoul_daily_air_quality",
            "regional_power_generation_by_fuel",
        },
    }


@pytest.mark.parametrize("dataset", sorted(DEMO_FILES))
def test_physical_names_match_the_demo_file_header(contracts, dataset):
    contract = next(c for c in contracts if c.id == dataset)
    name, encoding, delimiter = DEMO_FILES[dataset]
    header = _header(DATA / contract.sector / name, encoding, delimiter)
    # The urban-parks file ends every line with a comma: one unnamed, always-empty column.
    named = [h for h in header if h != ""]
    assert [c.physical_name for c in contract.columns] == named
