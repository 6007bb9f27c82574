"""`GET /catalog.jsonld` against the official DCAT-AP 3.0.0 SHACL shapes (vendored in `shapes/`,
validated offline by pyshacl), and the harvester's anonymous read (`GONGYU_DCAT_ANONYMOUS`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib import namespace as ns

from api.browse.dcat import Terms, catalog_document, dataset
from api.web import console, joint, pages, signin, steward
from api.web import contracts as web_contracts
from api.web import requests as web_requests
from catalog.access.principal import Role
from contracts.licences import LICENCES, Licence
from contracts.model import AccessLevel, Contract, Coverage, English, Sla
from gongyu.platform import Platform
from tests.api.world import OTHER_SECTOR, OWNER, World, world

SHAPES = Path(__file__).parent / "shapes"
# Every shape file of the release that constrains a document: the generated full set (class
# ranges included), the core shapes, the range shapes, the controlled vocabularies and the
# deprecated properties (shapes_recommended.ttl only warns of missing recommended properties).
SHAPE_FILES = (
    "dcat-ap-SHACL.ttl",
    "shapes.ttl",
    "range.ttl",
    "mdr-vocabularies.shape.ttl",
    "deprecateduris.ttl",
)
SH = Namespace("http://www.w3.org/ns/shacl#")
EU = "http://publications.europa.eu/resource/authority"
BASE = "https://gongyu.test"
NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
# The warnings the shapes give and Gongyu accepts: Korean agencies are no EU corporate bodies,
# and each dataset's sector is a theme beside the EU data themes.
ACCEPTED_WARNINGS = {
    (str(ns.DCTERMS.publisher), "CorporateBodyRestriction"),
    (str(ns.DCAT.theme), "DataThemeRestriction"),
}


@pytest.fixture(scope="module")
def shapes() -> Graph:
    graph = Graph()
    for name in SHAPE_FILES:
        graph.parse(SHAPES / name, format="turtle")
    return graph


def problems(data: Graph, shapes: Graph) -> tuple[list[str], set[tuple[str, str]]]:
    """The violations (as text) and the warnings (path, shape) of a validation."""
    _, report, _ = validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    violations, warnings = [], set()
    for result in report.objects(None, SH.result):
        severity = report.value(result, SH.resultSeverity)
        path = str(report.value(result, SH.resultPath))
        if severity == SH.Warning:
            message = str(report.value(result, SH.resultMessage))
            kind = next((k for _, k in ACCEPTED_WARNINGS if k in message), message)
            warnings.add((path, kind))
        else:
            focus, value = report.value(result, SH.focusNode), report.value(result, SH.value)
            message = report.value(result, SH.resultMessage)
            violations.append(f"{focus} {path} {value}: {message}")
    return violations, warnings


def as_graph(document: dict) -> Graph:
    return Graph().parse(data=json.dumps(document), format="json-ld")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("dcat_ap3")) as w:
        yield w


@pytest.fixture
def anonymous_allowed(served: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The served platform with `GONGYU_DCAT_ANONYMOUS` on (read by the route per request)."""
    monkeypatch.setattr(served.platform.settings, "dcat_anonymous", True)


def public_ids(platform: Platform) -> set[str]:
    return {c.id for c in platform.contracts.values() if c.access == AccessLevel.public}


def listed(document: dict) -> set[str]:
    return {d["dct:identifier"] for d in document["@graph"][0]["dcat:dataset"]}


# The served catalogue.


def test_the_served_catalogue_conforms_to_dcat_ap_3(served: World, shapes: Graph) -> None:
    with served.client(OTHER_SECTOR) as client:
        answer = client.get("/catalog.jsonld")
    assert answer.status_code == 200
    data = Graph().parse(data=answer.text, format="json-ld")
    violations, warnings = problems(data, shapes)
    assert violations == []
    assert warnings <= ACCEPTED_WARNINGS
    # The published test table has its first and last publication; so has the catalogue.
    cases = URIRef(f"{served.url}/api/v1/catalog/datasets/cases_public")
    [catalog] = data.subjects(ns.RDF.type, ns.DCAT.Catalog)
    for subject in (cases, catalog):
        for prop in (ns.DCTERMS.issued, ns.DCTERMS.modified):
            assert data.value(subject, prop).datatype == ns.XSD.dateTime
    publisher = data.value(catalog, ns.DCTERMS.publisher)
    assert isinstance(publisher, URIRef) and (publisher, ns.RDF.type, ns.FOAF.Agent) in data


# The document, from contracts carrying what DCAT-AP asks for.


def variants(platform: Platform) -> list[Contract]:
    """The shipped contracts, each public one given a licence (every kind, and none), a
    coverage (closed, open-ended, none), an English title and description, and a frequency
    (every mapped one, an unmapped one, none), in turn."""
    public = sorted(
        (c for c in platform.contracts.values() if c.access == AccessLevel.public),
        key=lambda c: c.id,
    )
    licences: list[Licence | None] = [*Licence, None]
    coverages = [
        Coverage(start=date(2020, 1, 1), end=date(2022, 12, 31)),
        Coverage(start=date(2015, 1, 1)),
        Coverage(),
    ]
    frequencies = [timedelta(days=1), timedelta(days=31), timedelta(days=10), None]
    out = []
    for i, contract in enumerate(public):
        english = English(title=f"{contract.id} in English", description="In English.")
        out.append(
            contract.model_copy(
                update={
                    "licence": licences[i % len(licences)],
                    "coverage": coverages[i % len(coverages)],
                    "english": english if i % 2 == 0 else English(),
                    "sla": Sla(frequency=frequencies[i % len(frequencies)]),
                }
            )
        )
    others = [c for c in platform.contracts.values() if c.access != AccessLevel.public]
    return out + others


@pytest.fixture(scope="module")
def described(served: World) -> tuple[list[Contract], Graph]:
    contracts = variants(served.platform)
    published = {c.id: (NOW - timedelta(days=30), NOW) for c in contracts}
    document = catalog_document(BASE, contracts, served.platform.registry, published)
    return contracts, as_graph(document)


def test_every_licence_coverage_and_frequency_conforms(
    described: tuple[list[Contract], Graph], shapes: Graph
) -> None:
    _, data = described
    violations, warnings = problems(data, shapes)
    assert violations == []
    assert warnings <= ACCEPTED_WARNINGS


def test_the_shapes_catch_what_the_document_leaves_out(served: World, shapes: Graph) -> None:
    """The check is not vacuous: without the vocabulary terms and sector concepts stated beside
    the catalogue, the range and vocabulary shapes find violations."""
    document = catalog_document(BASE, variants(served.platform), served.platform.registry, {})
    document["@graph"] = document["@graph"][:1]
    violations, _ = problems(as_graph(document), shapes)
    for prop in ("language", "accessRights", "mediaType", "theme"):
        assert any(f"{prop} " in v for v in violations), prop


def node(contract: Contract) -> URIRef:
    return URIRef(f"{BASE}/api/v1/catalog/datasets/{contract.id}")


def test_texts_are_korean_and_english_literals(described: tuple[list[Contract], Graph]) -> None:
    contracts, data = described
    for contract in (c for c in contracts if c.access == AccessLevel.public):
        titles = set(data.objects(node(contract), ns.DCTERMS.title))
        assert Literal(contract.title, lang="ko") in titles
        descriptions = {d.language for d in data.objects(node(contract), ns.DCTERMS.description)}
        assert "ko" in descriptions
        if contract.english.title:
            assert Literal(contract.english.title, lang="en") in titles
            assert descriptions == {"ko", "en"}
        else:
            assert {t.language for t in titles} == {"ko"}


def test_every_distribution_has_the_contracts_licence(
    described: tuple[list[Contract], Graph],
) -> None:
    contracts, data = described
    seen = set()
    for contract in (c for c in contracts if c.access == AccessLevel.public):
        for distribution in data.objects(node(contract), ns.DCAT.distribution):
            licence = data.value(distribution, ns.DCTERMS.license)
            assert (licence, ns.RDF.type, ns.DCTERMS.LicenseDocument) in data
            if contract.licence is None:
                assert str(licence) == f"{BASE}/catalog.jsonld#licence-unstated"
                continue
            info = LICENCES[contract.licence]
            assert str(licence) == (
                str(info.url) if info.url else f"{BASE}/catalog.jsonld#licence-{contract.licence}"
            )
            titles = set(data.objects(licence, ns.DCTERMS.title))
            assert {Literal(info.title_ko, lang="ko"), Literal(info.title_en, lang="en")} <= titles
            seen.add(contract.licence)
    assert seen == set(Licence)  # every kind was exercised


def test_temporal_coverage_frequency_and_access_rights(
    described: tuple[list[Contract], Graph],
) -> None:
    contracts, data = described
    expected = {
        timedelta(days=1): "DAILY",
        timedelta(days=31): "MONTHLY",
        timedelta(days=10): "OTHER",
    }
    for contract in (c for c in contracts if c.access == AccessLevel.public):
        subject = node(contract)
        period = data.value(subject, ns.DCTERMS.temporal)
        coverage = contract.coverage
        if coverage.start is None:
            assert period is None
        else:
            assert (period, ns.RDF.type, ns.DCTERMS.PeriodOfTime) in data
            start = data.value(period, ns.DCAT.startDate)
            assert start == Literal(coverage.start.isoformat(), datatype=ns.XSD.date)
            end = data.value(period, ns.DCAT.endDate)
            assert end == (
                Literal(coverage.end.isoformat(), datatype=ns.XSD.date) if coverage.end else None
            )
        frequency = data.value(subject, ns.DCTERMS.accrualPeriodicity)
        if contract.sla.frequency is None:
            assert frequency is None
        else:
            assert frequency == URIRef(f"{EU}/frequency/{expected[contract.sla.frequency]}")
            assert (frequency, ns.SKOS.inScheme, URIRef(f"{EU}/frequency")) in data
            assert (frequency, ns.RDF.type, ns.DCTERMS.Frequency) in data
        rights = data.value(subject, ns.DCTERMS.accessRights)
        assert rights == URIRef(f"{EU}/access-right/PUBLIC")
        assert (rights, ns.RDF.type, ns.DCTERMS.RightsStatement) in data
        languages = set(data.objects(subject, ns.DCTERMS.language))
        assert languages == {URIRef(f"{EU}/language/KOR"), URIRef(f"{EU}/language/ENG")}
        page = data.value(subject, ns.DCAT.landingPage)
        assert (page, ns.RDF.type, ns.FOAF.Document) in data
        for distribution in data.objects(subject, ns.DCAT.distribution):
            media = data.value(distribution, ns.DCAT.mediaType)
            assert (media, ns.RDF.type, ns.DCTERMS.MediaType) in data
            assert str(media).startswith("https://www.iana.org/assignments/media-types/")


def test_sectors_map_to_eu_data_themes(described: tuple[list[Contract], Graph]) -> None:
    contracts, data = described
    themes = {
        "environment_energy": {"ENVI", "ENER"},
        "transport_logistics": {"TRAN"},
        "finance_insurance": {"ECON"},
        "welfare_safety": {"HEAL", "SOCI", "JUST"},
        "industry_sme": {"ECON"},
    }
    for contract in (c for c in contracts if c.access == AccessLevel.public):
        found = {str(t) for t in data.objects(node(contract), ns.DCAT.theme)}
        eu = {t.removeprefix(f"{EU}/data-theme/") for t in found if t.startswith(EU)}
        assert eu == themes[contract.sector]
        for theme in (URIRef(f"{EU}/data-theme/{t}") for t in eu):
            assert (theme, ns.SKOS.inScheme, URIRef(f"{EU}/data-theme")) in data
            assert data.value(theme, ns.SKOS.prefLabel) is not None


def test_the_access_levels_map_to_eu_access_rights(served: World) -> None:
    contract = served.platform.contract("cases_public")
    rights = {
        AccessLevel.public: "PUBLIC",
        AccessLevel.sector: "RESTRICTED",
        AccessLevel.restricted: "RESTRICTED",
        AccessLevel.private: "NON_PUBLIC",
    }
    for level, code in rights.items():
        entry = dataset(
            BASE,
            contract.model_copy(update={"access": level}),
            served.platform.registry,
            None,
            Terms(BASE),
        )
        assert entry["dct:accessRights"] == {"@id": f"{EU}/access-right/{code}"}


# The anonymous harvester.


def test_without_the_setting_a_harvester_needs_a_key(served: World) -> None:
    assert httpx.get(f"{served.url}/catalog.jsonld").status_code == 401


@pytest.mark.usefixtures("anonymous_allowed")
def test_with_the_setting_anyone_reads_the_public_datasets(served: World) -> None:
    anonymous = httpx.get(f"{served.url}/catalog.jsonld", timeout=60)
    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"] == "application/ld+json"
    document = anonymous.json()
    assert listed(document) == public_ids(served.platform)
    assert {"cases_sector", "cases_restricted", "cases_private"}.isdisjoint(listed(document))
    # The same document a key holder gets, whoever they are.
    with served.client(OWNER, Role.steward) as owner:
        assert owner.get("/catalog.jsonld").json() == document
    # And on the record like every read: the audit log names the anonymous reader.
    deadline = time.monotonic() + 5
    while not (
        found := [
            r
            for r in served.platform.audit.records(limit=20)
            if r.via == "anonymous" and r.statement.startswith("GET /catalog.jsonld")
        ]
    ):
        assert time.monotonic() < deadline, "no audit record of the anonymous harvest"
        time.sleep(0.02)
    assert found[0].subject.startswith("anonymous:127.0.0.1")


@pytest.mark.usefixtures("anonymous_allowed")
def test_with_the_setting_a_wrong_credential_is_still_refused(served: World) -> None:
    url = f"{served.url}/catalog.jsonld"
    assert httpx.get(url, headers={"Authorization": "Bearer gyk_wrong"}).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": "gyk_wrong"}).status_code == 401
    assert httpx.get(url, headers={"Cookie": "gongyu_session=stale"}).status_code == 401


def operations(served: World) -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI document and of every web page's
    route, and the open ones (documentation, health check)."""
    schema = httpx.get(f"{served.url}/openapi.json").json()
    found = [(method.upper(), path) for path, item in schema["paths"].items() for method in item]
    for module in (signin, pages, steward, web_contracts, console, web_requests, joint):
        found += [
            (method, route.path)
            for route in module.router.routes
            if isinstance(route, APIRoute)
            for method in sorted(route.methods - {"HEAD"})
        ]
    return [*found, ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/healthz")]


def unauthenticated_answers(served: World, routes: list[tuple[str, str]]) -> dict[str, int]:
    """What each route answers a request without credentials (no body; path parameters
    given a placeholder)."""
    answers = {}
    with httpx.Client(base_url=served.url, timeout=60, follow_redirects=False) as client:
        for method, path in routes:
            filled = re.sub(r"\{(\w+)(:\w+)?\}", "x", path)
            answers[f"{method} {path}"] = client.request(method, filled).status_code
    return answers


def test_the_setting_opens_nothing_but_the_dcat_catalogue(
    served: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = operations(served)
    assert len(routes) > 50
    closed = unauthenticated_answers(served, routes)
    monkeypatch.setattr(served.platform.settings, "dcat_anonymous", True)
    opened = unauthenticated_answers(served, routes)
    assert {r for r in closed if closed[r] != opened[r]} == {"GET /catalog.jsonld"}
    assert closed["GET /catalog.jsonld"] == 401 and opened["GET /catalog.jsonld"] == 200
    # The public disclosure of AI use is open by its own setting (on by default, see
    # tests/api/test_disclosure.py), whatever this one says.
    disclosure = {"GET /disclosure.json", "GET /disclosure.csv"}
    open_anyway = {"GET /signin", "GET /signin/code", "GET /docs", "GET /redoc", "GET /healthz"}
    open_anyway |= disclosure
    assert {r for r, status in opened.items() if status == 200} == open_anyway | {
        "GET /catalog.jsonld"
    }
    # Every other operation of the API refuses (CKAN's actions with their 403), every page
    # sends to the sign-in page, as without the setting.
    schema = httpx.get(f"{served.url}/openapi.json").json()
    for path, item in schema["paths"].items():
        for method in item:
            route = f"{method.upper()} {path}"
            if route != "GET /catalog.jsonld" and route not in disclosure:
                assert opened[route] in (401, 403), route
