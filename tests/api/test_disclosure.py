"""The public disclosure of AI use (`/disclosure`, `.json`, `.csv`) over HTTP with no credentials,
after a realistic workspace: the police's restricted drunk-driving detections, KoROAD's
sector-shared accidents and Seoul's public air quality delivered from the shipped files, a private
police table, the demo's access requests (purposes, approvals, a denial, a query), a public and a
non-public project, and a shared and a private model.

Every answer is scanned for every restricted and private dataset's id, titles and column names,
every request's purpose, note and reason, every grant's purpose, the non-public project and the
private model: none may appear. Every anonymous fetch is audited. With
`GONGYU_DISCLOSURE_PUBLIC=false` the three addresses ask for a sign-in like every other page, and
with `GONGYU_DISCLOSURE_PROJECTS=false` the titles go while the counts stay.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import insert, select

from api.app import create_app
from catalog.access.audit import AuditKind
from catalog.access.principal import Principal, Role
from catalog.db import audit_log, models
from catalog.ledger.projects import BudgetBand, ProjectSpec, ProjectStatus
from contracts.loader import DEFAULT_DIR
from contracts.model import AccessLevel
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.joint_demo import ACCIDENTS, DRUNK, run_joint_use
from gongyu.platform import Platform
from tests.api.web_session import parse, sign_in, text
from tests.api.world import serve
from tests.conftest import data_file

AIR = "seoul_daily_air_quality"
PRIVATE = "knpa_patrol_deployment_internal"
FILES = (
    (DRUNK, "welfare_safety/police_drunk_driving_detections_202207.csv"),
    (ACCIDENTS, "welfare_safety/koroad_fatal_traffic_accidents_2020.csv"),
    (AIR, "environment_energy/seoul_daily_air_quality_2022.csv"),
)
PUBLIC_PROJECT = ProjectSpec(
    id="koroad_accident_risk",
    title="음주운전 적발 자료를 활용한 교통사고 위험 예측",
    title_en="Accident-risk prediction from drunk-driving detections",
    purpose="경찰청 음주운전 적발과 교통사고 사망 자료로 시·군·구별 사고 위험을 예측한다.",
    sectors=["welfare_safety", "transport_logistics"],
    lead="koroad",
    partners=["knpa"],
    start=date(2025, 3, 1),
    end=date(2026, 12, 31),
    status=ProjectStatus.piloting,
    datasets=[DRUNK, ACCIDENTS],
    budget=BudgetBand.from_100m,
)
HIDDEN_PROJECT = ProjectSpec(
    id="knpa_checkpoint_placement",
    title="심야 음주단속 지점 배치 최적화 내부 검토",
    title_en="Night checkpoint placement, internal review",
    purpose="단속 지점 배치를 내부적으로 최적화한다.",
    sectors=["welfare_safety"],
    lead="knpa",
    start=date(2025, 1, 1),
    status=ProjectStatus.planned,
    public=False,
)
PRIVATE_MODEL = "knpa_checkpoint_ranker"
SHARED_MODEL = "koroad_accident_risk_gbm"


def private_contract() -> dict[str, Any]:
    """A police table only the police reads (`private`), with columns named nowhere else."""
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": PRIVATE,
        "name": "경찰청 지구대 순찰 인력 배치 내부 현황",
        "version": "1.0.0",
        "status": "active",
        "customProperties": [
            {"property": "sector", "value": "welfare_safety"},
            {"property": "agency", "value": "knpa"},
            {"property": "accessLevel", "value": "private"},
            {"property": "english", "value": {"title": "Patrol staffing, internal"}},
        ],
        "schema": [
            {
                "name": PRIVATE,
                "physicalType": "file",
                "properties": [
                    {"name": "patrol_unit", "physicalName": "순찰지구대", "logicalType": "string"},
                    {
                        "name": "night_shift_officers",
                        "physicalName": "야간근무인원",
                        "logicalType": "integer",
                    },
                ],
            }
        ],
    }


def person(agency: str, role: Role) -> Principal:
    """A caller of the test."""
    return Principal(subject=f"test:{agency}-{role.value}", agency=agency, role=role, via="api_key")


def add_model(platform: Platform, model_id: str, agency: str, access: str) -> None:
    """A model row as the registry stores it (the disclosure reads only its table)."""
    with platform.engine.begin() as conn:
        conn.execute(
            insert(models).values(
                model_id=model_id,
                version=1,
                agency=agency,
                sector="welfare_safety",
                access=access,
                card={"task": f"{model_id} task"},
                artifact_key=f"models/{model_id}/1/model.bin",
                sha256="0" * 64,
                size_bytes=1,
                trained_on={f"welfare_safety.{DRUNK}": "1"},
                created_by="test",
                created_at=datetime.now(UTC),
            )
        )


def build(root: Path) -> Platform:
    """The workspace described in the module's docstring."""
    contracts = root / "contracts"
    shutil.copytree(DEFAULT_DIR, contracts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (contracts / "welfare_safety" / "knpa" / f"{PRIVATE}.yaml").write_text(
        yaml.safe_dump(private_contract(), allow_unicode=True), encoding="utf-8"
    )
    platform = Platform(Settings(home=root / "ws", contracts_dir=contracts))
    internal = root / "patrol.csv"
    internal.write_text(
        "순찰지구대,야간근무인원\n" + "".join(f"지구대{i},{i + 3}\n" for i in range(12)),
        encoding="utf-8",
    )
    for dataset_id, file in (*((d, data_file(f)) for d, f in FILES), (PRIVATE, internal)):
        delivery, _ = platform.deliver(dataset_id, file)
        outcome = process_delivery(platform, delivery.delivery_id)
        assert outcome.published, outcome.report
    run_joint_use(platform)
    platform.projects.register(person("koroad", Role.steward), PUBLIC_PROJECT)
    platform.projects.register(person("knpa", Role.steward), HIDDEN_PROJECT)
    add_model(platform, SHARED_MODEL, "koroad", "sector")
    add_model(platform, PRIVATE_MODEL, "knpa", "private")
    return platform


@dataclass
class Served:
    platform: Platform
    url: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disclosure")
    build(root)
    return root


@contextmanager
def served(root: Path, **settings: Any) -> Iterator[Served]:
    """The workspace's platform under `settings`, served on loopback."""
    platform = Platform(Settings(home=root / "ws", contracts_dir=root / "contracts", **settings))
    with serve(create_app(platform)) as url:
        yield Served(platform, url)


@pytest.fixture(scope="module")
def open_site(workspace: Path) -> Iterator[Served]:
    with served(workspace) as site:
        yield site


def secrets_of(platform: Platform) -> list[str]:
    """What must never show: restricted and private datasets' ids, titles and columns; every
    request's purpose, notes and reasons; grants' purposes; the non-public project; the
    private model."""
    found: list[str] = []
    hidden = (AccessLevel.restricted, AccessLevel.private)
    for contract in platform.contracts.values():
        if contract.access in hidden:
            found += [contract.id, contract.title, contract.english.title or ""]
            for c in contract.columns:
                found += [c.name, c.physical_name or ""]
    assert {DRUNK, PRIVATE} <= set(found), "the workspace lacks its restricted or private table"
    requests = platform.requests.all()
    assert len(requests) >= 4
    for r in requests:
        found += [r.purpose, r.reason or "", r.legal_basis_detail or ""]
        found += [d.note or "" for d in r.decisions]
    found += [g.purpose for g in platform.grants.list()]
    found += [HIDDEN_PROJECT.id, HIDDEN_PROJECT.title, HIDDEN_PROJECT.title_en or ""]
    found += [HIDDEN_PROJECT.purpose, PRIVATE_MODEL]
    return sorted({s for s in found if s})


def leaks(body: str, secrets: list[str]) -> list[str]:
    """The secrets in a body: ASCII names as whole words (`age` is in `agency`), others as
    they are."""
    out = []
    for s in secrets:
        if re.fullmatch(r"[A-Za-z0-9_]+", s):
            if re.search(rf"(?<![A-Za-z0-9_]){re.escape(s)}(?![A-Za-z0-9_])", body):
                out.append(s)
        elif s in body:
            out.append(s)
    return out


ADDRESSES = (
    "/disclosure",
    "/disclosure?lang=en",
    "/disclosure.json",
    "/disclosure.csv",
    "/disclosure.csv?header=en&bom=true",
    "/disclosure.csv?table=projects",
    "/disclosure.csv?table=projects&header=en",
)


def anonymous_reads(platform: Platform, paths: set[str], timeout: float = 10) -> set[str]:
    """The statements of anonymous catalog reads among `paths`, once all are written (audit
    records are appended after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        with platform.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.statement).where(
                    (audit_log.c.via == "anonymous") & (audit_log.c.kind == AuditKind.catalog.value)
                )
            ).scalars()
            seen = {s.removeprefix("GET ") for s in rows} & paths
        if seen == paths or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_nothing_restricted_leaks_and_every_read_is_audited(open_site: Served) -> None:
    secrets = secrets_of(open_site.platform)
    # The scan finds what it looks for: the police contract names its table and columns.
    assert {DRUNK, "blood_alcohol", "알콜농도"} <= set(
        leaks(open_site.platform.contract(DRUNK).text, secrets)
    )
    with httpx.Client(base_url=open_site.url, timeout=60) as anon:
        for address in ADDRESSES:
            answer = anon.get(address)
            assert answer.status_code == 200, (address, answer.text[:300])
            assert leaks(answer.text, secrets) == [], address
    assert anonymous_reads(open_site.platform, set(ADDRESSES)) == set(ADDRESSES)


def row(found: dict[str, Any], sector: str, agency: str) -> dict[str, Any]:
    table = next(t for t in found["sectors"] if t["sector"] == sector)
    return next(a for a in table["agencies"] if a["agency"] == agency)


def test_the_figures_count_what_happened(open_site: Served) -> None:
    found = httpx.get(f"{open_site.url}/disclosure.json").json()
    police = row(found, "welfare_safety", "knpa")
    # Its restricted and private tables count, nothing names them.
    assert police["datasets_shared"] == {"public": 0, "sector": 0, "restricted": 1, "private": 1}
    # The hidden project counts by status, unlisted; the model it keeps private does not count.
    assert police["projects"] == {"planned": 1, "piloting": 0, "in_service": 0, "stopped": 0}
    assert (police["projects_unlisted"], police["listed"], police["models_shared"]) == (1, [], 0)
    # Granted to KoROAD and to the secretariat (nhis): two other agencies; KoROAD queried once;
    # kotsa's denied request counts for nothing.
    assert (police["joint_users"], police["joint_reads"]) == (2, 1)
    koroad = row(found, "welfare_safety", "koroad")
    assert koroad["datasets_shared"]["sector"] == 1
    assert koroad["datasets_received"] == 1  # the police table
    assert koroad["models_shared"] == 1
    assert [p["id"] for p in koroad["listed"]] == [PUBLIC_PROJECT.id]
    assert koroad["listed"][0]["budget"] == "100m_to_1b"
    # A project of two sectors is in both tables.
    assert row(found, "transport_logistics", "koroad")["projects"]["piloting"] == 1
    nhis = row(found, "welfare_safety", "nhis")
    assert nhis["datasets_received"] == 2  # the accidents (automatic) and the police table
    # kotsa, outside the sector, was denied: nothing of it in the welfare table.
    welfare_rows = next(t for t in found["sectors"] if t["sector"] == "welfare_safety")["agencies"]
    assert "kotsa" not in {a["agency"] for a in welfare_rows}
    assert row(found, "environment_energy", "seoul")["datasets_shared"]["public"] == 1
    welfare = next(t for t in found["sectors"] if t["sector"] == "welfare_safety")
    assert welfare["total"]["datasets_shared"] == {
        "public": 0,
        "sector": 1,
        "restricted": 1,
        "private": 1,
    }
    assert found["total"]["projects"]["piloting"] == 1  # once overall, in each of its sectors
    assert found["projects_listed"] is True


def test_the_page_and_csv_show_the_same_rows(open_site: Served) -> None:
    with httpx.Client(base_url=open_site.url, timeout=60) as anon:
        html = anon.get("/disclosure").text
        english = anon.get("/disclosure?lang=en").text
        ko_csv = anon.get("/disclosure.csv?bom=true")
        en_csv = anon.get("/disclosure.csv?header=en").text
        projects = anon.get("/disclosure.csv?table=projects&header=en").text
    page = parse(html)
    police = page.find(".//tr[@id='row-welfare_safety-knpa']")
    assert police is not None
    assert text(police).startswith("경찰청")
    assert PUBLIC_PROJECT.title in html and PUBLIC_PROJECT.title_en in english
    assert "시범 운영" in html and "1억 ~ 10억 원" in html
    # No script, and nothing loaded from elsewhere.
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert ko_csv.content.startswith("\ufeff".encode())
    assert ko_csv.headers["content-type"] == "text/csv; charset=utf-8"
    korean = next(csv.reader(io.StringIO(ko_csv.content.decode("utf-8-sig"))))
    assert korean[:2] == ["구분", "부문"] and "공유 데이터(제한)" in korean
    rows = list(csv.DictReader(io.StringIO(en_csv)))
    police_row = next(r for r in rows if r["sector"] == "welfare_safety" and r["agency"] == "knpa")
    assert (police_row["datasets_restricted"], police_row["joint_users"]) == ("1", "2")
    assert rows[-1]["row"] == "total"
    listed = list(csv.DictReader(io.StringIO(projects)))
    assert {(r["sector"], r["project"]) for r in listed} == {
        ("welfare_safety", PUBLIC_PROJECT.id),
        ("transport_logistics", PUBLIC_PROJECT.id),
    }


def test_a_wrong_key_is_refused_even_when_open(open_site: Served) -> None:
    bad = {"Authorization": "Bearer gyk_nope.nope"}
    assert httpx.get(f"{open_site.url}/disclosure.json", headers=bad).status_code == 401


def test_closed_disclosure_asks_for_sign_in(workspace: Path) -> None:
    with served(workspace, disclosure_public=False) as site:
        with httpx.Client(base_url=site.url, timeout=60) as anon:
            page = anon.get("/disclosure")
            assert page.status_code == 303
            assert page.headers["location"] == "/signin?next=%2Fdisclosure"
            for address in ("/disclosure.json", "/disclosure.csv"):
                assert anon.get(address).status_code == 401
        _, key = site.platform.keys.create("kotsa", Role.analyst, "disclosure-test")
        with httpx.Client(
            base_url=site.url, timeout=60, headers={"Authorization": f"Bearer {key}"}
        ) as keyed:
            assert keyed.get("/disclosure.json").json()["projects_listed"] is True
            assert keyed.get("/disclosure.csv").status_code == 200
        browser = sign_in(site.url, key)
        with closing(browser):
            answer = browser.get("/disclosure")
            assert answer.status_code == 200
            assert "경찰청" in answer.text


def test_project_titles_can_be_withheld(workspace: Path) -> None:
    with served(workspace, disclosure_projects=False) as site:
        found = httpx.get(f"{site.url}/disclosure.json").json()
        assert found["projects_listed"] is False
        koroad = row(found, "welfare_safety", "koroad")
        assert koroad["listed"] == [] and koroad["projects"]["piloting"] == 1
        html = httpx.get(f"{site.url}/disclosure").text
        assert PUBLIC_PROJECT.title not in html
        listed = httpx.get(f"{site.url}/disclosure.csv?table=projects").text
        assert listed.count("\n") == 1  # the header only
