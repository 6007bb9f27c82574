"""AI projects over HTTP on loopback: registered, updated and listed through `/api/v1/projects`
with their history; only the lead agency updates (403 for a partner or an outsider), an unknown
project is 404, a project that is not public is hidden from outsiders (404 and not listed); a
request for a project over the JSON API; and the pages (list, form with CSRF, project with its
history, edit) in Korean and English."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from api.web.i18n import Lang, Translator
from catalog.access.grants import korean_today
from catalog.access.principal import Role
from gongyu.cli import app
from tests.api.web_session import form_token, parse, sign_in, table, text
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, SAME_SECTOR, World, world

URL = "/api/v1/projects"
LEAD, PARTNER, SECRETARIAT = GRANTEE, OWNER, SAME_SECTOR  # hira leads, knpa partners, nhis
KO, EN = Translator(Lang.ko), Translator(Lang.en)
SHIPPED = Path(__file__).resolve().parents[2] / "sectors" / "projects"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("projects")) as w:
        yield w


def body(project_id: str, **changes: Any) -> dict[str, Any]:
    """A project of hira's with knpa as partner, in the welfare sector."""
    return {
        "id": project_id,
        "title": "의약품 처방 이상 탐지",
        "title_en": "Drug prescription anomaly detection",
        "purpose": "주성분별 처방량이 비정상적으로 많은 요양기관을 찾는다",
        "sectors": ["welfare_safety"],
        "lead": LEAD,
        "partners": [PARTNER],
        "start": "2026-01-01",
        "end": "2027-12-31",
        "status": "planned",
        "datasets": ["cases_public", "hira_drug_active_ingredients"],
        "outcomes": [{"metric": "탐지 정확도", "value": 0.81}],
        "budget": "100m_to_1b",
    } | changes


def call(
    served: World, agency: str, role: Role, method: str, path: str = "", **kw: Any
) -> httpx.Response:
    with served.client(agency, role) as client:
        return client.request(method, URL + path, **kw)


def listed(served: World, caller: str, role: Role = Role.analyst, **params: str) -> set[str]:
    answer = call(served, caller, role, "GET", params=params)
    assert answer.status_code == 200, answer.text
    return {p["spec"]["id"] for p in answer.json()}


def test_register_update_list_and_history(served: World) -> None:
    made = call(served, LEAD, Role.steward, "POST", json=body("drug_anomaly"))
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 1 and made.json()["spec"]["lead"] == LEAD
    again = call(served, LEAD, Role.steward, "POST", json=body("drug_anomaly"))
    assert again.status_code == 409 and "exists" in again.json()["detail"]

    changed = body("drug_anomaly", status="piloting", problems="가명처리 결합에 시간이 걸린다")
    updated = call(served, LEAD, Role.secretariat, "PUT", "/drug_anomaly", json=changed)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2

    one = call(served, OTHER_SECTOR, Role.analyst, "GET", "/drug_anomaly")
    assert one.status_code == 200, one.text
    history = one.json()["history"]
    assert [v["version"] for v in history] == [1, 2]
    assert sorted(history[1]["changes"]) == ["problems", "status"]
    assert history[1]["spec"]["status"] == "piloting" and history[0]["spec"]["status"] == "planned"
    subjects = {v["changed_by"] for v in history}
    assert len(subjects) == 2  # the steward's key, then the secretariat's

    assert "drug_anomaly" in listed(served, OTHER_SECTOR)
    assert "drug_anomaly" in listed(served, OTHER_SECTOR, sector="welfare_safety")
    assert "drug_anomaly" not in listed(served, OTHER_SECTOR, sector="industry_sme")
    assert "drug_anomaly" in listed(served, OTHER_SECTOR, agency=PARTNER)  # a member agency
    assert "drug_anomaly" not in listed(served, OTHER_SECTOR, agency=OTHER_SECTOR)
    assert "drug_anomaly" in listed(served, OTHER_SECTOR, status="piloting")
    assert "drug_anomaly" not in listed(served, OTHER_SECTOR, status="planned")

    audited = served.platform.audit.records(dataset_ids=["hira_drug_active_ingredients"])
    assert any(r.statement.startswith("PUT /api/v1/projects/drug_anomaly") for r in audited)


def test_only_the_lead_agency_updates(served: World) -> None:
    assert call(served, LEAD, Role.steward, "POST", json=body("lead_only")).status_code == 201
    changed = body("lead_only", status="in_service")
    for agency, role in (
        (PARTNER, Role.steward),  # a partner
        (OTHER_SECTOR, Role.steward),  # an outsider
        (LEAD, Role.analyst),  # the lead agency, but an analyst
    ):
        refused = call(served, agency, role, "PUT", "/lead_only", json=changed)
        assert refused.status_code == 403, (agency, role, refused.text)
        assert "lead agency" in refused.json()["detail"]
    # Claiming the lead in the body does not make the caller the lead.
    claimed = body("lead_only", lead=OTHER_SECTOR, partners=[])
    assert (
        call(served, OTHER_SECTOR, Role.steward, "PUT", "/lead_only", json=claimed).status_code
        == 403
    )
    other = call(served, OTHER_SECTOR, Role.steward, "POST", json=body("not_mine"))
    assert other.status_code == 403
    mismatch = call(served, LEAD, Role.steward, "PUT", "/lead_only", json=body("other_id"))
    assert mismatch.status_code == 422 and "id" in mismatch.json()["detail"]
    assert call(served, OTHER_SECTOR, Role.analyst, "GET", "/lead_only").json()["version"] == 1


def test_unknown_and_invalid(served: World) -> None:
    assert call(served, LEAD, Role.steward, "GET", "/no_such_project").status_code == 404
    put = call(served, LEAD, Role.steward, "PUT", "/no_such_project", json=body("no_such_project"))
    assert put.status_code == 404 and "no project" in put.json()["detail"]
    unknown_data = call(served, LEAD, Role.steward, "POST", json=body("x_data", datasets=["nope"]))
    assert unknown_data.status_code == 422 and "datasets" in unknown_data.json()["detail"]
    unknown_agency = call(
        served, LEAD, Role.steward, "POST", json=body("x_agency", partners=["zz"])
    )
    assert unknown_agency.status_code == 422 and "partners" in unknown_agency.json()["detail"]
    backwards = call(served, LEAD, Role.steward, "POST", json=body("x_period", end="2025-01-01"))
    assert backwards.status_code == 422
    with httpx.Client(base_url=served.url) as anonymous:
        assert anonymous.get(URL).status_code == 401


def test_a_project_not_public_is_hidden_from_outsiders(served: World) -> None:
    made = call(served, LEAD, Role.steward, "POST", json=body("hidden_audit", public=False))
    assert made.status_code == 201, made.text
    for agency, role in (
        (LEAD, Role.analyst),
        (PARTNER, Role.analyst),  # a member
        (SECRETARIAT, Role.secretariat),  # the welfare sector's secretariat
        (OTHER_SECTOR, Role.operator),
    ):
        assert "hidden_audit" in listed(served, agency, role), (agency, role)
        assert call(served, agency, role, "GET", "/hidden_audit").status_code == 200
    for agency, role in ((OTHER_SECTOR, Role.analyst), (SECRETARIAT, Role.analyst)):
        assert "hidden_audit" not in listed(served, agency, role), (agency, role)
        hidden = call(served, agency, role, "GET", "/hidden_audit")
        assert hidden.status_code == 404 and hidden.json() == {
            "detail": "no project 'hidden_audit'"
        }
        put = call(served, agency, role, "PUT", "/hidden_audit", json=body("hidden_audit"))
        assert put.status_code == 404


def test_a_request_for_a_project_over_the_api(served: World) -> None:
    end = korean_today() + timedelta(days=60)
    spec = body("joint_request", end=str(end), status="in_service", datasets=["cases_restricted"])
    assert call(served, LEAD, Role.steward, "POST", json=spec).status_code == 201
    asked = {"dataset": "cases_restricted", "legal_basis": "public_task"}
    with served.client(OTHER_SECTOR, Role.analyst) as outsider:
        refused = outsider.post(
            "/api/v1/access-requests", json=asked | {"project_id": "joint_request"}
        )
    assert refused.status_code == 403 and "member agencies" in refused.json()["detail"]
    with served.client(SECRETARIAT, Role.analyst) as nobody:
        assert nobody.post("/api/v1/access-requests", json=asked).status_code == 400  # no purpose
    # knpa owns the table, so the request comes from the lead, for the project
    with served.client(LEAD, Role.analyst) as lead:
        made = lead.post("/api/v1/access-requests", json=asked | {"project_id": "joint_request"})
    assert made.status_code == 201, made.text
    assert made.json()["project_id"] == "joint_request"
    assert made.json()["until"] == str(end) and made.json()["purpose"] == spec["purpose"]


# The pages


@pytest.fixture(scope="module")
def browser(served: World) -> Iterator[httpx.Client]:
    client = sign_in(served.url, served.keys[(LEAD, Role.steward)])
    yield client
    client.close()


def form(page: str, **fields: Any) -> dict[str, Any]:
    """The project form's fields as posted, with the page's CSRF token."""
    values: dict[str, Any] = {
        "csrf_token": form_token(page, "project-form"),
        "id": "page_project",
        "title": "교통사고 위험 지역 예측",
        "title_en": "Accident risk areas",
        "purpose": "사망 교통사고 정보로 위험 지역을 예측한다",
        "sectors": ["welfare_safety"],
        "partners": [PARTNER],
        "start": "2026-02-01",
        "end": "2027-01-31",
        "status": "planned",
        "budget": "under_100m",
        "datasets": ["koroad_fatal_traffic_accidents"],
        "models_used": "koroad_accident_risk",
        "outcomes": "정확도 | 0.7 | 점\n시범 지역 | 3 | 곳 | 서울·부산·대구",
        "public": "on",
    }
    return values | fields


def test_the_pages_register_show_and_update_a_project(served: World, browser: httpx.Client) -> None:
    new = browser.get("/projects/new")
    assert new.status_code == 200, new.text
    forged = browser.post("/projects/new", data=form(new.text, csrf_token="forged"))
    assert forged.status_code == 403

    # An existing accident-risk project of another agency is shown before saving.
    risk = body(
        "risk_existing",
        title="사망 교통사고 위험 지역 예측 모델",
        purpose="사망 교통사고 정보로 교통사고 위험 지역을 예측한다",
        datasets=["koroad_fatal_traffic_accidents"],
        lead=OTHER_SECTOR,
        partners=[],
    )
    assert call(served, OTHER_SECTOR, Role.steward, "POST", json=risk).status_code == 201
    checked = browser.post("/projects/new", data=form(new.text, action="preview"))
    assert checked.status_code == 200 and 'id="project-checked"' in checked.text
    similar = parse(checked.text).find(".//section[@id='project-similar']")
    assert similar is not None and similar.find(".//li[@id='similar-risk_existing']") is not None
    with pytest.raises(ValueError):  # a preview saves nothing
        served.platform.projects.get("page_project")
    bad = browser.post("/projects/new", data=form(new.text, action="save", start="", id="x"))
    assert bad.status_code == 422 and 'id="project-error"' in bad.text
    assert "start" in text(parse(bad.text).find(".//p[@id='project-error']"))  # type: ignore[arg-type]

    saved = browser.post("/projects/new", data=form(new.text, action="save"))
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/projects/page_project?done=registered"
    project = served.platform.projects.get("page_project")
    assert project.spec.lead == LEAD and project.spec.models_used == ["koroad_accident_risk"]
    assert [(f.metric, f.value, f.unit) for f in project.spec.outcomes] == [
        ("정확도", 0.7, "점"),
        ("시범 지역", 3, "곳"),
    ]

    edit = browser.get("/projects/page_project/edit")
    assert edit.status_code == 200
    changed = form(edit.text, action="save", status="piloting", end="2026-12-31")
    assert browser.post("/projects/page_project/edit", data=changed).status_code == 303

    page = browser.get("/projects/page_project?lang=en")
    assert page.status_code == 200
    tree = parse(page.text)
    rows = [
        [text(td) for td in tr.findall("./td")]
        for tr in tree.findall(".//section[@id='project-history']//tbody/tr")
    ]
    assert (
        rows[0][0] == "v2"
        and rows[0][3] == f"{EN('projects.field.end')}, {EN('projects.field.status')}"
    )
    assert rows[1][3] == EN("projects.registered")
    assert (
        tree.find(
            ".//section[@id='project-datasets']//a[@href='/datasets/koroad_fatal_traffic_accidents']"
        )
        is not None
    )
    assert "koroad_accident_risk" in text(tree.find(".//section[@id='project-models']"))  # type: ignore[arg-type]

    listing = browser.get("/projects", params={"status": "piloting"})
    assert listing.status_code == 200 and KO("projects.title") in listing.text
    _, cells = table(parse(listing.text), "projects")
    assert any("page_project" in row[0] for row in cells)
    assert 'id="project-page_project"' not in browser.get("/projects?status=planned").text


def test_an_outsider_neither_edits_nor_sees_a_hidden_project(served: World) -> None:
    for made in (body("page_open"), body("page_hidden", public=False)):
        assert call(served, LEAD, Role.steward, "POST", json=made).status_code == 201
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.steward)])) as outsider:
        assert outsider.get("/projects/page_open").status_code == 200
        assert outsider.get("/projects/page_open/edit").status_code == 403
        assert outsider.get("/projects/page_hidden").status_code == 404
        shown = outsider.get("/projects").text
        assert 'id="project-page_open"' in shown and 'id="project-page_hidden"' not in shown
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])) as analyst:
        assert analyst.get("/projects/new").status_code == 403


# The files: `gongyu projects import` and `list`


def test_the_shipped_project_files_import_once_and_list(tmp_path: Path) -> None:
    runner, workspace = CliRunner(), ["--workspace", str(tmp_path / "ws")]
    first = runner.invoke(app, ["projects", "import", str(SHIPPED), *workspace])
    assert first.exit_code == 0, first.output
    shipped = sorted(p.stem for p in SHIPPED.glob("*/*.yaml"))
    assert f"{len(shipped)} registered, 0 updated, 0 unchanged" in first.output
    again = runner.invoke(app, ["projects", "import", *workspace])  # the default folder
    assert f"0 registered, 0 updated, {len(shipped)} unchanged" in again.output

    copied = tmp_path / "projects"
    shutil.copytree(SHIPPED, copied)
    edited = copied / "kpx" / "kpx_power_demand_forecast.yaml"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("status: in_service", "status: stopped"),
        encoding="utf-8",
    )
    changed = runner.invoke(app, ["projects", "import", str(copied), *workspace])
    assert (
        "0 registered, 1 updated" in changed.output
        and "kpx_power_demand_forecast" in changed.output
    )
    listed_json = runner.invoke(app, ["projects", "list", "--json", *workspace])
    found = {p["spec"]["id"]: p for p in json.loads(listed_json.output)}
    assert sorted(found) == shipped
    assert found["kpx_power_demand_forecast"]["version"] == 2
    # The demo: an overlapping pair across agencies, and a model made by one reused by another.
    assert {"seoul_air_quality_forecast", "keco_fine_dust_forecast"} <= found.keys()
    made = {m for p in found.values() for m in p["spec"]["models_made"]}
    assert any(
        m in made and p["spec"]["lead"] != "koroad"
        for p in found.values()
        for m in p["spec"]["models_used"]
    )


def test_a_bad_project_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    (folder / "seoul").mkdir(parents=True)
    (folder / "seoul" / "bad_dates.yaml").write_text(
        "id: bad_dates\ntitle: 잘못된 사업\npurpose: 시험\nsectors: [environment_energy]\n"
        "lead: seoul\nstart: 2026-13-01\nstatus: finished\ndatasets: [no_such_dataset]\n",
        encoding="utf-8",
    )
    (folder / "seoul" / "elsewhere.yaml").write_text(
        "id: other_name\ntitle: 다른 이름\npurpose: 시험\nsectors: [environment_energy]\n"
        "lead: keco\nstart: 2026-01-01\ndatasets: [no_such_dataset]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["projects", "import", str(folder), "--workspace", str(tmp_path / "ws")]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.output
    assert "projects/seoul/bad_dates.yaml: start:" in lines
    assert "projects/seoul/bad_dates.yaml: status:" in lines
    assert "projects/seoul/elsewhere.yaml: id:" in lines
    assert "projects/seoul/elsewhere.yaml: lead:" in lines
    listed_json = CliRunner().invoke(
        app, ["projects", "list", "--json", "--workspace", str(tmp_path / "ws")]
    )
    assert json.loads(listed_json.output) == []  # nothing imported
