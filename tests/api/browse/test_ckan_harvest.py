"""CKAN harvest compatibility, driven by the real `ckanapi` client on loopback as a low-privilege
key: resource ids CKAN 2.10 and 2.11 accept, `package_search`'s `fq` (ranges, OR, negation),
`sort` and facets, fixed `metadata_created`, organization paging, the other read actions, and
two harvests with ckanext-harvest's own request sequence seeing what changed in between. Another
agency's private dataset shows nowhere."""

from __future__ import annotations

import csv
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ckanapi
import pytest
import yaml

from api.browse.ckan_model import RESOURCE_NAMESPACE
from catalog.access.principal import Role
from contracts.licences import LICENCES, Licence
from gongyu.delivery.way import process_delivery
from tests.api.catalog_world import AIR, DRUNK, KOTSA, catalog_world
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, World, contract_doc, rows, world

# A private dataset of knpa with its own tag and words: it must leak through nothing.
SECRET = "cases_secret"
SECRET_TAG = "비밀태그"
KEYS = ("json", "csv", "parquet", "arrow")
# CKAN 2.10's resource_id_validator (ckan/logic/validators.py at ckan-2.10.9).
CKAN_210_RESOURCE_ID = re.compile(r"^[0-9a-zA-Z _-]{7,100}$")


def add_secret(platform: Any) -> None:
    """Register knpa's private, tagged dataset (the server re-reads contracts per request)."""
    doc = contract_doc("private")
    doc.update(id=SECRET, name="zqxw secret cases", tags=[SECRET_TAG, "음주"])
    doc["schema"][0]["name"] = SECRET
    path = platform.settings.contracts_dir / "welfare_safety" / OWNER / f"{SECRET}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with catalog_world(tmp_path_factory.mktemp("ckan_harvest")) as w:
        add_secret(w.platform)
        yield w


def ckan(served: World, agency: str = OTHER_SECTOR, role: Role = Role.analyst, **options: Any):
    """`ckanapi` as a harvester configures it; an analyst of another sector by default (the
    lowest privilege a key has: it reads public data and sees no one's private datasets)."""
    return ckanapi.RemoteCKAN(served.url, apikey=served.keys[(agency, role)], **options)


def resource_uuid(dataset: str, key: str) -> str:
    return str(uuid.uuid5(RESOURCE_NAMESPACE, f"{dataset}/{key}"))


@pytest.mark.parametrize("get_only", [False, True], ids=["post", "get"])
def test_resource_ids_are_uuids_ckan_accepts_and_stable(served: World, get_only: bool) -> None:
    with ckan(served, get_only=get_only) as client:
        air = client.action.package_show(id=AIR)
        again = client.action.package_search(fq=f"name:{AIR}")["results"][0]
        kotsa = client.action.package_show(id=KOTSA)
        ids = [r["id"] for r in air["resources"]]
        assert ids == [r["id"] for r in again["resources"]]  # the same every time
        assert ids == [resource_uuid(AIR, k) for k in KEYS]  # UUID 5 of dataset and format
        assert len(set(ids) | {r["id"] for r in kotsa["resources"]}) == 8
        for resource_id in ids:
            assert CKAN_210_RESOURCE_ID.match(resource_id)  # CKAN 2.10
            assert str(uuid.UUID(resource_id)) == resource_id  # CKAN 2.11's uuid_validator
            shown = client.action.resource_show(id=resource_id)
            assert shown == next(r for r in air["resources"] if r["id"] == resource_id)
            assert shown["package_id"] == AIR
        with pytest.raises(ckanapi.NotFound):
            client.action.resource_show(id=f"{AIR}.csv")


def test_licence_fields_come_from_the_contract(served: World) -> None:
    with ckan(served) as client:
        kotsa = client.action.package_show(id=KOTSA)
        air = client.action.package_show(id=AIR)
        licences = {entry["id"]: entry for entry in client.action.license_list()}
    cc0 = LICENCES[Licence.cc0]
    assert (kotsa["license_id"], kotsa["license_title"]) == ("CC0-1.0", cc0.title_ko)
    assert kotsa["license_url"] == str(cc0.url) and kotsa["isopen"] is True
    # Seoul's source states no licence: CKAN's own `notspecified`, not open.
    assert (air["license_id"], air["isopen"], air["license_url"]) == ("notspecified", False, "")
    assert set(licences) == {*(str(lic) for lic in Licence), "notspecified"}
    assert licences["CC0-1.0"]["is_okd_compliant"] is True
    assert licences["KOGL-Type2"]["od_conformance"] == "not reviewed"
    assert licences["KOGL-Type1"]["url"] == str(LICENCES[Licence.kogl_1].url)
    extras = {e["key"]: e["value"] for e in kotsa["extras"]}
    assert (extras["temporal_start"], extras["temporal_end"]) == ("2021-09-27", "2021-09-27")
    assert extras["update_cycle"] == "1 year" and extras["title_en"]


def names(found: dict[str, Any]) -> list[str]:
    return [p["name"] for p in found["results"]]


def test_package_search_fq_ranges_or_and_negation(served: World) -> None:
    with ckan(served) as client:
        everything = client.action.package_search(rows=1000)
        total = everything["count"]
        stamps = {p["name"]: p["metadata_modified"] for p in everything["results"]}
        published = sorted(stamps[d] for d in (AIR, DRUNK, KOTSA))
        since = published[1]  # the middle one of the three publications
        recent = client.action.package_search(fq=f"metadata_modified:[{since}Z TO *]", rows=1000)
        assert set(names(recent)) == {d for d, s in stamps.items() if s >= since}
        assert {AIR, DRUNK, KOTSA} & set(names(recent)) and len(names(recent)) < total
        exclusive = client.action.package_search(fq=f"metadata_modified:{{{since}Z TO *]")
        assert exclusive["count"] == recent["count"] - 1
        upto = client.action.package_search(fq=f"metadata_modified:[* TO {since}Z]", rows=1000)
        assert upto["count"] + recent["count"] == total + 1
        assert client.action.package_search(fq="metadata_modified:[NOW-1DAY TO NOW]")["count"]
        assert client.action.package_search(fq="metadata_created:[NOW+1DAY TO *]")["count"] == 0
        either = client.action.package_search(fq="organization:seoul OR organization:kotsa")
        assert set(names(either)) == {AIR, f"{AIR}_2017", KOTSA}
        grouped = client.action.package_search(fq="organization:(seoul OR kotsa) -tags:미세먼지")
        assert names(grouped) == [KOTSA]
        not_knpa = client.action.package_search(fq="-organization:knpa", rows=1000)
        assert not_knpa["count"] == total - 5 and "cases_public" not in names(not_knpa)
        both = client.action.package_search(
            fq="organization:knpa OR organization:seoul -access_level:public", rows=1000
        )
        assert set(names(both)) == {"cases_sector", "cases_restricted", DRUNK}
        assert client.action.package_search(fq="license_id:CC0-1.0 capacity:public")["count"]
        for bad in ("metadata_modified:[yesterday TO *]", "res_format:CSV", "(organization:x"):
            with pytest.raises(ckanapi.SearchQueryError):
                client.action.package_search(fq=bad)


def test_package_search_sorts(served: World) -> None:
    with ckan(served) as client:
        by_id = names(client.action.package_search(sort="id asc", rows=1000))
        assert by_id == sorted(by_id)
        assert names(client.action.package_search(sort="id desc", rows=1000)) == by_id[::-1]
        newest = client.action.package_search(sort="metadata_modified desc", rows=1000)
        stamps = [p["metadata_modified"] for p in newest["results"]]
        assert stamps == sorted(stamps, reverse=True) and newest["sort"] == (
            "metadata_modified desc"
        )
        scored = client.action.package_search(q="미세먼지", sort="score desc")
        assert names(scored)[0] == AIR
        paged = [
            name
            for start in range(0, len(by_id), 4)
            for name in names(client.action.package_search(sort="id asc", rows=4, start=start))
        ]
        assert paged == by_id
        with pytest.raises(ckanapi.SearchQueryError):
            client.action.package_search(sort="popularity desc")


def test_package_search_facets(served: World) -> None:
    with ckan(served, get_only=True) as client:
        found = client.action.package_search(
            q="*:*",
            **{"facet.field": '["organization", "groups", "tags", "license_id", "res_format"]'},
            rows=0,
        )
    facets, search = found["facets"], found["search_facets"]
    assert facets["organization"]["knpa"] == 5  # its private datasets are not counted
    assert sum(facets["organization"].values()) == found["count"]
    assert facets["res_format"] == dict.fromkeys(
        ("Arrow", "CSV", "JSON", "Parquet"), found["count"]
    )
    # Seoul's two air-quality datasets and the joint product built on one of them.
    assert facets["tags"]["미세먼지"] == 3 and SECRET_TAG not in facets["tags"]
    assert facets["license_id"]["CC0-1.0"] >= 1 and "notspecified" in facets["license_id"]
    items = search["organization"]["items"]
    assert search["organization"]["title"] == "organization"
    assert items[0]["count"] == max(facets["organization"].values())
    knpa = next(i for i in items if i["name"] == "knpa")
    assert knpa == {"name": "knpa", "display_name": "경찰청", "count": 5}
    assert found["results"] == []


def test_organization_list_pages(served: World) -> None:
    with ckan(served) as client:
        every = client.action.organization_list()
        assert every == sorted(every) and len(every) == len(served.platform.registry.agencies)
        assert client.action.organization_list(limit=3) == every[:3]
        assert client.action.organization_list(limit=3, offset=3) == every[3:6]
        assert client.action.organization_list(offset=len(every)) == []
        picked = client.action.organization_list(organizations=["seoul", "knpa"], all_fields=True)
        assert [(o["name"], o["package_count"]) for o in picked] == [("knpa", 5), ("seoul", 2)]
        counted = client.action.organization_list(all_fields=True, sort="package_count desc")
        assert counted[0]["name"] == "knpa"
        assert client.action.group_list(limit=2, offset=1) == client.action.group_list()[1:3]
    with ckan(served, get_only=True) as client:
        assert client.action.organization_list(organizations="kotsa,seoul") == ["kotsa", "seoul"]


def test_the_other_read_actions(served: World) -> None:
    with ckan(served) as client:
        status = client.action.status_show()
        assert status["ckan_version"].startswith("2.") and status["site_url"] == served.url
        assert client.action.site_read() is True
        tags = client.action.tag_list()
        assert tags == sorted(tags) and "미세먼지" in tags
        assert client.action.tag_list(query="미세") == ["미세먼지", "초미세먼지"]
        full = client.action.tag_list(all_fields=True)
        assert {t["name"] for t in full} == set(tags) and all(uuid.UUID(t["id"]) for t in full)
        shown = client.action.tag_show(id="미세먼지", include_datasets=True)
        assert {p["name"] for p in shown["packages"]} == {
            AIR,
            f"{AIR}_2017",
            "seoul_air_quality_and_thermal_power",  # a joint product carries its inputs' tag
        }
        assert client.action.tag_show(id=shown["id"])["name"] == "미세먼지"
        assert "facet.field" in client.action.help_show(name="package_search")
        with pytest.raises(ckanapi.NotFound):
            client.action.help_show(name="package_create")
        listed = client.action.current_package_list_with_resources(limit=3)
        stamps = [p["metadata_modified"] for p in listed]
        assert len(listed) == 3 and stamps == sorted(stamps, reverse=True)
        assert all(p["num_resources"] == 4 for p in listed)
        second = client.action.current_package_list_with_resources(limit=3, page=2)
        assert not {p["name"] for p in listed} & {p["name"] for p in second}
        completed = client.action.package_autocomplete(q="seoul_daily")
        assert [c["name"] for c in completed] == [AIR, f"{AIR}_2017"]
        assert completed[0]["match_field"] == "name"
        by_title = client.action.package_autocomplete(q="대기오염도")
        assert {c["match_field"] for c in by_title} == {"title"}


def test_another_agencys_private_dataset_shows_nowhere(served: World) -> None:
    secret_resource = resource_uuid(SECRET, "csv")
    with ckan(served, OWNER, Role.steward) as owner:  # the owner does see it
        assert SECRET_TAG in owner.action.tag_list()
        assert owner.action.package_autocomplete(q="secret")[0]["name"] == SECRET
        assert owner.action.package_search(q="zqxw")["count"] == 1
        assert owner.action.resource_show(id=secret_resource)["package_id"] == SECRET
    for agency in (OTHER_SECTOR, GRANTEE):
        with ckan(served, agency) as client:
            assert SECRET not in client.action.package_list()
            every = client.action.package_search(rows=1000, **{"facet.field": ["tags"]})
            assert SECRET not in names(every) and SECRET_TAG not in every["facets"]["tags"]
            assert every["count"] == len(client.action.package_list())
            for fq in (f"name:{SECRET}", "private:true", f"tags:{SECRET_TAG}", "capacity:private"):
                assert client.action.package_search(fq=fq)["count"] == 0
            assert client.action.package_search(q="zqxw")["count"] == 0
            assert client.action.package_search(q=f"name:{SECRET}")["count"] == 0
            assert SECRET_TAG not in client.action.tag_list()
            assert client.action.package_autocomplete(q="secret") == []
            listed = client.action.current_package_list_with_resources()
            assert SECRET not in {p["name"] for p in listed}
            knpa = client.action.organization_show(id="knpa", include_datasets=True)
            assert knpa["package_count"] == 5 and SECRET not in {
                p["name"] for p in knpa["packages"]
            }
            for action, params in (
                ("package_show", {"id": SECRET}),
                ("tag_show", {"id": SECRET_TAG}),
                ("resource_show", {"id": secret_resource}),
            ):
                with pytest.raises(ckanapi.NotFound):
                    client.call_action(action, params)


# Two harvests the way ckanext-harvest's CKAN harvester makes them: ckan/ckanext-harvest, commit
# 1a9a987de869492e37f244c22fa4380091d248e8, ckanext/harvest/harvesters/ckanharvester.py,
# `gather_stage` and `_search_for_datasets`. A first harvest asks `package_search` for
# everything; later ones add `fq=metadata_modified:[<last job's gather_started - 1 h>Z TO *]`
# (`isoformat()` of a naive UTC time, so with microseconds), organization filters as
# `organization:a OR organization:b` or `-organization:c`; it pages with rows=100, start=0,
# 100, ... and sort=id asc until a page is empty, failing if a page repeats the one before. Its
# fetch stage uses the search's package dicts as they are; this test also asks `package_show`
# for each id, as older versions did, and checks both agree. The import stage updates a
# package only if the harvested `metadata_modified` is later than the one it stored.


def search_for_datasets(client: ckanapi.RemoteCKAN, fq_terms: list[str]) -> list[dict]:
    params = {"rows": "100", "start": "0", "sort": "id asc"}
    if fq_terms:
        params["fq"] = " ".join(fq_terms)
    found: list[dict] = []
    seen: set[str] = set()
    previous = None
    while True:
        page = client.action.package_search(**params)["results"]
        assert page != previous or not page, "The paging doesn't seem to work"
        previous = page
        fresh = [p for p in page if p["id"] not in seen]
        seen |= {p["id"] for p in page}
        found.extend(fresh)
        if not page:
            return found
        params["start"] = str(int(params["start"]) + int(params["rows"]))


def gather(client: ckanapi.RemoteCKAN, last_started: datetime | None, **config: list[str]):
    """The package dicts one harvest job gathers, with `config`'s organization filters."""
    fq_terms = []
    if include := config.get("organizations_filter_include"):
        fq_terms.append(" OR ".join(f"organization:{o}" for o in include))
    elif exclude := config.get("organizations_filter_exclude"):
        fq_terms.extend(f"-organization:{o}" for o in exclude)
    if last_started is not None:
        since = (last_started - timedelta(hours=1)).isoformat()
        fq_terms.append(f"metadata_modified:[{since}Z TO *]")
    return search_for_datasets(client, fq_terms)


def import_stage(local: dict[str, dict], harvested: list[dict]) -> set[str]:
    """Store the harvested packages; the ids created or updated (not 'unchanged')."""
    changed = set()
    for pkg in harvested:
        existing = local.get(pkg["id"])
        if existing is None or pkg["metadata_modified"] > existing["metadata_modified"]:
            local[pkg["id"]] = pkg
            changed.add(pkg["id"])
    return changed


def redeliver(w: World, dataset: str, root: Path) -> None:
    """A new delivery of a test table (different amounts), published."""
    data = root / f"{dataset}-again.csv"
    with data.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["person", "sido", "n", "amount"])
        writer.writeheader()
        writer.writerows({**r, "amount": r["amount"] + 1} for r in rows(dataset[6:]))
    delivery, _ = w.platform.deliver(dataset, data)
    assert process_delivery(w.platform, delivery.delivery_id).published


def change_contract(w: World, level: str) -> None:
    """A new minor version of a test table's contract with more tags (metadata only)."""
    doc = contract_doc(level)
    doc.update(version="1.1.0", tags=["사건", "harvest"])
    path = w.platform.settings.contracts_dir / "welfare_safety" / OWNER / f"cases_{level}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def test_harvesting_twice_sees_the_changes_in_between(tmp_path: Path) -> None:
    with world(tmp_path) as w, ckan(w, get_only=True) as client:
        # First job: everything.
        started_1 = datetime.now(UTC).replace(tzinfo=None)  # HarvestJob.gather_started
        first = gather(client, None)
        local: dict[str, dict] = {}
        assert import_stage(local, first) == {p["id"] for p in first}
        assert {"cases_public", "cases_sector"} <= set(local) and "cases_private" not in local
        for pkg in first:  # what older harvesters fetched one by one is the same dict
            assert client.action.package_show(id=pkg["id"]) == pkg
        time.sleep(0.01)
        redeliver(w, "cases_public", tmp_path)  # new data
        change_contract(w, "sector")  # a changed contract, no new data

        # Second job: changes since the first one's start (less an hour, as the harvester asks).
        second = gather(client, started_1)
        assert {"cases_public", "cases_sector"} <= {p["id"] for p in second}
        updated = import_stage(local, second)
        assert updated == {"cases_public", "cases_sector"}
        assert local["cases_sector"]["version"] == "1.1.0"
        assert {t["name"] for t in local["cases_sector"]["tags"]} == {"사건", "harvest"}
        for pkg in second:
            assert client.action.package_show(id=pkg["id"]) == pkg
        # Created stays at the first publication; modified moved.
        for dataset in updated:
            before = next(p for p in first if p["id"] == dataset)
            assert local[dataset]["metadata_created"] == before["metadata_created"]
            assert local[dataset]["metadata_modified"] > before["metadata_modified"]
        # Without the hour's margin only the two changes are new.
        exact = search_for_datasets(client, [f"metadata_modified:[{started_1.isoformat()}Z TO *]"])
        assert {p["id"] for p in exact} == updated
        # Organization filters, as the harvester words them.
        included = gather(client, started_1, organizations_filter_include=["kotsa", "knpa"])
        assert {"cases_public", "cases_sector"} <= {p["id"] for p in included}
        assert {p["owner_org"] for p in included} <= {"kotsa", "knpa"}
        excluded = gather(client, started_1, organizations_filter_exclude=["knpa"])
        assert not {p["owner_org"] for p in excluded} & {"knpa"}
        # A third job right after finds nothing new to import.
        assert import_stage(local, gather(client, started_1)) == set()
