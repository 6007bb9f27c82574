"""Licences, coverage and update cycles: what the shipped contracts state, the `closed` freshness
of a historical dataset, and how the catalog's JSON and dataset page show them (Korean first,
English with `?lang=en`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from catalog.access.principal import Role
from catalog.freshness import FreshnessState, assess, period, update_cycle
from contracts.licences import LICENCES, Licence
from contracts.loader import load_contracts
from contracts.model import Coverage
from gongyu.cli.status import freshness_table
from tests.api.catalog_world import KOTSA, KOTSA_FILE, deliver
from tests.api.web_session import parse, sign_in, text
from tests.api.world import OTHER_SECTOR, OWNER, World, world
from tests.conftest import data_file

CRIME = "police_crime_by_region_2015"
CRIME_FILE = "welfare_safety/police_crime_by_region_20151231.csv"
KOROAD = "koroad_fatal_traffic_accidents"
# Shipped files copied from statgarten/datatoys, a CC0 1.0 repository (data/README.md).
FROM_DATATOYS = {
    "motie_gas_station_registrations",
    "hira_drug_active_ingredients",
    "koica_oda_by_income_group",
    "kosaf_scholarships_by_university",
    "kotra_overseas_korean_companies",
    "mois_localdata_edible_ice_sellers",
    KOTSA,
    "seoul_metro_congestion",
    CRIME,
    "police_drunk_driving_detections",
    KOROAD,
}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped():
    return {c.id: c for c in load_contracts()}


def test_every_shipped_contract_states_its_licence_coverage_and_english(shipped) -> None:
    for contract in shipped.values():
        assert contract.coverage.start and contract.coverage.end, contract.id
        assert contract.english.title and contract.english.description, contract.id
        if contract.id in FROM_DATATOYS:
            assert contract.licence == Licence.cc0, contract.id
            assert "statgarten/datatoys" in contract.text and "were not checked" in contract.text
        else:  # their source repositories state no licence: none is claimed, and it says why
            assert contract.licence is None, contract.id
            assert "# Licence: not stated." in contract.text, contract.id


@pytest.mark.parametrize(
    ("dataset", "file", "column", "encoding"),
    [
        (KOROAD, "welfare_safety/koroad_fatal_traffic_accidents_2020.csv", "발생년월일시", "cp949"),
        (CRIME, CRIME_FILE, None, "cp949"),
        (
            "regional_power_generation_by_fuel",
            "environment_energy/regional_power_generation_by_fuel_2018_2022.csv",
            "거래일자",
            "cp949",
        ),
        (KOTSA, KOTSA_FILE, "데이터기준일자", "cp949"),
    ],
)
def test_coverage_is_the_datas_own(shipped, dataset, file, column, encoding) -> None:
    coverage = shipped[dataset].coverage
    if column is None:  # a yearly table with no date column: the year in its title
        assert (coverage.start, coverage.end) == (date(2015, 1, 1), date(2015, 12, 31))
        return
    rows = csv.DictReader(io.StringIO(data_file(file).read_bytes().decode(encoding)))
    days = [date.fromisoformat(r[column][:10]) for r in rows]
    assert coverage.start <= min(days) and max(days) <= coverage.end
    assert coverage.start.replace(day=1) == min(days).replace(day=1)  # not a wider guess
    assert coverage.end.month == max(days).month


def test_a_closed_historical_dataset_is_closed_not_fresh(shipped) -> None:
    crime, koroad = shipped[CRIME], shipped[KOROAD]
    published = NOW - timedelta(hours=1)
    closed = assess(crime, published, NOW)
    assert closed.state == FreshnessState.closed and closed.period == "2015"
    assert closed.summary.startswith("closed: covers 2015, no further updates (no SLA)")
    # Registered but never published: nothing is closed yet.
    assert assess(crime, None, NOW).state == FreshnessState.no_sla
    # Coverage that has not ended yet (or none at all) is no SLA as before.
    ongoing = crime.model_copy(update={"coverage": Coverage(start=date(2015, 1, 1))})
    assert assess(ongoing, published, NOW).state == FreshnessState.no_sla
    future = crime.model_copy(update={"coverage": Coverage(end=date(2026, 12, 31))})
    assert assess(future, published, NOW).state == FreshnessState.no_sla
    # With an SLA the cycle decides, whatever the coverage (KoROAD appends a year at a time).
    assert assess(koroad, published, NOW).state == FreshnessState.fresh
    assert assess(koroad, NOW - timedelta(days=500), NOW).state == FreshnessState.stale


def test_periods_and_cycles_as_people_write_them(shipped) -> None:
    assert period(shipped[KOROAD].coverage) == "2020"
    assert period(shipped["koica_oda_by_income_group"].coverage) == "1991–2019"
    assert period(shipped["police_drunk_driving_detections"].coverage) == "2022-07"
    assert period(shipped[KOTSA].coverage) == "2021-09-27"
    assert period(shipped["regional_power_generation_by_fuel"].coverage) == (
        "2018-01-01 – 2022-06-30"
    )
    assert period(Coverage(start=date(2022, 1, 1))) == "2022-01-01 –"
    assert period(Coverage()) is None
    cycles = {
        d: (c.every, c.unit) if (c := update_cycle(shipped[d])) else None
        for d in (KOROAD, "seoul_metro_congestion", "seoul_daily_air_quality", CRIME)
    }
    assert cycles == {
        KOROAD: (1, "year"),
        "seoul_metro_congestion": (6, "month"),
        "seoul_daily_air_quality": (1, "day"),
        CRIME: None,
    }
    assert "이듬해 봄" in (update_cycle(shipped[KOROAD]).note or "")


# Served: the closed 2015 crime table and KOTSA's centres (yearly SLA) published.


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("licence")
    with world(root) as w:
        assert deliver(w.platform, CRIME, data_file(CRIME_FILE)) == "published"
        assert deliver(w.platform, KOTSA, data_file(KOTSA_FILE)) == "published"
        yield w


def entry(served: World, dataset: str) -> dict:
    with served.client(OTHER_SECTOR) as client:
        answer = client.get(f"/api/v1/catalog/datasets/{dataset}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_catalog_json_has_licence_coverage_and_cycle(served: World) -> None:
    crime = entry(served, CRIME)
    assert crime["summary"]["freshness"] == "closed"
    assert crime["freshness"]["state"] == "closed" and crime["freshness"]["period"] == "2015"
    assert crime["licence"] == {
        "id": "CC0-1.0",
        "title_ko": LICENCES[Licence.cc0].title_ko,
        "title_en": LICENCES[Licence.cc0].title_en,
        "url": "https://creativecommons.org/publicdomain/zero/1.0/",
        "isopen": True,
    }
    assert crime["coverage"] == {"start": "2015-01-01", "end": "2015-12-31", "period": "2015"}
    assert crime["update_cycle"] is None
    assert crime["english"]["title"].startswith("Crimes by region, 2015")
    kotsa = entry(served, KOTSA)
    assert kotsa["summary"]["freshness"] == "fresh"
    cycle = kotsa["update_cycle"]
    assert (cycle["every"], cycle["unit"]) == (1, "year")
    assert cycle["latency"] == timedelta(days=30).total_seconds()
    air = entry(served, "seoul_daily_air_quality")  # registered, not delivered: no licence stated
    assert air["licence"] is None and air["coverage"]["period"] == "2022"


def test_search_filters_closed_datasets(served: World) -> None:
    with served.client(OWNER) as client:
        found = client.get("/api/v1/catalog/search", params={"freshness": "closed"}).json()
    assert [h["dataset"]["id"] for h in found["hits"]] == [CRIME]


@pytest.fixture(scope="module")
def browser(served: World) -> Iterator[httpx.Client]:
    client = sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])
    yield client
    client.close()


def test_the_page_shows_a_closed_dataset_in_korean_then_english(
    served: World, browser: httpx.Client
) -> None:
    page = parse(browser.get(f"/datasets/{CRIME}").text)
    header = page.find(".//header[@class='dataset-header']")
    assert text(header.find("./h1")) == served.platform.contract(CRIME).title
    assert text(header.find(".//p[@class='subtitle']")).startswith("Crimes by region, 2015")
    badge = header.find(".//span[@class='badge fresh-closed']")
    assert text(badge) == "마감"
    # The licence and its own page's address, as text: pages link nowhere outside the site.
    licence = page.find(".//dd[@id='licence']")
    assert text(licence.find("./span[@class='licence-title']")) == LICENCES[Licence.cc0].title_ko
    url = licence.find("./code[@class='licence-url']")
    assert text(url) == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert licence.find(".//a") is None
    assert text(page.find(".//dd[@id='coverage']")) == "2015"
    assert "2015" in text(page.find(".//dd[@id='update-cycle']"))
    freshness = text(page.find(".//section[@id='freshness']/p"))
    assert "마감: 2015 자료이며 더 이상 갱신되지 않습니다" in freshness
    badges = [text(b) for b in page.iter("span") if "badge" in b.get("class", "")]
    assert "최신" not in badges and "마감" in badges

    english = parse(browser.get(f"/datasets/{CRIME}", params={"lang": "en"}).text)
    header = english.find(".//header[@class='dataset-header']")
    assert text(header.find("./h1")).startswith("Crimes by region, 2015")
    assert text(header.find(".//p[@class='subtitle']")) == served.platform.contract(CRIME).title
    assert text(header.find(".//span[@class='badge fresh-closed']")) == "closed"
    title_en = english.find(".//dd[@id='licence']/span[@class='licence-title']")
    assert text(title_en) == LICENCES[Licence.cc0].title_en
    assert "Closed: covers 2015, no further updates" in text(
        english.find(".//section[@id='freshness']/p")
    )
    assert english.find(".//p[@id='english-description']") is not None


def test_the_page_says_updated_per_cycle_where_there_is_an_sla(browser: httpx.Client) -> None:
    page = parse(browser.get(f"/datasets/{KOTSA}", params={"lang": "ko"}).text)
    assert text(page.find(".//span[@class='badge fresh-fresh']")) == "주기 내 갱신"
    cycle = text(page.find(".//dd[@id='update-cycle']"))
    assert cycle.startswith("매년 (최대 30일 지연 허용)")
    assert "매년 갱신되는 데이터로" in text(page.find(".//section[@id='freshness']/p"))
    assert text(page.find(".//dd[@id='coverage']")) == "2021-09-27"
    english = parse(browser.get(f"/datasets/{KOTSA}", params={"lang": "en"}).text)
    assert text(english.find(".//span[@class='badge fresh-fresh']")) == "updated per cycle"
    assert text(english.find(".//dd[@id='update-cycle']")).startswith("yearly (up to 30 d late)")
    unstated = parse(browser.get("/datasets/seoul_daily_air_quality").text)
    assert text(unstated.find(".//dd[@id='licence']")).startswith("명시되지 않음")


def test_gongyu_status_prints_a_closed_dataset(shipped) -> None:
    closed = assess(shipped[CRIME], NOW - timedelta(days=3), NOW)
    console = Console(width=200, record=True)
    console.print(freshness_table([closed]))
    assert "closed" in console.export_text()
