"""Joint products in the catalog over HTTP on loopback, from the real pipeline: Seoul's air quality
and KPX's power generation delivered through Dagster, the environment-energy product built over
them, then its entry, its inputs' entries, search, CKAN, DCAT and the dataset pages, as each
caller may see them.

Besides the shipped products, knpa (the test world's agency) defines two: one over its own
private table (whose existence other agencies may not learn from the catalog) and one whose
output breaks its contract (its build is quarantined, with reasons for knpa only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib import namespace as ns

from assets.runner import run_pending
from catalog.access.principal import Role
from catalog.deliveries import Delivery
from gongyu.delivery.report import Outcome
from gongyu.platform import Platform
from gongyu.products.run import run_product
from tests.api.browse.test_dcat_ap3 import ACCEPTED_WARNINGS, problems, shapes  # noqa: F401
from tests.api.web_session import parse, sign_in, table, text
from tests.api.world import OTHER_SECTOR, OWNER, World, world
from tests.conftest import data_file

AIR = ("seoul_daily_air_quality", "environment_energy/seoul_daily_air_quality_2022.csv")
POWER = (
    "regional_power_generation_by_fuel",
    "environment_energy/regional_power_generation_by_fuel_2018_2022.csv",
)
ENERGY = "seoul_air_quality_and_thermal_power"
ROADS = "road_deaths_and_drunk_driving_by_month"
# knpa's products in the test world.
HIDDEN_INPUT = "cases_by_sido"
BROKEN = "cases_by_sido_strict"
PROV = "http://www.w3.org/ns/prov#"
NONE = "property: classification, value: none"


def knpa_product(dataset_id: str, table: str, *, quality: str = "", extra: str = "") -> str:
    """A knpa product counting people per 시·도 in one of its test tables (public output)."""
    return f"""apiVersion: v3.2.0
kind: DataContract
id: {dataset_id}
name: 시·도별 사례 수 ({table})
version: 1.0.0
status: active
customProperties:
- {{property: sector, value: welfare_safety}}
- {{property: agency, value: {OWNER}}}
- {{property: accessLevel, value: public}}
- property: product
  value:
    sql: SELECT sido, count(*) AS people FROM welfare_safety.{table} GROUP BY sido ORDER BY sido
{extra}
schema:
- name: {dataset_id}
{quality}
  properties:
  - {{name: sido, logicalType: string, customProperties: [{{{NONE}}}]}}
  - {{name: people, logicalType: integer, customProperties: [{{{NONE}}}]}}
"""


@dataclass
class Products:
    """The served world with the products built, and what the tests compare against."""

    world: World
    inputs: dict[str, Delivery]
    build: Outcome
    broken: Outcome

    @property
    def platform(self) -> Platform:
        return self.world.platform

    def get(self, agency: str, path: str, role: Role = Role.analyst, **params: str) -> dict:
        with self.world.client(agency, role) as client:
            answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def entry(self, agency: str, dataset_id: str, role: Role = Role.analyst) -> dict:
        return self.get(agency, f"/api/v1/catalog/datasets/{dataset_id}", role)

    def sql(self, dataset_id: str) -> str:
        """A product's query as its contract holds it."""
        product = self.platform.contract(dataset_id).product
        assert product is not None
        return product.sql


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Products]:
    with world(tmp_path_factory.mktemp("products")) as w:
        platform = w.platform
        for agency in ("keco", "seoul"):
            for role in Role:
                w.keys[(agency, role)] = platform.keys.create(agency, role, f"{agency}-{role}")[1]
        folder = platform.settings.contracts_dir / "welfare_safety" / OWNER
        aggregate = "    aggregate: {countColumn: people, k: 5}"
        (folder / f"{HIDDEN_INPUT}.yaml").write_text(
            knpa_product(HIDDEN_INPUT, "cases_private", extra=aggregate), encoding="utf-8"
        )
        strict = "  quality:\n  - {metric: rowCount, mustBeGreaterThan: 100, severity: error}"
        (folder / f"{BROKEN}.yaml").write_text(
            knpa_product(BROKEN, "cases_public", quality=strict), encoding="utf-8"
        )
        platform.reload_contracts()
        for dataset_id, relative in (AIR, POWER):
            platform.deliver(dataset_id, data_file(relative))
        inputs = {d.dataset_id: d for d, _ in run_pending(platform)}
        assert {d.state.value for d in inputs.values()} == {"published"}
        build = run_product(platform, ENERGY)
        assert build.published, build.report
        broken = run_product(platform, BROKEN)
        assert not broken.published
        # A consumer: another agency reads the product through the SQL API.
        answer = w.sql(OTHER_SECTOR, f"SELECT count(*) AS n FROM environment_energy.{ENERGY}")
        assert answer.status_code == 200, answer.text
        yield Products(w, inputs, build, broken)


# The JSON entry.


def test_a_product_entry_shows_its_inputs_sql_and_builds(served: Products) -> None:
    page = served.entry(OTHER_SECTOR, ENERGY)
    assert page["summary"]["kind"] == "product"
    product = page["product"]
    assert product["sql"] == served.sql(ENERGY)
    assert product["schedule"] == "0 6 * * *" and product["aggregate"] is None
    inputs = {i["id"]: i for i in product["inputs"]}
    assert list(inputs) == [AIR[0], POWER[0]]  # in the order the SQL reads them
    assert (inputs[AIR[0]]["agency"], inputs[AIR[0]]["agency_name"]) == ("seoul", "서울특별시")
    assert (inputs[POWER[0]]["agency"], inputs[POWER[0]]["agency_name"]) == (
        "kpx",
        "한국전력거래소",
    )
    for dataset_id, found in inputs.items():
        assert found["visible"] is True and found["access"] == "public"
        assert found["title"] == served.platform.contract(dataset_id).title
        assert found["table"] == f"environment_energy.{dataset_id}"
        assert (found["sector"], found["sector_name"]) == ("environment_energy", "환경·에너지")
    (build,) = product["builds"]
    delivery = served.build.delivery
    assert build["delivery_id"] == delivery.delivery_id
    assert build["state"] == "published" and build["rows"] == delivery.rows > 0
    read = {i["id"]: i["snapshot_id"] for i in build["inputs"]}
    assert read == {d: int(served.inputs[d].snapshot_id or 0) for d in (AIR[0], POWER[0])}
    # The snapshot it published is the product's current one.
    assert build["snapshot_id"] == int(delivery.snapshot_id or 0)
    current = [s for s in page["snapshots"] if s["current"]]
    assert [s["snapshot_id"] for s in current] == [build["snapshot_id"]]
    # Its lineage starts at its inputs.
    nodes = {n["id"]: n for n in page["lineage"]["nodes"]}
    assert {nodes[f"input:{d}"]["kind"] for d in inputs} == {"input"}
    edges = {(e["source"], e["target"]) for e in page["lineage"]["edges"]}
    assert (f"input:{AIR[0]}", f"table:environment_energy.{ENERGY}") in edges


def test_an_input_entry_lists_the_products_that_read_it(served: Products) -> None:
    for dataset_id, _ in (AIR, POWER):
        page = served.entry(OTHER_SECTOR, dataset_id)
        assert page["summary"]["kind"] == "dataset" and page["product"] is None
        assert [(u["id"], u["kind"]) for u in page["used_by"]] == [(ENERGY, "product")]
        edges = {(e["source"], e["target"]) for e in page["lineage"]["edges"]}
        assert (f"table:environment_energy.{dataset_id}", f"product:{ENERGY}") in edges
    # A sector product never built lists its inputs all the same, on both sides.
    roads = served.entry(OTHER_SECTOR, ROADS)["product"]
    assert roads["builds"] == []
    assert [(i["id"], i["agency"]) for i in roads["inputs"]] == [
        ("koroad_fatal_traffic_accidents", "koroad"),
        ("police_drunk_driving_detections", "knpa"),
    ]
    assert roads["aggregate"] == {"count_column": "drunk_driving_detections", "k": 5}
    police = served.entry(OTHER_SECTOR, "police_drunk_driving_detections")
    assert [u["id"] for u in police["used_by"]] == [ROADS]
    assert served.entry(OTHER_SECTOR, "cases_sector")["used_by"] == []


def test_an_input_the_caller_may_not_see_keeps_its_title(served: Products) -> None:
    # The product's SQL names knpa's private table, so its id is no secret; what the private
    # entry says (title, access) is, and there is no page to link to.
    (hidden,) = served.entry(OTHER_SECTOR, HIDDEN_INPUT)["product"]["inputs"]
    assert hidden["id"] == "cases_private" and hidden["visible"] is False
    assert hidden["title"] is None and hidden["access"] is None
    assert hidden["agency"] == OWNER
    (own,) = served.entry(OWNER, HIDDEN_INPUT)["product"]["inputs"]
    assert own["visible"] is True and own["title"] == "cases at private"
    assert own["access"] == "private"
    used_by = served.entry(OWNER, "cases_private")["used_by"]
    assert [u["id"] for u in used_by] == [HIDDEN_INPUT]


def test_consumers_and_build_reasons_follow_the_usage_and_delivery_rules(
    served: Products,
) -> None:
    # The product's consumers, for its agency; the build itself read the inputs as keco.
    owner = served.entry("keco", ENERGY, Role.steward)
    assert owner["usage_shown"] and [u["agency"] for u in owner["usage"]] == [OTHER_SECTOR]
    other = served.entry(OTHER_SECTOR, ENERGY)
    assert other["usage_shown"] is False and other["usage"] == []
    air = served.entry("seoul", AIR[0], Role.steward)
    assert "keco" in [u["agency"] for u in air["usage"]]
    # A quarantined build: why, for the product's agency and operators only.
    reasons = served.broken.delivery.reasons
    assert reasons
    for agency, role in ((OWNER, Role.steward), (OWNER, Role.operator)):
        (build,) = served.entry(agency, BROKEN, role)["product"]["builds"]
        assert build["state"] == "quarantined" and build["reasons"] == reasons
        assert build["snapshot_id"] is None and len(build["inputs"]) == 1
    (build,) = served.entry(OTHER_SECTOR, BROKEN)["product"]["builds"]
    assert build["state"] == "quarantined" and build["reasons"] == []


# Search.


def test_search_finds_products_with_their_kind_after_their_inputs(served: Products) -> None:
    found = served.get(OTHER_SECTOR, "/api/v1/catalog/search", q="미세먼지")
    ranked = [(h["dataset"]["id"], h["dataset"]["kind"]) for h in found["hits"]]
    assert ranked.index((AIR[0], "dataset")) < ranked.index((ENERGY, "product"))
    products = served.get(OTHER_SECTOR, "/api/v1/catalog/search", kind="product")
    assert {h["dataset"]["id"] for h in products["hits"]} == {ENERGY, ROADS, HIDDEN_INPUT, BROKEN}
    assert products["filters"]["kind"] == "product"
    assert {h["dataset"]["kind"] for h in products["hits"]} == {"product"}
    only = served.get(OTHER_SECTOR, "/api/v1/catalog/search", q="화력", kind="product")
    assert [h["dataset"]["id"] for h in only["hits"]] == [ENERGY]
    datasets = served.get(OTHER_SECTOR, "/api/v1/catalog/search", q="화력", kind="dataset")
    assert [h["dataset"]["id"] for h in datasets["hits"]] == [POWER[0]]
    with served.world.client(OTHER_SECTOR) as client:
        assert client.get("/api/v1/catalog/search", params={"kind": "nope"}).status_code == 422


# CKAN and DCAT.


def test_ckan_marks_a_product_and_names_its_inputs(served: Products) -> None:
    def show(agency: str, dataset_id: str) -> dict[str, str]:
        found = served.get(agency, "/api/3/action/package_show", id=dataset_id)["result"]
        return {e["key"]: e["value"] for e in found["extras"]}

    energy = show(OTHER_SECTOR, ENERGY)
    assert energy["kind"] == "product"
    assert energy["inputs"] == f"{AIR[0]},{POWER[0]}"
    assert energy["product_sql"] == served.sql(ENERGY)
    air = show(OTHER_SECTOR, AIR[0])
    assert air["kind"] == "dataset" and "inputs" not in air and "product_sql" not in air
    # Another agency's private package is no package for the caller: not named as an input.
    assert "inputs" not in show(OTHER_SECTOR, HIDDEN_INPUT)
    assert show(OWNER, HIDDEN_INPUT)["inputs"] == "cases_private"
    search = served.get(
        OTHER_SECTOR,
        "/api/3/action/package_search",
        fq="extras_kind:product",
        **{"facet.field": '["kind"]', "rows": "50"},
    )["result"]
    assert {p["name"] for p in search["results"]} == {ENERGY, ROADS, HIDDEN_INPUT, BROKEN}
    everything = served.get(
        OTHER_SECTOR, "/api/3/action/package_search", **{"facet.field": '["kind"]'}
    )["result"]
    assert everything["facets"]["kind"]["product"] == 4
    # Sorted by score, a product still follows the dataset it reads.
    ranked = served.get(OTHER_SECTOR, "/api/3/action/package_search", q="화력")["result"]
    assert [p["name"] for p in ranked["results"]] == [POWER[0], ENERGY]


def test_dcat_derives_a_product_from_its_inputs_and_conforms(
    served: Products,
    shapes: Graph,  # noqa: F811
) -> None:
    with served.world.client(OTHER_SECTOR) as client:
        answer = client.get("/catalog.jsonld")
    assert answer.status_code == 200
    data = Graph().parse(data=answer.text, format="json-ld")
    violations, warnings = problems(data, shapes)
    assert violations == []
    assert warnings <= ACCEPTED_WARNINGS

    def iri(dataset_id: str) -> URIRef:
        return URIRef(f"{served.world.url}/api/v1/catalog/datasets/{dataset_id}")

    inputs = {iri(AIR[0]), iri(POWER[0])}
    assert set(data.objects(iri(ENERGY), ns.DCTERMS.source)) == inputs
    assert set(data.objects(iri(ENERGY), URIRef(f"{PROV}wasDerivedFrom"))) == inputs
    for source in inputs:
        assert (source, ns.RDF.type, ns.DCAT.Dataset) in data
    statement = data.value(iri(ENERGY), ns.DCTERMS.provenance)
    assert (statement, ns.RDF.type, ns.DCTERMS.ProvenanceStatement) in data
    labels = {str(v) for v in data.objects(statement, ns.RDFS.label)}
    assert any("한국환경공단" in v and "서울특별시" in v and "한국전력거래소" in v for v in labels)
    assert any("Korea Power Exchange" in v for v in labels)
    # A dataset derives from nothing; a private input is not in the public catalogue.
    assert data.value(iri(AIR[0]), ns.DCTERMS.source) is None
    assert data.value(iri(HIDDEN_INPUT), ns.DCTERMS.source) is None
    assert data.value(iri(HIDDEN_INPUT), ns.DCTERMS.provenance) is not None
    assert Literal("cases at private", lang="ko") not in set(data.objects())
    document = json.loads(answer.text)
    assert document["@context"]["prov"] == PROV


# The dataset pages.


@pytest.fixture(scope="module")
def browser(served: Products) -> Iterator[httpx.Client]:
    client = sign_in(served.world.url, served.world.keys[(OTHER_SECTOR, Role.analyst)])
    yield client
    client.close()


def test_the_product_page_shows_badge_inputs_sql_and_history(
    served: Products, browser: httpx.Client
) -> None:
    page = parse(browser.get(f"/datasets/{ENERGY}", params={"lang": "ko"}).text)
    assert text(page.find(".//span[@id='product-badge']")) == "공동 상품"
    header, rows = table(page, "product-inputs")
    assert header[:3] == ["자료", "SQL 이름", "제공 기관"]
    assert [r[2] for r in rows] == ["서울특별시", "한국전력거래소"]
    links = {a.attrib["href"] for a in page.iterfind(".//table[@id='product-inputs']//a")}
    assert {f"/datasets/{AIR[0]}", f"/datasets/{POWER[0]}"} <= links
    assert {"/agencies/seoul", "/agencies/kpx"} <= links
    sql = page.find(".//pre[@id='product-sql']")
    assert sql is not None and "".join(sql.itertext()) == served.sql(ENERGY)
    _, builds = table(page, "product-builds")
    (build,) = builds
    for dataset_id, _ in (AIR, POWER):
        assert str(served.inputs[dataset_id].snapshot_id) in build[3]
    assert build[4] == str(served.build.delivery.snapshot_id)
    english = parse(browser.get(f"/datasets/{ENERGY}", params={"lang": "en"}).text)
    assert text(english.find(".//span[@id='product-badge']")) == "Joint product"
    assert table(english, "product-builds")[0][0] == "Built"


def test_an_input_page_names_the_products_using_it(browser: httpx.Client) -> None:
    page = parse(browser.get(f"/datasets/{AIR[0]}", params={"lang": "ko"}).text)
    section = page.find(".//section[@id='used-by']")
    assert section is not None
    assert text(section.find(".//h2")).startswith("이 자료를 쓰는 공동 상품")
    assert next(a.attrib["href"] for a in section.iterfind(".//li/a")) == f"/datasets/{ENERGY}"
    assert page.find(".//span[@id='product-badge']") is None
    assert page.find(".//section[@id='product']") is None
    hidden = parse(browser.get(f"/datasets/{HIDDEN_INPUT}").text)
    links = {a.attrib["href"] for a in hidden.iterfind(".//table[@id='product-inputs']//a")}
    assert "/datasets/cases_private" not in links


def test_the_search_page_filters_by_kind(browser: httpx.Client) -> None:
    page = parse(browser.get("/search", params={"kind": "product", "lang": "ko"}).text)
    listed = {text(e) for e in page.iterfind(".//li[@class='dataset']//code")}
    assert listed == {ENERGY, ROADS, HIDDEN_INPUT, BROKEN}
    badges = page.iterfind(".//li[@class='dataset']//span[@class='badge kind-product']")
    assert len(list(badges)) == 4
    chosen = page.find(".//select[@name='kind']/option[@selected]")
    assert chosen is not None and chosen.attrib["value"] == "product"
