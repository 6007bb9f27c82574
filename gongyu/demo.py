"""The demo: real agency files through the gate into the lakehouse, including two that must fail."""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from catalog.deliveries import Delivery, DeliveryState
from gongyu.platform import Platform

if TYPE_CHECKING:
    from assets.runner import Dagster

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MARKER = ".gongyu-demo"


@dataclass(frozen=True)
class DemoDelivery:
    """One delivery the demo makes, and how it must end."""

    dataset_id: str
    file: Path
    expect: DeliveryState
    why: str = ""


@dataclass
class DemoResult:
    """A demo delivery after its run."""

    planned: DemoDelivery
    delivery: Delivery
    seconds: float

    @property
    def as_expected(self) -> bool:
        """True when the delivery ended as planned."""
        return self.delivery.state == self.planned.expect


def reencode_with_edit(src: Path, dst: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    """Copy a CP949 CSV with its lines edited, keeping the encoding and CRLF line ends."""
    lines = src.read_bytes().decode("cp949").split("\r\n")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes("\r\n".join(edit(lines)).encode("cp949"))
    return dst


def bad_value(src: Path, dst: Path, column: str, line: int, value: str) -> Path:
    """A copy of a simple (unquoted) CP949 CSV with one cell replaced by `value`."""

    def edit(lines: list[str]) -> list[str]:
        header = lines[0].split(",")
        cells = lines[line - 1].split(",")
        cells[header.index(column)] = value
        return [*lines[: line - 1], ",".join(cells), *lines[line:]]

    return reencode_with_edit(src, dst, edit)


def duplicate_rows(src: Path, dst: Path, count: int) -> Path:
    """A copy of a CP949 CSV whose first `count` data rows appear again at the end."""

    def edit(lines: list[str]) -> list[str]:
        body = [ln for ln in lines[1:] if ln]
        return [lines[0], *body, *body[:count], ""]

    return reencode_with_edit(src, dst, edit)


def planted_mobiles(src: Path, dst: Path, column: str, numbers: list[str]) -> Path:
    """A copy of a UTF-8 (BOM) CSV whose first rows hold `numbers` in `column`.

    The numbers are synthetic (010-0000-xxxx is never assigned); they stand for an export
    that picked up owners' personal mobiles where the office number belongs.
    """
    rows = list(csv.reader(io.StringIO(src.read_text(encoding="utf-8-sig"), newline="")))
    at = rows[0].index(column)
    for row, number in zip(rows[1:], numbers, strict=False):
        row[at] = number
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(out.getvalue(), encoding="utf-8-sig")
    return dst


def plan(inputs: Path) -> list[DemoDelivery]:
    """Every demo delivery in order: the real files, three broken ones, and one fix."""
    d = DATA_DIR
    ok = DeliveryState.published
    bad = DeliveryState.quarantined
    kotsa = d / "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
    ice = d / "industry_sme/mois_localdata_edible_ice_sellers.csv"
    koica = d / "finance_insurance/koica_oda_by_income_group_20210521.csv"
    real = [
        ("seoul_daily_air_quality_2017", "environment_energy/seoul_daily_air_quality_2017.xlsx"),
        ("seoul_daily_air_quality", "environment_energy/seoul_daily_air_quality_2022.csv"),
        (
            "motie_gas_station_registrations",
            "environment_energy/motie_gas_station_registrations_2021.csv",
        ),
        ("national_urban_parks", "environment_energy/national_urban_parks_standard_data.csv"),
        (
            "regional_power_generation_by_fuel",
            "environment_energy/regional_power_generation_by_fuel_2018_2022.csv",
        ),
        ("seoul_metro_congestion", "transport_logistics/seoul_metro_congestion_20221231.csv"),
        (
            "kosaf_scholarships_by_university",
            "finance_insurance/kosaf_scholarships_by_university.csv",
        ),
        (
            "hira_drug_active_ingredients",
            "finance_insurance/hira_drug_master_active_ingredients.csv",
        ),
        ("police_crime_by_region_2015", "welfare_safety/police_crime_by_region_20151231.csv"),
        (
            "koroad_fatal_traffic_accidents",
            "welfare_safety/koroad_fatal_traffic_accidents_2020.csv",
        ),
        (
            "police_drunk_driving_detections",
            "welfare_safety/police_drunk_driving_detections_202207.csv",
        ),
        ("kotra_overseas_korean_companies", "industry_sme/kotra_overseas_korean_companies.csv"),
        ("mois_localdata_edible_ice_sellers", "industry_sme/mois_localdata_edible_ice_sellers.csv"),
    ]
    return [
        *(DemoDelivery(dataset, d / file, ok) for dataset, file in real),
        DemoDelivery(
            "kotsa_car_inspection_centers",
            bad_value(
                kotsa, inputs / "kotsa_car_inspection_centers_bad_value.csv", "검사진로수", 5, "3개"
            ),
            bad,
            "CP949 file with a count written with its unit ('3개')",
        ),
        DemoDelivery("kotsa_car_inspection_centers", kotsa, ok, "the fixed re-delivery"),
        DemoDelivery("koica_oda_by_income_group", koica, ok),
        DemoDelivery(
            "koica_oda_by_income_group",
            duplicate_rows(koica, inputs / "koica_oda_duplicated.csv", 3),
            bad,
            "three rows delivered twice (duplicate primary keys)",
        ),
        DemoDelivery(
            "mois_localdata_edible_ice_sellers",
            planted_mobiles(
                ice,
                inputs / "mois_ice_sellers_with_mobiles.csv",
                "소재지전화",
                ["010-0000-1234", "010 0000 5678", "01000009012"],
            ),
            bad,
            "owners' personal mobile numbers in the office-phone column (undeclared identifiers)",
        ),
    ]


def fresh_workspace(root: Path) -> None:
    """Make `root` an empty demo workspace; refuses to wipe a folder the demo did not create."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise ValueError(
                f"{root} exists and is not a demo workspace; choose another --workspace"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("created by `gongyu demo`; the next demo run replaces it\n")


def run_demo(
    platform: Platform,
    dagster: Dagster,
    on_start: Callable[[DemoDelivery], None] | None = None,
    on_done: Callable[[DemoResult], None] | None = None,
) -> list[DemoResult]:
    """Deliver and run every planned delivery in order, one Dagster run each, then the
    freshness checks."""
    from assets.runner import check_freshness, run_pending

    defs, instance = dagster
    results = []
    for planned in plan(platform.workspace.root / "demo-inputs"):
        if on_start:
            on_start(planned)
        started = time.perf_counter()
        platform.deliver(planned.dataset_id, planned.file)
        for delivery, _run_id in run_pending(platform, defs=defs, instance=instance):
            result = DemoResult(planned, delivery, time.perf_counter() - started)
            results.append(result)
            if on_done:
                on_done(result)
    # In-process, so the Dagster UI shows every dataset's freshness as soon as it opens.
    check_freshness(platform, defs, instance)
    return results
