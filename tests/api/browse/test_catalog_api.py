"""The catalog's JSON API over HTTP on loopback: what each agency and role sees, masked samples,
history, lineage, usage, search, audit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from catalog.access.principal import Role
from quality.privacy.pseudonyms import PSEUDONYM_PATTERN
from tests.api.catalog_world import AIR, DRUNK, KOTSA, catalog_world
from tests.api.world import GRANTEE, LEVELS, OTHER_SECTOR, OWNER, ROWS, SAME_SECTOR, World, table

ROADS = "road_deaths_and_drunk_driving_by_month"  # the welfare sector's joint product
ROUTES = (
    "/api/v1/catalog",
    "/api/v1/catalog/sectors",
    "/api/v1/catalog/sectors/welfare_safety",
    "/api/v1/catalog/agencies",
    "/api/v1/catalog/agencies/knpa",
    "/api/v1/catalog/datasets",
    f"/api/v1/catalog/datasets/{AIR}",
    f"/api/v1/catalog/datasets/{AIR}/contract",
    "/api/v1/catalog/search?q=미세먼지",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with catalog_world(tmp_path_factory.mktemp("catalog")) as w:
        yield w


def get(
    served: World, caller: str, path: str, role: Role = Role.analyst, /, **params: str
) -> httpx.Response:
    with served.client(caller, role) as client:
        return client.get(path, params=params)


def entry(served: World, agency: str, dataset_id: str, role: Role = Role.analyst) -> dict:
    response = get(served, agency, f"/api/v1/catalog/datasets/{dataset_id}", role)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_needs_credentials(served: World, path: str) -> None:
    assert httpx.get(served.url + path).status_code == 401
    bad = httpx.get(served.url + path, headers={"Authorization": "Bearer gyk_nope_nope"})
    assert bad.status_code == 401 and bad.json() == {"detail": "invalid"}
    assert get(served, OTHER_SECTOR, path).status_code == 200


@pytest.mark.parametrize("agency", [SAME_SECTOR, GRANTEE, OTHER_SECTOR])
def test_another_agencys_private_dataset_does_not_exist(served: World, agency: str) -> None:
    private = get(served, agency, "/api/v1/catalog/datasets/cases_private")
    unknown = get(served, agency, "/api/v1/catalog/datasets/cases_nope")
    assert private.status_code == unknown.status_code == 404
    assert private.json() == unknown.json()
    assert get(served, agency, "/api/v1/catalog/datasets/cases_private/contract").status_code == 404
    listed = [d["id"] for d in get(served, agency, "/api/v1/catalog/datasets").json()]
    assert "cases_private" not in listed and "cases_restricted" in listed
    owner_home = get(served, OWNER, "/api/v1/catalog").json()
    home = get(served, agency, "/api/v1/catalog").json()
    assert home["datasets"] == owner_home["datasets"] - 1 == len(listed)
    welfare = get(served, agency, "/api/v1/catalog/sectors/welfare_safety").json()
    assert "cases_private" not in [d["id"] for d in welfare["datasets"]]
    knpa = get(served, agency, "/api/v1/catalog/agencies/knpa").json()
    assert knpa["agency"]["datasets"] == len(knpa["datasets"]) == 5  # 4 + 2 shipped - private
    found = get(served, agency, "/api/v1/catalog/search", q="cases").json()
    assert {h["dataset"]["id"] for h in found["hits"]} == {f"cases_{lv}" for lv in LEVELS[:3]}
    assert found["total"] == 3


def test_the_owner_sees_its_private_dataset_whole(served: World) -> None:
    for role in (Role.analyst, Role.steward, Role.secretariat):
        page = entry(served, OWNER, "cases_private", role)
        assert page["summary"]["readable"] is True
        assert len(page["sample"]["rows"]) == 10
        assert not any(c["masked"] for c in page["columns"])
    # An operator of the owning agency runs the platform; it does not read private data.
    assert (
        get(served, OWNER, "/api/v1/catalog/datasets/cases_private", Role.operator).status_code
        == 404
    )


def test_unknown_sector_and_agency_are_404(served: World) -> None:
    assert get(served, OWNER, "/api/v1/catalog/sectors/nowhere").status_code == 404
    assert get(served, OWNER, "/api/v1/catalog/agencies/nobody").status_code == 404


def test_samples_are_masked_and_filtered_as_in_the_sql_api(served: World) -> None:
    columns = ["person", "sido", "n", "amount"]
    # Same sector: the sector dataset reads, its sensitive column is NULL.
    page = entry(served, SAME_SECTOR, "cases_sector")
    assert page["summary"]["readable"] is True
    assert page["sample"]["columns"] == columns
    assert len(page["sample"]["rows"]) == 10
    assert {r[3] for r in page["sample"]["rows"]} == {None}
    assert [c["masked"] for c in page["columns"]] == [False, False, False, True]
    # Identifiers are pseudonyms in samples; their example is a pseudonym's shape, never a value.
    assert all(r[0].startswith("p1_") for r in page["sample"]["rows"])
    person = page["columns"][0]
    assert person["published_as"] == "pseudonymised"
    [example] = person["examples"]
    assert re.fullmatch(PSEUDONYM_PATTERN, example)
    assert example not in {r[0] for r in page["sample"]["rows"]}
    assert page["columns"][3]["examples"] == []  # masked: nothing to show
    # The grantee: the grant's row filter and its unmasked column, exactly as SQL answers.
    sql = served.sql(GRANTEE, f"SELECT * FROM {table('restricted')} LIMIT 10").json()
    page = entry(served, GRANTEE, "cases_restricted")
    assert page["sample"]["rows"] == sql["rows"]
    assert {r[1] for r in page["sample"]["rows"]} == {"부산"}
    assert "sido = '부산'" in page["sample"]["note"]
    assert not page["columns"][3]["masked"]


# The drunk-driving contract's raw examples of columns published generalised or withheld.
RAW = {"age": 29, "detected_at": "2022-07-09 02:30", "police_station": "평택경찰서"}
DRUNK_VIEWERS = [
    (OWNER, Role.steward),
    (OWNER, Role.analyst),
    (GRANTEE, Role.analyst),
    (OTHER_SECTOR, Role.analyst),
]


@pytest.mark.parametrize(("agency", "role"), DRUNK_VIEWERS)
def test_the_schema_shows_what_is_published_never_the_raw_examples(
    served: World, agency: str, role: Role
) -> None:
    contract = served.platform.contract(DRUNK)
    assert {c.name: c.examples[0] for c in contract.columns if c.name in RAW} == RAW
    answer = get(served, agency, f"/api/v1/catalog/datasets/{DRUNK}", role)
    assert answer.status_code == 200, answer.text
    assert "2022-07-09" not in answer.text and "평택경찰서" not in answer.text
    page = answer.json()
    columns = {c["name"]: c for c in page["columns"]}
    assert all(29 not in c["examples"] and "29" not in c["examples"] for c in page["columns"])
    age, detected, station = columns["age"], columns["detected_at"], columns["police_station"]
    assert (age["published_as"], age["generalisation"], age["type"]) == (
        "generalised",
        "age_band_5",
        "string",
    )
    assert age["examples"] == ["25-29"]
    assert (detected["published_as"], detected["generalisation"]) == ("generalised", "month")
    assert detected["examples"] == ["2022-07"]
    assert (station["published_as"], station["generalisation"]) == ("withheld", "suppress")
    assert station["examples"] == [] and station["required"] is False
    assert columns["sex"]["published_as"] == "as_delivered"
    assert columns["sex"]["examples"] == ["남자"]
    # Sensitive columns: examples only for viewers who read them unmasked.
    for name in ("blood_alcohol", "detection_count"):
        sensitive = columns[name]
        shown = [] if sensitive["masked"] else list(contract.column(name).examples)
        assert sensitive["published_as"] == "as_delivered" and sensitive["examples"] == shown


def test_the_dataset_says_how_many_rows_its_last_publication_withheld(served: World) -> None:
    page = entry(served, OTHER_SECTOR, DRUNK)
    [point] = page["quality"]
    [snapshot] = page["snapshots"]
    assert page["k"] == 5
    assert page["rows_withheld"] == snapshot["rows_withheld"]
    assert page["rows_withheld"] == point["rows"] - snapshot["rows"] > 0
    # Without k-anonymity there is nothing to withhold and no line to show.
    air = entry(served, OTHER_SECTOR, AIR)
    assert air["k"] is None and air["rows_withheld"] is None
    assert air["snapshots"][0]["rows_withheld"] == 0


def test_no_access_means_no_rows_and_how_to_ask(served: World) -> None:
    page = entry(served, OTHER_SECTOR, "cases_restricted")
    assert page["summary"]["readable"] is False
    assert page["sample"]["rows"] == []
    note = page["sample"]["note"]
    # The way to ask is the request form (or its API), never a mailbox: not the steward's, nor
    # the secretariat's desk (which may be the viewer's own).
    assert "grant" in note and "POST /api/v1/access-requests" in note and "@" not in note
    assert "제공 기관 승인" in note  # cases_restricted: the contract's default policy
    drunk = entry(served, OTHER_SECTOR, DRUNK)
    assert drunk["sample"]["rows"] == [] and "제공 기관과 간사기관 승인" in drunk["sample"]["note"]
    assert drunk["how_to_request"] in drunk["sample"]["note"]
    # Operators read public data only.
    assert entry(served, OWNER, "cases_sector", Role.operator)["summary"]["readable"] is False
    assert entry(served, OWNER, "cases_public", Role.operator)["summary"]["readable"] is True


def test_a_demo_dataset_page_has_everything(served: World) -> None:
    page = entry(served, OTHER_SECTOR, AIR)
    summary = page["summary"]
    assert summary["title"] == "서울시 일별 평균 대기오염도 정보"
    assert summary["agency_name"] == "서울특별시" and summary["sector_name"] == "환경·에너지"
    assert summary["freshness"] in {"fresh", "stale"} and summary["last_published_at"]
    assert "미세먼지" in summary["tags"]
    assert page["table"] == f"environment_energy.{AIR}"
    assert page["steward"] == "data@seoul.go.kr" and page["agency_contact"] == "data@seoul.go.kr"
    assert page["purpose"].startswith("서울시 측정소별") and page["limitations"]
    pm10 = next(c for c in page["columns"] if c["name"] == "pm10_ugm3")
    assert pm10["physical_name"] == "미세먼지농도(㎍/㎥)" and pm10["type"] == "integer"
    assert pm10["examples"] == [28]
    assert [v["version"] for v in page["versions"]] == ["1.1.0"]
    [point] = page["quality"]
    assert point["state"] == "published" and point["passed"] > 0 and point["failed"] == 0
    [snapshot] = page["snapshots"]
    assert snapshot["current"] and snapshot["rows"] == point["rows"]
    assert snapshot["delivery_id"] == point["delivery_id"]
    # "Query as of" the snapshot through the SQL API.
    count = served.sql(
        OTHER_SECTOR, f"SELECT count(*) FROM {page['table']}", as_of=snapshot["snapshot_id"]
    )
    assert count.json()["rows"] == [[snapshot["rows"]]]
    assert page["freshness"]["state"] == summary["freshness"]
    assert len(page["sample"]["rows"]) == 10 and page["sample"]["note"] is None
    kinds = {n["kind"] for n in page["lineage"]["nodes"]}
    assert {"delivery", "table"} <= kinds
    published = {
        "source": f"delivery:{point['delivery_id']}",
        "target": f"table:{page['table']}",
        "label": f"snapshot {snapshot['snapshot_id']}",
    }
    assert published in page["lineage"]["edges"]


def test_a_dataset_never_published_has_a_page(served: World) -> None:
    # No table of the finance sector exists yet: its namespace is not even created.
    page = entry(served, OTHER_SECTOR, "kosaf_scholarships_by_university")
    assert page["summary"]["freshness"] == "never_published"
    assert page["snapshots"] == page["quality"] == page["versions"] == []
    assert page["lineage"] == {"nodes": [], "edges": []}
    assert page["sample"]["rows"] == [] and "Nothing published yet" in page["sample"]["note"]
    assert len(page["columns"]) > 0


def test_quarantine_reasons_are_for_the_owning_agency(served: World) -> None:
    own = entry(served, "kotsa", KOTSA, Role.steward)["quality"]
    assert [q["state"] for q in own] == ["quarantined", "published"]
    assert own[0]["failed"] >= 1 and any("3개" in r or "검사진로수" in r for r in own[0]["reasons"])
    other = entry(served, OWNER, KOTSA)["quality"]
    assert [q["state"] for q in other] == ["quarantined", "published"]
    assert other[0]["reasons"] == [] and other[0]["failed"] == own[0]["failed"]
    home = get(served, OWNER, "/api/v1/catalog").json()
    [quarantined] = [p for p in home["recent_quarantined"] if p["dataset_id"] == KOTSA]
    assert quarantined["reasons"] == []
    home = get(served, "kotsa", "/api/v1/catalog", Role.steward).json()
    [quarantined] = [p for p in home["recent_quarantined"] if p["dataset_id"] == KOTSA]
    assert quarantined["reasons"]
    assert {p["dataset_id"] for p in home["recent_published"]} >= {AIR, DRUNK, KOTSA}


def test_private_publications_are_not_on_other_agencies_home(served: World) -> None:
    mine = {
        p["dataset_id"] for p in get(served, OWNER, "/api/v1/catalog").json()["recent_published"]
    }
    theirs = {
        p["dataset_id"] for p in get(served, GRANTEE, "/api/v1/catalog").json()["recent_published"]
    }
    assert "cases_private" in mine and "cases_private" not in theirs


def test_usage_is_shown_to_the_owner_the_secretariat_and_operators(served: World) -> None:
    for _ in range(2):
        assert served.sql(GRANTEE, f"SELECT * FROM {table('public')}").status_code == 200
    # Page views (and their samples) are not usage.
    entry(served, OTHER_SECTOR, "cases_public")

    def readers() -> dict[str, dict]:
        page = entry(served, OWNER, "cases_public", Role.steward)
        return {u["agency"]: u for u in page["usage"]}

    deadline = time.monotonic() + 5  # a query's audit record is written after its answer
    while readers().get(GRANTEE, {}).get("queries", 0) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    usage = readers()
    assert OTHER_SECTOR not in usage and OWNER not in usage
    assert usage[GRANTEE]["rows"] >= 2 * ROWS
    page = entry(served, OWNER, "cases_public", Role.steward)
    assert page["usage_shown"] is True
    assert {"id": f"reader:{GRANTEE}", "kind": "reader", "label": "건강보험심사평가원"} in page[
        "lineage"
    ]["nodes"]
    for agency, role in ((SAME_SECTOR, Role.secretariat), (OTHER_SECTOR, Role.operator)):
        shown = entry(served, agency, "cases_public", role)
        assert shown["usage_shown"] and GRANTEE in {u["agency"] for u in shown["usage"]}
    for agency, role in ((SAME_SECTOR, Role.analyst), (OTHER_SECTOR, Role.secretariat)):
        hidden = entry(served, agency, "cases_public", role)
        assert hidden["usage_shown"] is False and hidden["usage"] == []
        assert "reader" not in {n["kind"] for n in hidden["lineage"]["nodes"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("미세먼지", AIR),
        ("먼지", AIR),
        ("대기", AIR),
        ("air qual", AIR),
        ("음주", DRUNK),
        ("drunk", DRUNK),
    ],
)
def test_search_in_korean_and_english(served: World, query: str, expected: str) -> None:
    found = get(served, OTHER_SECTOR, "/api/v1/catalog/search", q=query).json()
    assert found["hits"][0]["dataset"]["id"] == expected
    assert found["hits"][0]["matched"] and found["hits"][0]["score"] > 0


def test_search_filters_and_paging(served: World) -> None:
    search = "/api/v1/catalog/search"
    welfare = get(served, OWNER, search, sector="welfare_safety").json()
    assert {h["dataset"]["sector"] for h in welfare["hits"]} == {"welfare_safety"}
    # The four test tables, three shipped datasets and the sector's shipped joint product.
    assert welfare["total"] == 8
    restricted = get(served, OWNER, search, access="restricted").json()
    assert {h["dataset"]["id"] for h in restricted["hits"]} == {"cases_restricted", DRUNK}
    fresh = get(served, OWNER, search, q="서울", freshness="fresh").json()
    assert [h["dataset"]["id"] for h in fresh["hits"]] == [AIR]
    never = get(served, OWNER, search, freshness="never_published").json()
    assert AIR not in {h["dataset"]["id"] for h in never["hits"]} and never["total"] > 0
    mine = get(served, OWNER, search, agency="seoul").json()
    assert mine["total"] == 2
    tagged = get(served, OWNER, search, tag="음주운전").json()
    # The joint product built on the police's data carries its tag too, and follows it.
    assert [h["dataset"]["id"] for h in tagged["hits"]] == [DRUNK, ROADS]
    first = get(served, OWNER, search, limit="1").json()
    second = get(served, OWNER, search, limit="1", offset="1").json()
    assert first["total"] == second["total"] > 1
    assert first["hits"][0]["dataset"]["id"] != second["hits"][0]["dataset"]["id"]
    assert get(served, OWNER, search, access="secret").status_code == 422


def test_sectors_and_agencies(served: World) -> None:
    sectors = get(served, OTHER_SECTOR, "/api/v1/catalog/sectors").json()
    assert [s["id"] for s in sectors] == [
        "environment_energy",
        "transport_logistics",
        "finance_insurance",
        "welfare_safety",
        "industry_sme",
    ]
    welfare = next(s for s in sectors if s["id"] == "welfare_safety")
    # Four shipped datasets with the test tables, and the sector's joint product (nhis's).
    assert welfare["secretariat"]["id"] == "nhis" and welfare["datasets"] == 7
    assert {a["id"] for a in welfare["agencies"]} == {"nhis", "hira", "knpa", "koroad", "mois"}
    agency = get(served, OTHER_SECTOR, "/api/v1/catalog/agencies/seoul").json()
    assert [s["id"] for s in agency["sectors"]] == ["environment_energy", "transport_logistics"]
    assert {d["id"] for d in agency["datasets"]} == {AIR, f"{AIR}_2017"}


def test_the_contract_is_served_as_written(served: World) -> None:
    response = get(served, OTHER_SECTOR, f"/api/v1/catalog/datasets/{AIR}/contract")
    assert response.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(response.text)["id"] == AIR
    assert response.text == served.platform.contract(AIR).path.read_text(encoding="utf-8")


def test_catalog_requests_are_audited(served: World) -> None:
    audit = served.platform.audit
    last = max((r.seq for r in audit.records(limit=1)), default=0)
    get(served, OTHER_SECTOR, f"/api/v1/catalog/datasets/{AIR}")
    get(served, OTHER_SECTOR, "/api/v1/catalog/search", q="먼지")
    deadline = time.monotonic() + 5
    while len(records := [r for r in audit.records(limit=10) if r.seq > last]) < 2:
        assert time.monotonic() < deadline, records
        time.sleep(0.01)
    records.sort(key=lambda r: r.seq)
    page, search = records
    assert page.kind == search.kind == "catalog" and page.agency == OTHER_SECTOR
    assert page.statement == f"GET /api/v1/catalog/datasets/{AIR}"
    assert list(page.datasets) == [AIR] and page.rows == 10
    assert search.statement.startswith("GET /api/v1/catalog/search?q=")
    assert audit.verify().ok


def test_search_follows_changed_contracts(served: World) -> None:
    platform = served.platform
    text = platform.contract(AIR).path.read_text(encoding="utf-8")
    added = platform.contract(AIR).path.with_name("seoul_yellow_dust.yaml")
    added.write_text(
        text.replace(f"id: {AIR}", "id: seoul_yellow_dust").replace(
            "name: 서울시 일별 평균 대기오염도 정보", "name: 서울시 황사 관측"
        ),
        encoding="utf-8",
    )
    try:
        # The server reads changed contract files before the next request: no restart.
        found = get(served, OWNER, "/api/v1/catalog/search", q="황사").json()
        assert [h["dataset"]["id"] for h in found["hits"]] == ["seoul_yellow_dust"]
    finally:
        added.unlink()
    assert get(served, OWNER, "/api/v1/catalog/search", q="황사").json()["total"] == 0


def test_the_contract_shows_raw_examples_to_its_agency_only(served: World) -> None:
    path = f"/api/v1/catalog/datasets/{DRUNK}/contract"
    written = served.platform.contract(DRUNK).path.read_text(encoding="utf-8")
    assert get(served, OWNER, path, Role.steward).text == written
    shown = get(served, GRANTEE, path).text
    for raw in ("2022-07-09 02:30", "[29]", "0.095"):
        assert raw in written and raw not in shown, raw
    doc = yaml.safe_load(shown)
    kept = {p["name"]: p for p in doc["schema"][0]["properties"]}
    assert kept["sex"].get("examples") is None and "examples" not in kept["age"]
    assert doc["id"] == DRUNK and doc["version"] == served.platform.contract(DRUNK).version
