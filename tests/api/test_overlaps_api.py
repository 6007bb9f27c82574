"""`GET /api/v1/overlaps` and the `/overlaps` page over HTTP: overlapping projects and published
datasets across agencies, with their evidence, without what the caller may not see, audited.

Three agencies of the environment and energy sector publish EV charger lists: Seoul's and
MOTIE's (public) share 40 of their 60 charger ids; KECO's (private) holds ids of both. Seoul and
MOTIE register similar charging projects; KOSME registers one more, not public.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.app import create_app
from catalog.access.audit import AuditKind
from catalog.access.principal import Principal, Role
from catalog.ledger.projects import ProjectSpec
from contracts.loader import DEFAULT_DIR
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import parse, sign_in, text
from tests.api.world import World, serve

LABELLED = Path(__file__).resolve().parent.parent / "catalog" / "overlap_pairs.yaml"
SECTOR = "environment_energy"
# dataset id → (agency, access, the key column's Korean header, its description, ids it holds)
CHARGERS = {
    "ev_chargers_seoul": ("seoul", "public", "충전기ID", "충전기 고유 번호", range(0, 60)),
    "ev_chargers_motie": ("motie", "public", "충전기번호", "충전기 고유 식별 번호", range(20, 80)),
    "ev_chargers_keco": ("keco", "private", "충전기ID", "충전기 고유 번호", range(0, 80)),
    "ev_chargers_kpx": ("kpx", "restricted", "충전기ID", "충전기 고유 번호", range(0, 60)),
}
CALLERS = [("seoul", Role.analyst), ("keco", Role.analyst), ("keco", Role.secretariat)]


def contract_doc(dataset_id: str) -> dict[str, Any]:
    agency, access, header, description, _ = CHARGERS[dataset_id]
    props = [
        ("charger_id", header, "string", description),
        ("district", "자치구", "string", "충전기가 있는 자치구"),
        ("kw", "충전용량", "integer", "충전 용량 (kW)"),
    ]
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": dataset_id,
        "name": f"전기차 충전기 현황 ({agency})",
        "version": "1.0.0",
        "status": "active",
        "customProperties": [
            {"property": "sector", "value": SECTOR},
            {"property": "agency", "value": agency},
            {"property": "accessLevel", "value": access},
        ],
        "schema": [
            {
                "name": dataset_id,
                "physicalType": "file",
                "properties": [
                    {
                        "name": name,
                        "physicalName": physical,
                        "logicalType": logical,
                        "description": desc,
                        "customProperties": [{"property": "classification", "value": "none"}],
                    }
                    for name, physical, logical, desc in props
                ],
            }
        ],
    }


def spec(project_id: str, **extra: Any) -> ProjectSpec:
    data = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))
    found = next(p for p in data["projects"] if p["id"] == project_id)
    return ProjectSpec.model_validate(found | extra)


def steward(agency: str) -> Principal:
    return Principal(subject=f"{agency}-steward", agency=agency, role=Role.steward, via="api_key")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("overlaps")
    contracts = root / "contracts"
    shutil.copytree(DEFAULT_DIR, contracts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for dataset_id, (agency, *_) in CHARGERS.items():
        path = contracts / SECTOR / agency / f"{dataset_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(contract_doc(dataset_id), allow_unicode=True), "utf-8")
    platform = Platform(Settings(home=root / "ws", contracts_dir=contracts))
    for dataset_id, (_, _, header, _, ids) in CHARGERS.items():
        data = root / f"{dataset_id}.csv"
        with data.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([header, "자치구", "충전용량"])
            writer.writerows([f"EV-{i:05d}", f"구{i % 5}", 50 + i % 3 * 50] for i in ids)
        delivery, _ = platform.deliver(dataset_id, data)
        assert process_delivery(platform, delivery.delivery_id).published
    ledger = platform.projects
    ledger.register(steward("seoul"), spec("seoul_ev_charging", datasets=["ev_chargers_seoul"]))
    ledger.register(
        steward("motie"),
        spec("motie_ev_charger_demand", datasets=["ev_chargers_seoul", "ev_chargers_motie"]),
    )
    ledger.register(
        steward("kosme"),
        spec(
            "motie_ev_charger_demand",
            id="kosme_ev_chargers",
            lead="kosme",
            sectors=["industry_sme"],
            public=False,
        ),
    )
    keys = {(a, r): platform.keys.create(a, r, f"{a}-{r.value}")[1] for a, r in CALLERS}
    with serve(create_app(platform)) as url:
        yield World(platform=platform, url=url, keys=keys)


def get(world: World, agency: str, role: Role = Role.analyst, **params: str) -> dict[str, Any]:
    with world.client(agency, role) as client:
        response = client.get("/api/v1/overlaps", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def pair_ids(answer: dict[str, Any]) -> set[frozenset[str]]:
    return {frozenset((p["a"]["id"], p["b"]["id"])) for p in answer["pairs"]}


def test_projects_of_two_agencies_that_look_alike(served: World) -> None:
    answer = get(served, "seoul", kind="projects")
    assert answer["kind"] == "projects"
    top = answer["pairs"][0]
    assert {top["a"]["id"], top["b"]["id"]} == {"seoul_ev_charging", "motie_ev_charger_demand"}
    assert 0 < top["score"] <= 1
    assert "충전기" in top["shared_terms"] and top["shared_datasets"] == ["ev_chargers_seoul"]
    assert set(top["components"]) >= {"text", "terms", "characters", "datasets", "sectors"}
    # KOSME's project is not public: Seoul's analyst never sees it.
    assert all("kosme_ev_chargers" not in ids for ids in pair_ids(answer))
    assert get(served, "seoul", kind="projects", sector="welfare_safety")["pairs"] == []


def test_datasets_of_two_agencies_holding_the_same_ids(served: World) -> None:
    seen_by_seoul = get(served, "seoul", kind="datasets", sector=SECTOR)
    readable = [
        p for p in seen_by_seoul["pairs"] if "ev_chargers_kpx" not in (p["a"]["id"], p["b"]["id"])
    ]
    assert {frozenset((p["a"]["id"], p["b"]["id"])) for p in readable} == {
        frozenset(("ev_chargers_seoul", "ev_chargers_motie"))
    }
    pair = readable[0]
    # 40 shared of 80 distinct ids: a Jaccard of 0.5, as MinHash estimates it.
    assert pair["value_overlap"] == pytest.approx(0.5, abs=0.12)
    key = next(c for c in pair["columns"] if c["a"] == c["b"] == "charger_id")
    assert key["jaccard"] == pytest.approx(0.5, abs=0.12) and key["similarity"] > 0.5
    assert pair["schema_similarity"] > 0.5 and pair["rows_read"] == 60
    assert seen_by_seoul["rows_per_column"] == 200_000
    # KECO's private list overlaps both, for KECO's callers only.
    seen_by_keco = pair_ids(get(served, "keco", kind="datasets"))
    assert frozenset(("ev_chargers_keco", "ev_chargers_seoul")) in seen_by_keco
    assert all("ev_chargers_keco" not in ids for ids in pair_ids(seen_by_seoul))


def test_values_the_viewer_may_not_read_are_never_compared(served: World) -> None:
    # KPX's restricted list holds Seoul's very ids; Seoul holds no grant on it. Its schema (catalog
    # metadata) may still match, but no estimate of its values reaches Seoul.
    pairs = get(served, "seoul", kind="datasets", sector=SECTOR)["pairs"]
    with_kpx = [p for p in pairs if "ev_chargers_kpx" in (p["a"]["id"], p["b"]["id"])]
    assert with_kpx, "the schema alone still pairs them"
    for pair in with_kpx:
        assert not pair["value_overlap"]
        assert all(not c.get("jaccard") for c in pair["columns"])
    # KPX reads its own list: the same pair carries the value overlap for KPX's callers.
    platform = served.platform
    from catalog.ledger.overlaps import dataset_overlaps

    kpx = Principal(subject="kpx", agency="kpx", role=Role.analyst, via="api_key")
    own = next(
        p
        for p in dataset_overlaps(platform, viewer=kpx)
        if {p.a.id, p.b.id} == {"ev_chargers_kpx", "ev_chargers_seoul"}
    )
    assert own.value_overlap and own.value_overlap > 0.8


def test_an_unknown_sector_is_404_and_every_read_is_audited(served: World) -> None:
    with served.client("seoul") as client:
        assert client.get("/api/v1/overlaps", params={"sector": "nowhere"}).status_code == 404
        assert client.get("/api/v1/overlaps", params={"kind": "other"}).status_code == 422
    with httpx.Client(base_url=served.url) as anonymous:
        assert anonymous.get("/api/v1/overlaps").status_code == 401
    get(served, "seoul", kind="datasets")
    records = served.platform.audit.records(agency="seoul", limit=20)
    reads = [r for r in records if r.statement.startswith("GET /api/v1/overlaps")]
    assert any(r.kind == AuditKind.catalog and "ev_chargers_motie" in r.datasets for r in reads)
    assert any("sector=nowhere" in r.statement for r in reads)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_secretariats_board_shows_candidates_with_their_evidence(
    served: World, lang: str
) -> None:
    with closing(sign_in(served.url, served.keys[("keco", Role.secretariat)])) as browser:
        response = browser.get("/overlaps", params={"lang": lang})
    assert response.status_code == 200
    tree = parse(response.text)
    projects = tree.find(".//table[@id='project-pairs']")
    datasets = tree.find(".//table[@id='dataset-pairs']")
    assert projects is not None and datasets is not None
    links = {a.attrib["href"] for a in tree.iter("a")}
    assert {"/projects/seoul_ev_charging", "/projects/motie_ev_charger_demand"} <= links
    assert {"/datasets/ev_chargers_seoul", "/datasets/ev_chargers_motie"} <= links
    assert "/datasets/ev_chargers_keco" in links  # the secretariat's own agency's private list
    assert "charger_id" in text(datasets)
    heading = "Candidates for joint promotion" if lang == "en" else "공동 추진 후보"
    assert heading in text(tree)
