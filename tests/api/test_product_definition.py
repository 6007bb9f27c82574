"""Joint products defined through the contract lifecycle, over HTTP on loopback: the welfare
secretariat drafts a product from SQL over KoROAD's real fatal-accident table, submits it, an
operator approves it (nobody approves their own agency's), and it builds with the rows DuckDB
computes from the CSV; a product over a dataset its agency cannot read is refused at definition,
naming the dataset and "request access"; a product opened wider than a restricted input is
refused unless it declares an aggregate; a steward drafts their own agency's public product; the
web form drafts from SQL and shows the YAML and the columns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

from assets.runner import run_pending
from catalog.access.principal import Principal, Role
from catalog.access.requests import LegalBasis
from catalog.contract_reviews import ReviewError
from catalog.deliveries import DeliveryState
from contracts.loader import parse_contract
from contracts.model import AccessLevel, ApplyMode, LogicalType
from gongyu.products.run import run_product
from tests.api.test_web_contracts import form_values
from tests.api.web_session import form_token, parse, sign_in, table, text
from tests.api.world import OTHER_SECTOR, OWNER, SAME_SECTOR, World, world
from tests.conftest import data_file

URL = "/api/v1/contracts"
SECRETARIAT = SAME_SECTOR  # nhis leads the welfare sector
STEWARD = "keco"  # a steward of the environment sector's agency
ACCIDENTS = "koroad_fatal_traffic_accidents"
DRUNK = "police_drunk_driving_detections"
AIR, POWER = "seoul_daily_air_quality", "regional_power_generation_by_fuel"
ACCIDENTS_CSV = "welfare_safety/koroad_fatal_traffic_accidents_2020.csv"
INPUTS = {
    ACCIDENTS: ACCIDENTS_CSV,
    DRUNK: "welfare_safety/police_drunk_driving_detections_202207.csv",
    AIR: "environment_energy/seoul_daily_air_quality_2022.csv",
    POWER: "environment_energy/regional_power_generation_by_fuel_2018_2022.csv",
}
BY_REGION = """
SELECT sido, month(occurred_at) AS month, count(*) AS fatal_accidents,
       CAST(sum(deaths) AS BIGINT) AS deaths
FROM welfare_safety.koroad_fatal_traffic_accidents
GROUP BY ALL
ORDER BY sido, month
""".strip()
DETECTIONS = f"""
SELECT CAST(left(detected_at, 4) AS INTEGER) AS year,
       CAST(right(detected_at, 2) AS INTEGER) AS month,
       count(*) AS detections
FROM welfare_safety.{DRUNK}
GROUP BY ALL
ORDER BY year, month
""".strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The API world with the real input tables delivered and run through Dagster, and a key
    for the environment sector's steward."""
    with world(tmp_path_factory.mktemp("products")) as w:
        for dataset, relative in INPUTS.items():
            w.platform.deliver(dataset, data_file(relative))
        ran = {d.dataset_id: d.state for d, _ in run_pending(w.platform)}
        assert all(ran.get(d) == DeliveryState.published for d in INPUTS), ran
        w.keys[(STEWARD, Role.steward)] = w.platform.keys.create(STEWARD, Role.steward)[1]
        yield w


def call(
    served: World, agency: str, role: Role, method: str, path: str, **kw: Any
) -> httpx.Response:
    with served.client(agency, role) as client:
        return client.request(method, URL + path, **kw)


def draft(served: World, agency: str, role: Role, **body: Any) -> httpx.Response:
    """POST /api/v1/contracts/drafts/product as that caller."""
    return call(served, agency, role, "POST", "/drafts/product", json=body)


def product_yaml(
    dataset: str,
    agency: str,
    sector: str,
    sql: str,
    columns: list[str],
    access: str,
    aggregate: dict[str, Any] | None = None,
) -> str:
    """A product contract written by hand (integer columns), as a steward may submit one."""
    product: dict[str, Any] = {"sql": sql} | ({"aggregate": aggregate} if aggregate else {})
    doc = {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": dataset,
        "name": dataset,
        "version": "1.0.0",
        "status": "active",
        "customProperties": [
            {"property": "sector", "value": sector},
            {"property": "agency", "value": agency},
            {"property": "accessLevel", "value": access},
            {"property": "applyMode", "value": "replace"},
            {"property": "product", "value": product},
        ],
        "schema": [
            {
                "name": dataset,
                "physicalType": "table",
                "properties": [
                    {
                        "name": name,
                        "logicalType": "integer",
                        "customProperties": [{"property": "classification", "value": "none"}],
                    }
                    for name in columns
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def sql_records(served: World, agency: str, statement: str) -> list[Any]:
    """The SQL audit records of `statement` by the agency, once written."""
    deadline = time.monotonic() + 5
    while True:
        found = [
            r
            for r in served.platform.audit.records(agency=agency, limit=100)
            if r.kind == "sql" and r.statement == statement
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def approve_as_operator(served: World, dataset: str) -> None:
    """The operator approves a secretariat's own product (it may not approve its own)."""
    approve = f"/{dataset}/versions/1.0.0/approve"
    refused = call(served, SECRETARIAT, Role.secretariat, "POST", approve)
    assert refused.status_code == 403, refused.text
    approved = call(served, OWNER, Role.operator, "POST", approve)
    assert approved.status_code == 200 and approved.json()["state"] == "active", approved.text
    served.platform.reload_contracts()


def from_csv(sql: str) -> list[list[Any]]:
    """`sql` over the KoROAD CSV itself (CP949, Korean headers as `accidents`), in DuckDB."""
    read = pacsv.ReadOptions(encoding="cp949")
    as_text = pacsv.ConvertOptions(column_types={"발생년월일시": pa.string()})
    accidents = pacsv.read_csv(data_file(ACCIDENTS_CSV), read_options=read, convert_options=as_text)
    with duckdb.connect() as conn:
        conn.register("accidents", accidents)
        return [list(row) for row in conn.execute(sql).fetchall()]


def test_a_secretariat_defines_a_product_from_sql_and_it_builds(served: World) -> None:
    dataset = "fatal_accidents_by_region_month"
    answer = draft(
        served, SECRETARIAT, Role.secretariat,
        dataset=dataset, sector="welfare_safety", sql=BY_REGION, title="시도·월별 사망 교통사고",
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/yaml")
    text_ = answer.text
    assert "# suggested:" in text_
    drafted = parse_contract(text_, Path("p.yaml"))
    assert [(c.name, c.logical_type) for c in drafted.columns] == [
        ("sido", LogicalType.string),
        ("month", LogicalType.integer),
        ("fatal_accidents", LogicalType.integer),
        ("deaths", LogicalType.integer),
    ]
    assert all(c.physical_name == c.name for c in drafted.columns)
    assert drafted.kind == "product" and drafted.product is not None
    assert drafted.product.sql == BY_REGION and drafted.product.inputs == (ACCIDENTS,)
    assert drafted.product.aggregate is None
    assert (drafted.title, drafted.agency, drafted.sector) == (
        "시도·월별 사망 교통사고",
        SECRETARIAT,
        "welfare_safety",
    )
    assert drafted.access == AccessLevel.sector  # its input is the welfare sector's
    assert drafted.apply_mode == ApplyMode.replace
    # The query is audited as an SQL API query of the secretariat, with what it read.
    record = sql_records(served, SECRETARIAT, BY_REGION)[0]
    assert record.outcome == "ok" and record.datasets == (ACCIDENTS,) and record.rows

    preview = call(served, SECRETARIAT, Role.secretariat, "POST", "/preview", json={"yaml": text_})
    assert preview.status_code == 200
    assert preview.json()["errors"] == [] and preview.json()["product_refusals"] == []
    submitted = call(served, SECRETARIAT, Role.secretariat, "POST", "", json={"yaml": text_})
    assert submitted.status_code == 201, submitted.text
    assert submitted.json() == {"dataset": dataset, "version": "1.0.0", "state": "in_review"}
    assert dataset not in served.platform.contracts  # not live before it is approved
    approve_as_operator(served, dataset)
    live = served.platform.contract(dataset)
    assert live.kind == "product" and live.product and live.product.inputs == (ACCIDENTS,)

    outcome = run_product(served.platform, dataset)
    assert outcome.published, outcome.report
    built = served.sql(SECRETARIAT, f"SELECT * FROM welfare_safety.{dataset} ORDER BY sido, month")
    assert built.status_code == 200, built.text
    expected = from_csv(
        'SELECT "발생지시도", CAST(substr("발생년월일시", 6, 2) AS INTEGER), count(*), '
        'sum("사망자수") FROM accidents GROUP BY ALL ORDER BY 1, 2'
    )
    assert built.json()["rows"] == expected and len(expected) > 100


def test_a_product_over_data_its_agency_cannot_read_is_refused(served: World) -> None:
    # Drafting runs the query as the caller: the police table is not there for nhis.
    unseen = draft(
        served, SECRETARIAT, Role.secretariat, dataset="detections_by_month", sql=DETECTIONS
    )
    assert unseen.status_code == 404, unseen.text
    assert DRUNK in unseen.json()["detail"] and unseen.json()["kind"] == "sql"
    assert sql_records(served, SECRETARIAT, DETECTIONS)[0].outcome == "error"

    # Submitted as written, the definition is refused, naming the dataset and the fix.
    written = product_yaml(
        "detections_by_month", SECRETARIAT, "welfare_safety", DETECTIONS,
        ["year", "month", "detections"], "restricted",
    )  # fmt: skip
    refused = call(served, SECRETARIAT, Role.secretariat, "POST", "", json={"yaml": written})
    assert refused.status_code == 422, refused.text
    (line,) = [e for e in refused.json()["errors"] if "customProperties.product:" in e]
    assert DRUNK in line and "request access" in line
    with pytest.raises(ReviewError):
        served.platform.contract_reviews.get("detections_by_month", "1.0.0")

    # Another sector's steward may not read the welfare sector's accidents.
    elsewhere = "SELECT month(occurred_at) AS month, count(*) AS fatal_accidents FROM "
    elsewhere += f"welfare_safety.{ACCIDENTS} GROUP BY ALL"
    assert draft(served, OTHER_SECTOR, Role.steward, dataset="x", sql=elsewhere).status_code == 404
    theirs = product_yaml(
        "accidents_by_month", OTHER_SECTOR, "transport_logistics", elsewhere,
        ["month", "fatal_accidents"], "sector",
    )  # fmt: skip
    shown = call(served, OTHER_SECTOR, Role.steward, "POST", "/preview", json={"yaml": theirs})
    (why,) = shown.json()["product_refusals"]
    assert ACCIDENTS in why and "request access" in why and OTHER_SECTOR in why
    assert (
        call(served, OTHER_SECTOR, Role.steward, "POST", "", json={"yaml": theirs}).status_code
        == 422
    )
    # An analyst defines nothing.
    assert draft(served, SECRETARIAT, Role.analyst, dataset="x", sql=BY_REGION).status_code == 403


def grant_police_table(served: World) -> None:
    """nhis asks for the police table; the police steward approves, then an operator (nhis is
    the sector's secretariat: it does not decide its own request)."""
    platform = served.platform
    person = lambda agency, role: Principal(  # noqa: E731
        subject=f"test:{agency}-{role.value}", agency=agency, role=role, via="api_key"
    )
    asked = platform.requests.create(
        person(SECRETARIAT, Role.analyst),
        platform.contract(DRUNK),
        purpose="음주운전 적발과 사망 교통사고의 월별 공동 상품 (a joint monthly product)",
        legal_basis=LegalBasis.public_task,
    )
    platform.requests.approve(person(OWNER, Role.steward), asked.request_id)
    done = platform.requests.approve(person(OWNER, Role.operator), asked.request_id)
    assert done.state == "approved", done


def test_a_product_wider_than_a_restricted_input_needs_an_aggregate(served: World) -> None:
    grant_police_table(served)
    dataset = "drunk_driving_detections_by_month"
    wide = product_yaml(
        dataset, SECRETARIAT, "welfare_safety", DETECTIONS,
        ["year", "month", "detections"], "sector",
    )  # fmt: skip
    refused = call(served, SECRETARIAT, Role.secretariat, "POST", "", json={"yaml": wide})
    assert refused.status_code == 422, refused.text
    (line,) = [e for e in refused.json()["errors"] if "customProperties.product:" in e]
    assert DRUNK in line and "restricted" in line and "product.aggregate" in line

    answer = draft(
        served, SECRETARIAT, Role.secretariat, dataset=dataset, sql=DETECTIONS,
        aggregate={"countColumn": "detections", "k": 5},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    drafted = parse_contract(answer.text, Path("p.yaml"))
    assert drafted.product is not None and drafted.product.aggregate is not None
    assert (drafted.product.aggregate.count_column, drafted.product.aggregate.k) == (
        "detections",
        5,
    )
    assert drafted.access == AccessLevel.sector  # counts held to k may go to the sector
    assert [c.logical_type for c in drafted.columns] == [LogicalType.integer] * 3
    submitted = call(served, SECRETARIAT, Role.secretariat, "POST", "", json={"yaml": answer.text})
    assert submitted.status_code == 201, submitted.text
    approve_as_operator(served, dataset)
    outcome = run_product(served.platform, dataset)
    assert outcome.published, outcome.report
    built = served.sql(SECRETARIAT, f"SELECT * FROM welfare_safety.{dataset}").json()["rows"]
    total = served.sql(SECRETARIAT, f"SELECT count(*) FROM welfare_safety.{DRUNK}").json()
    assert built and all(n == 0 or n >= 5 for _, _, n in built)
    assert sum(n for _, _, n in built) == total["rows"][0][0]


def test_a_steward_drafts_a_public_product_of_their_agency(served: World) -> None:
    sql = f"""
        SELECT a.measured_on AS day, round(avg(a.pm10_ugm3), 1) AS pm10_ugm3,
               CAST(sum(p.generation_mwh) AS BIGINT) AS generation_mwh
        FROM environment_energy.{AIR} a
        JOIN environment_energy.{POWER} p ON p.trade_date = a.measured_on
        GROUP BY ALL ORDER BY day
    """
    answer = draft(served, STEWARD, Role.steward, dataset="air_and_power_by_day", sql=sql)
    assert answer.status_code == 200, answer.text
    drafted = parse_contract(answer.text, Path("p.yaml"))
    assert drafted.access == AccessLevel.public and drafted.agency == STEWARD
    assert drafted.product is not None and set(drafted.product.inputs) == {AIR, POWER}
    assert [c.logical_type for c in drafted.columns] == [
        LogicalType.date,
        LogicalType.number,
        LogicalType.integer,
    ]
    shown = call(served, STEWARD, Role.steward, "POST", "/preview", json={"yaml": answer.text})
    assert shown.json()["errors"] == [], shown.text
    # A statement the SQL API refuses is refused here in its words, and audited as denied.
    delete = f"DELETE FROM environment_energy.{AIR}"
    refused = draft(served, STEWARD, Role.steward, dataset="air_deleted", sql=delete)
    assert refused.status_code == 422 and refused.json()["kind"] == "refused", refused.text
    with served.client(STEWARD, Role.steward) as client:
        said = client.post("/api/v1/sql", json={"sql": delete}).json()["error"]["message"]
    assert refused.json()["detail"] == said
    assert sql_records(served, STEWARD, delete)[0].outcome == "denied"
    # A result Parquet cannot hold, or a column named twice: a clean 422, never a traceback.
    for odd in (
        f"SELECT measured_on, INTERVAL 1 DAY AS span FROM environment_energy.{AIR}",
        f"SELECT measured_on, measured_on FROM environment_energy.{AIR}",
    ):
        answer = draft(served, STEWARD, Role.steward, dataset="air_odd", sql=odd)
        assert answer.status_code == 422 and answer.json()["kind"] in ("format", "sql"), answer.text
    # A dataset id the drafter cannot use is refused before the query runs.
    bad = draft(served, STEWARD, Role.steward, dataset="Air Power", sql=sql)
    assert bad.status_code == 422 and "snake_case" in bad.json()["detail"]


def test_the_web_form_drafts_a_product_from_sql(served: World) -> None:
    browser = sign_in(served.url, served.keys[(SECRETARIAT, Role.secretariat)])
    new = parse(browser.get("/contracts/new").text)
    assert new.find(".//form[@id='draft-sql']") is not None
    assert new.find(".//form[@id='draft-upload']") is None  # a secretariat uploads no samples
    english = parse(browser.get("/contracts/new", params={"lang": "en"}).text)
    assert text(english.find(".//h2[@id='product-h']")) == "Define a joint product from SQL"
    token = form_token(browser.get("/contracts/new").text, "draft-sql")
    fields = {"csrf_token": token, "dataset": "web_accidents", "sector": "welfare_safety"}
    drafted = browser.post("/contracts/new/product", data=fields | {"sql": BY_REGION + "\r\n"})
    assert drafted.status_code == 200, drafted.text[:3000]
    page = parse(drafted.text)
    shown = page.find(".//textarea[@id='yaml']").text or ""
    assert "id: web_accidents" in shown and "property: product" in shown and "# suggested:" in shown
    assert "FROM welfare_safety.koroad_fatal_traffic_accidents" in shown
    header, rows = table(page, "columns")
    assert header[:3] == ["레이크하우스 열 이름", "원본 헤더", "형식"]
    assert [r[1] for r in rows] == ["sido", "month", "fatal_accidents", "deaths"]

    previewed = browser.post(
        "/contracts/edit", data=form_values(page, "editor") | {"action": "preview"}
    )
    assert previewed.status_code == 200
    assert parse(previewed.text).find(".//*[@id='preview-ok']") is not None
    saved = browser.post(
        "/contracts/edit", data=form_values(parse(previewed.text), "editor") | {"action": "draft"}
    )
    assert saved.status_code == 303, saved.text[:3000]
    stored = served.platform.contract_reviews.get("web_accidents", "1.0.0")
    assert stored.state == "draft" and "koroad_fatal_traffic_accidents" in stored.yaml
    # The secretariat edits and sends its own product's draft.
    href = "/contracts/web_accidents/versions/1.0.0"
    assert parse(browser.get(href).text).find(".//form[@id='send']") is not None

    # A table the secretariat cannot read (another agency's private one): the form again,
    # with the SQL as typed and the SQL API's words.
    private = "SELECT sido, count(*) AS n FROM welfare_safety.cases_private GROUP BY 1"
    unseen = browser.post(
        "/contracts/new/product", data=fields | {"dataset": "web_private", "sql": private}
    )
    assert unseen.status_code == 404
    error = text(parse(unseen.text).find(".//*[@id='product-error']"))
    assert "이용 신청" in error and "cases_private" in error
    assert parse(unseen.text).find(".//textarea[@name='sql']").text == private
    browser.close()


def test_the_web_preview_names_why_a_product_is_refused(served: World) -> None:
    browser = sign_in(served.url, served.keys[(OTHER_SECTOR, Role.steward)])
    elsewhere = f"SELECT month(occurred_at) AS month, count(*) AS n FROM welfare_safety.{ACCIDENTS}"
    elsewhere += " GROUP BY ALL"
    theirs = product_yaml(
        "web_elsewhere", OTHER_SECTOR, "transport_logistics", elsewhere, ["month", "n"], "sector"
    )
    token = form_token(browser.get("/contracts/new").text, "draft-sql")
    shown = browser.post(
        "/contracts/edit",
        data={"csrf_token": token, "yaml": theirs, "base": theirs, "action": "preview"},
    )
    assert shown.status_code == 200
    refusals = parse(shown.text).find(".//*[@id='product-refusals']")
    assert refusals is not None and ACCIDENTS in text(refusals) and "이용 신청" in text(refusals)
    assert refusals.find(f".//a[@href='/datasets/{ACCIDENTS}']") is not None
    browser.close()
