"""CKAN's action API driven by the real `ckanapi` client (and raw HTTP) against the app on
loopback: packages, search, organizations (agencies), groups (sectors), errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import ckanapi
import httpx
import pytest

from catalog.access.principal import Role
from tests.api.catalog_world import AIR, DRUNK, KOTSA, catalog_world
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, World

ENERGY = "seoul_air_quality_and_thermal_power"  # the joint product built on AIR


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with catalog_world(tmp_path_factory.mktemp("ckan")) as w:
        yield w


def ckan(
    served: World, agency: str, role: Role = Role.analyst, **options: bool
) -> ckanapi.RemoteCKAN:
    """The client as a harvester configures it: the site's address and an API key."""
    return ckanapi.RemoteCKAN(served.url, apikey=served.keys[(agency, role)], **options)


@pytest.mark.parametrize("get_only", [False, True], ids=["post", "get"])
def test_package_list_and_show(served: World, get_only: bool) -> None:
    with ckan(served, OTHER_SECTOR, get_only=get_only) as client:
        names = client.action.package_list()
        assert names == sorted(names)
        assert {AIR, DRUNK, KOTSA, "cases_restricted"} <= set(names)
        assert "cases_private" not in names
        air = client.action.package_show(id=AIR)
    assert air["name"] == AIR and air["title"] == "서울시 일별 평균 대기오염도 정보"
    assert air["organization"]["name"] == "seoul" and air["owner_org"] == "seoul"
    assert [g["name"] for g in air["groups"]] == ["environment_energy"]
    assert "미세먼지" in [t["name"] for t in air["tags"]]
    assert air["private"] is False and air["metadata_modified"]
    assert air["maintainer_email"] == "data@seoul.go.kr"
    assert [r["format"] for r in air["resources"]] == ["JSON", "CSV", "Parquet", "Arrow"]
    download = f"{served.url}/api/v1/datasets/{AIR}/download?format="
    assert [r["url"] for r in air["resources"]] == [
        f"{served.url}/api/v1/sql",
        *(f"{download}{f}" for f in ("csv", "parquet", "arrow")),
    ]
    extras = {e["key"]: e["value"] for e in air["extras"]}
    assert extras["access_level"] == "public" and extras["sql_table"] == f"environment_energy.{AIR}"


def test_the_owner_sees_its_private_package(served: World) -> None:
    with ckan(served, OWNER, Role.steward) as client:
        assert "cases_private" in client.action.package_list()
        assert client.action.package_show(id="cases_private")["private"] is True


@pytest.mark.parametrize("dataset_id", ["cases_private", "no_such_dataset"])
def test_unknown_and_private_packages_are_not_found(served: World, dataset_id: str) -> None:
    with ckan(served, GRANTEE) as client, pytest.raises(ckanapi.NotFound):
        client.action.package_show(id=dataset_id)


def test_package_search(served: World) -> None:
    with ckan(served, OTHER_SECTOR) as client:
        found = client.action.package_search(q="미세먼지")
        # Seoul's two datasets and the joint product built on the newer one, after it.
        names = [p["name"] for p in found["results"]]
        assert found["count"] == 3 and names[0] == AIR
        assert names.index(AIR) < names.index(ENERGY)
        assert client.action.package_search(q="음주")["results"][0]["name"] == DRUNK
        assert client.action.package_search(q="air qual", rows=1)["results"][0]["name"] == AIR
        police = client.action.package_search(fq="organization:knpa")
        assert {p["name"] for p in police["results"]} == {
            "cases_public",
            "cases_sector",
            "cases_restricted",
            DRUNK,
            "police_crime_by_region_2015",
        }
        both = client.action.package_search(
            q="*:*", fq='+organization:knpa +groups:"welfare_safety"'
        )
        assert both["count"] == police["count"] == 5
        assert client.action.package_search(fq=" ")["count"] == len(client.action.package_list())
        tagged = client.action.package_search(fq="tags:미세먼지")
        assert {p["name"] for p in tagged["results"]} == {AIR, f"{AIR}_2017", ENERGY}
        everything = client.action.package_search(rows=1000)
        first = client.action.package_search(rows=2)
        second = client.action.package_search(rows=2, start=2)
        assert [p["name"] for p in everything["results"][:4]] == [
            p["name"] for p in first["results"] + second["results"]
        ]
        assert everything["count"] == len(client.action.package_list())
        with pytest.raises(ckanapi.SearchQueryError):
            client.action.package_search(fq="res_format:CSV")


def test_organizations_are_agencies(served: World) -> None:
    with ckan(served, OTHER_SECTOR) as client:
        names = client.action.organization_list()
        assert "knpa" in names and len(names) == len(served.platform.registry.agencies)
        orgs = {o["name"]: o for o in client.action.organization_list(all_fields=True)}
        assert orgs["knpa"]["title"] == "경찰청" and orgs["knpa"]["package_count"] == 5
        knpa = client.action.organization_show(id="knpa", include_datasets=True)
        assert knpa["is_organization"] is True and len(knpa["packages"]) == 5
        assert "cases_private" not in {p["name"] for p in knpa["packages"]}
        assert client.action.organization_show(id="knpa")["packages"] == []
        with pytest.raises(ckanapi.NotFound):
            client.action.organization_show(id="nobody")
    with ckan(served, OWNER) as client:
        assert client.action.organization_show(id="knpa")["package_count"] == 6


def test_groups_are_sectors(served: World) -> None:
    with ckan(served, OTHER_SECTOR) as client:
        assert client.action.group_list() == sorted(s.id for s in served.platform.registry.sectors)
        groups = {g["name"]: g for g in client.action.group_list(all_fields=True)}
        assert groups["environment_energy"]["title"] == "환경·에너지"
        welfare = client.action.group_show(id="welfare_safety", include_datasets=True)
        # Its datasets (the test tables among them) and its joint product.
        assert welfare["is_organization"] is False and welfare["package_count"] == 7
        assert {p["name"] for p in welfare["packages"]} >= {DRUNK, "cases_public"}
        with pytest.raises(ckanapi.NotFound):
            client.action.group_show(id="nowhere")


@pytest.mark.parametrize("key", [None, "gyk_0000000000000000_nope", "not-a-key"])
def test_no_valid_key_is_ckans_access_denied_and_says_nothing_more(
    served: World, key: str | None
) -> None:
    with (
        ckanapi.RemoteCKAN(served.url, apikey=key) as client,
        pytest.raises(ckanapi.NotAuthorized) as raised,
    ):
        client.action.package_list()
    assert raised.value.args[0] == {"__type": "Authorization Error", "message": "Access denied"}


def test_raw_http_envelope_paths_and_errors(served: World) -> None:
    key = served.keys[(OTHER_SECTOR, Role.analyst)]
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {key}"}) as client:
        shown = client.get("/api/3/action/package_show", params={"id": AIR})
        assert shown.status_code == 200
        body = shown.json()
        assert body["success"] is True and body["help"].endswith("help_show?name=package_show")
        posted = client.post("/api/3/action/package_show", json={"id": AIR})
        assert posted.json()["result"] == body["result"]
        missing = client.post("/api/3/action/package_show", json={})
        assert missing.status_code == 409
        assert missing.json()["error"] == {
            "__type": "Validation Error",
            "name_or_id": ["Missing value"],
        }
        hidden = client.get("/api/3/action/package_show", params={"id": "cases_private"})
        assert hidden.status_code == 404
        assert hidden.json()["error"] == {"__type": "Not Found Error", "message": "Not found"}
        unknown = client.get("/api/3/action/package_create")
        assert unknown.status_code == 400 and unknown.json()["success"] is False
        bad_rows = client.get("/api/3/action/package_search", params={"rows": "many"})
        assert bad_rows.status_code == 409
    denied = httpx.get(f"{served.url}/api/3/action/package_list")
    assert denied.status_code == 403 and denied.json()["success"] is False
    # Two different credentials at once are refused, never guessed between.
    other = served.keys[(OWNER, Role.analyst)]
    both = httpx.get(
        f"{served.url}/api/3/action/package_list",
        headers={"Authorization": key, "X-CKAN-API-Key": other},
    )
    assert both.status_code == 403


def test_ckan_requests_are_audited(served: World) -> None:
    audit = served.platform.audit
    last = max((r.seq for r in audit.records(limit=1)), default=0)
    with ckan(served, GRANTEE) as client:
        client.action.package_show(id=DRUNK)
    deadline = time.monotonic() + 5  # written once the answer is sent
    while not (records := [r for r in audit.records(agency=GRANTEE, limit=5) if r.seq > last]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    [record] = records
    assert record.kind == "catalog" and list(record.datasets) == [DRUNK]
    assert record.statement == f'POST /api/action/package_show {{"id": "{DRUNK}"}}'
    assert audit.verify().ok


def test_the_openapi_document_declares_ckans_security_and_statuses(served: World) -> None:
    spec = httpx.get(f"{served.url}/openapi.json").json()
    operations = spec["paths"]["/api/3/action/{action}"]
    assert set(operations) == {"get", "post"}
    for operation in operations.values():
        assert operation["security"] == [{"bearer": []}, {"apiKey": []}]
        assert {"200", "400", "401", "403", "404", "409", "429"} <= set(operation["responses"])
    # A status the action answers with is one the document declares.
    with served.client(OWNER) as client:
        missing = client.get("/api/3/action/package_show", params={"id": "nowhere"})
    assert str(missing.status_code) in operations["get"]["responses"]
