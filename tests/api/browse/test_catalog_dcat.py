"""The DCAT-AP JSON-LD export over HTTP, read back by rdflib as a harvester would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib import namespace as ns

from catalog.access.principal import Role
from tests.api.catalog_world import AIR, DRUNK, catalog_world
from tests.api.world import OTHER_SECTOR, OWNER, World

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
IANA = "https://www.iana.org/assignments/media-types"
EU = "http://publications.europa.eu/resource/authority"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with catalog_world(tmp_path_factory.mktemp("dcat")) as w:
        yield w


@pytest.fixture(scope="module")
def graph(served: World) -> Graph:
    with served.client(OTHER_SECTOR) as client:
        response = client.get("/catalog.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert isinstance(response.json()["@context"], dict)  # inline: nothing to fetch
    return Graph().parse(data=response.text, format="json-ld")


def dataset(served: World, dataset_id: str) -> URIRef:
    return URIRef(f"{served.url}/api/v1/catalog/datasets/{dataset_id}")


def test_only_public_datasets_are_exported(served: World, graph: Graph) -> None:
    public = {c.id for c in served.platform.contracts.values() if c.access.value == "public"}
    datasets = graph.subjects(ns.RDF.type, ns.DCAT.Dataset)
    exported = {str(graph.value(d, ns.DCTERMS.identifier)) for d in datasets}
    assert exported == public
    assert {DRUNK, "cases_private", "cases_sector", "cases_restricted"}.isdisjoint(exported)
    [catalog] = graph.subjects(ns.RDF.type, ns.DCAT.Catalog)
    assert len(list(graph.objects(catalog, ns.DCAT.dataset))) == len(public)
    assert Literal("공유 — 공공기관 데이터 공유 카탈로그", lang="ko") in graph.objects(
        catalog, ns.DCTERMS.title
    )


def test_a_dataset_carries_dcat_ap_properties(served: World, graph: Graph) -> None:
    air = dataset(served, AIR)
    title = Literal("서울시 일별 평균 대기오염도 정보", lang="ko")
    assert title in graph.objects(air, ns.DCTERMS.title)
    assert "ko" in {d.language for d in graph.objects(air, ns.DCTERMS.description)}
    assert graph.value(air, ns.DCTERMS.accessRights) == URIRef(f"{EU}/access-right/PUBLIC")
    assert graph.value(air, ns.DCTERMS.accrualPeriodicity) == URIRef(f"{EU}/frequency/DAILY")
    assert graph.value(air, ns.DCTERMS.modified).datatype is not None
    publisher = graph.value(air, ns.DCTERMS.publisher)
    assert (publisher, ns.RDF.type, ns.FOAF.Agent) in graph
    assert Literal("서울특별시", lang="ko") in graph.objects(publisher, ns.FOAF.name)
    contact = graph.value(air, ns.DCAT.contactPoint)
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:data@seoul.go.kr")
    assert Literal("미세먼지", lang="ko") in graph.objects(air, ns.DCAT.keyword)
    assert Literal("air quality", lang="en") in graph.objects(air, ns.DCAT.keyword)
    themes = set(graph.objects(air, ns.DCAT.theme))
    assert URIRef(f"{EU}/data-theme/ENVI") in themes
    sector = URIRef(f"{served.url}/api/v1/catalog/sectors/environment_energy")
    assert sector in themes and graph.value(sector, ns.RDF.type) == ns.SKOS.Concept
    assert graph.value(air, ns.DCTERMS.conformsTo) == URIRef(f"{air}/contract")


def test_distributions_point_at_the_sql_api(served: World, graph: Graph) -> None:
    air = dataset(served, AIR)
    distributions = list(graph.objects(air, ns.DCAT.distribution))
    formats = {graph.value(d, ns.DCAT.mediaType) for d in distributions}
    assert {str(f).removeprefix(IANA + "/") for f in formats} == {
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
        "application/vnd.apache.arrow.stream",
    }
    sql = URIRef(f"{served.url}/api/v1/sql")
    assert {graph.value(d, ns.DCAT.accessURL) for d in distributions} == {sql}
    assert (sql, ns.RDF.type, ns.DCAT.DataService) in graph
    assert URIRef(f"{EU}/file-type/PARQUET") in {
        graph.value(d, ns.DCTERMS["format"]) for d in distributions
    }
    # What the distribution says to run works, for the key that harvested it.
    answer = served.sql(OTHER_SECTOR, f"SELECT count(*) FROM environment_energy.{AIR}")
    assert answer.status_code == 200 and answer.json()["rows"][0][0] > 0


def test_the_export_needs_a_key_and_is_the_same_for_everyone(served: World) -> None:
    assert httpx.get(f"{served.url}/catalog.jsonld").status_code == 401
    with served.client(OWNER, Role.steward) as owner, served.client(OTHER_SECTOR) as other:
        mine, theirs = owner.get("/catalog.jsonld").json(), other.get("/catalog.jsonld").json()
    assert mine == theirs
