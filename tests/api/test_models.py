"""Shared models over HTTP on loopback: a steward registers a model with its artifact (hash
checked, stored immutably, the same id again is version 2), callers list and read it as its
access level lets them, a permitted agency downloads it and an agency without access is refused
as if it did not exist, both audited; the catalog pages show it in Korean and English."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from catalog.access.principal import Role
from tests.api.web_session import parse, sign_in, table, text
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, SAME_SECTOR, World, world

URL = "/api/v1/models"
LIMIT = 100_000  # GONGYU_MAX_DELIVERY_BYTES of this world: the artifact limit too


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("models"), max_delivery_bytes=LIMIT) as w:
        yield w


def snapshot(served: World, dataset: str) -> int:
    return served.platform.models.published(served.platform.contract(dataset))[0]


def card(served: World, model_id: str, access: str, **changes: object) -> dict[str, object]:
    return {
        "id": model_id,
        "title": "사건 재발 위험 모델",
        "titleEn": "Case recurrence risk",
        "task": "classification",
        "inputs": "시·도, 건수",
        "outputs": "재발 확률",
        "metrics": [{"name": "auc", "value": 0.71, "dataset": "cases_sector", "split": "test"}],
        "limits": "시험용",
        "licence": "KOGL-Type1",
        "access": access,
        "agency": OWNER,
        "sector": "welfare_safety",
        "trainedOn": [{"dataset": "cases_sector", "snapshot_id": snapshot(served, "cases_sector")}],
    } | changes


def register(
    served: World,
    body: dict[str, object],
    content: bytes,
    agency: str = OWNER,
    role: Role = Role.steward,
) -> httpx.Response:
    with served.client(agency, role) as client:
        return client.post(
            URL,
            data={"card": json.dumps(body, ensure_ascii=False)},
            files={"file": ("risk model.onnx", content, "application/octet-stream")},
        )


def get(served: World, agency: str, path: str, role: Role = Role.analyst) -> httpx.Response:
    with served.client(agency, role) as client:
        return client.get(URL + path)


def downloads(served: World, model_id: str) -> list[tuple[str, str]]:
    records = served.platform.audit.records(dataset_ids=[f"model:{model_id}"], limit=1000)
    return sorted((r.agency, r.outcome) for r in records if r.kind == "download")


def test_a_model_is_registered_with_its_artifact_and_versioned(served: World) -> None:
    first, second = b"\x08\x01onnx" * 500, b"retrained" * 100
    made = register(served, card(served, "case_risk", "restricted"), first)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["version"] == 1
    assert body["artifact"]["sha256"] == hashlib.sha256(first).hexdigest()
    assert body["artifact"]["size_bytes"] == len(first)
    assert body["artifact"]["key"] == f"{OWNER}/case_risk/1/risk_model.onnx"
    again = register(served, card(served, "case_risk", "restricted"), second)
    assert again.status_code == 201 and again.json()["version"] == 2
    zone = served.platform.models.storage
    with zone.local(body["artifact"]["key"]) as path:
        assert path.read_bytes() == first  # version 1 untouched
    uploads = served.platform.audit.records(dataset_ids=["model:case_risk"])
    assert [r.outcome for r in uploads if r.kind == "upload"] == ["ok", "ok"]

    shown = get(served, SAME_SECTOR, "/case_risk")
    assert shown.status_code == 200
    entry = shown.json()
    assert [v["version"] for v in entry["versions"]] == [1, 2]
    assert entry["lineage"][0]["dataset"] == "cases_sector"
    assert entry["lineage"][0]["agency"] == OWNER
    assert entry["may_download"] is False  # restricted: no grant yet


def test_registration_is_refused_as_it_should_be(served: World) -> None:
    ok = card(served, "refused_model", "sector")
    assert register(served, ok, b"x", role=Role.analyst).status_code == 403
    assert register(served, ok, b"x", agency=SAME_SECTOR).status_code == 403  # not its agency
    unreadable = card(
        served,
        "nhis_model",
        "sector",
        agency=SAME_SECTOR,
        trainedOn=[{"dataset": "cases_private", "snapshot_id": snapshot(served, "cases_private")}],
    )
    assert register(served, unreadable, b"x", agency=SAME_SECTOR).status_code == 422
    bad_snapshot = card(
        served,
        "refused_model",
        "sector",
        trainedOn=[{"dataset": "cases_sector", "snapshot_id": snapshot(served, "cases_public")}],
    )
    assert register(served, bad_snapshot, b"x").status_code == 422
    assert register(served, ok | {"licence": "GPL"}, b"x").status_code == 422
    too_large = register(served, ok, b"0" * (LIMIT + 1))
    assert too_large.status_code == 413, too_large.text
    assert get(served, OWNER, "/refused_model").status_code == 404
    taken = card(served, "case_risk", "sector", agency=SAME_SECTOR, trainedOn=[])
    assert register(served, taken, b"x", agency=SAME_SECTOR).status_code == 409


def test_models_are_listed_and_filtered_as_callers_may_see_them(served: World) -> None:
    hidden = card(
        served,
        "police_private",
        "private",
        trainedOn=[{"dataset": "cases_private", "snapshot_id": snapshot(served, "cases_private")}],
    )
    assert register(served, hidden, b"p").status_code == 201
    public = card(
        served,
        "public_model",
        "public",
        task="regression",
        trainedOn=[{"dataset": "cases_private", "snapshot_id": snapshot(served, "cases_private")}],
    )
    assert register(served, public, b"q").status_code == 201

    def ids(agency: str, query: str = "") -> set[str]:
        answer = get(served, agency, query)
        assert answer.status_code == 200, answer.text
        return {m["model_id"] for m in answer.json()["models"]}

    assert {"police_private", "public_model"} <= ids(OWNER)
    assert "police_private" not in ids(OTHER_SECTOR)
    assert "public_model" in ids(OTHER_SECTOR)
    assert ids(OTHER_SECTOR, "?task=regression") == {"public_model"}
    assert ids(OTHER_SECTOR, f"?agency={SAME_SECTOR}") == set()
    assert get(served, OTHER_SECTOR, "/police_private").status_code == 404
    # The public model was trained on knpa's private table: others learn neither its name
    # nor its title, only that there was one.
    seen = get(served, OTHER_SECTOR, "/public_model")
    assert seen.status_code == 200
    assert "cases_private" not in seen.text and seen.json()["hidden_lineage"] == 1
    assert "cases_private" in get(served, OWNER, "/public_model").text


def test_downloads_follow_the_access_level_and_grants_and_are_audited(served: World) -> None:
    content = b"sector model bytes" * 10
    assert register(served, card(served, "sector_model", "sector"), content).status_code == 201
    artifact = "/sector_model/versions/1/artifact"
    allowed = get(served, SAME_SECTOR, artifact)  # nhis: same sector
    assert allowed.status_code == 200
    assert allowed.content == content
    assert allowed.headers["x-gongyu-sha256"] == hashlib.sha256(content).hexdigest()
    refused = get(served, OTHER_SECTOR, artifact)  # kotsa: another sector, no grant
    unknown = get(served, OTHER_SECTOR, "/no_such_model/versions/1/artifact")
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == unknown.json()
    assert get(served, SAME_SECTOR, "/sector_model/versions/9/artifact").status_code == 404
    assert downloads(served, "sector_model") == [
        (OTHER_SECTOR, "denied"),
        (SAME_SECTOR, "denied"),  # version 9: none
        (SAME_SECTOR, "ok"),
        (SAME_SECTOR, "opened"),
    ]

    # Restricted: a grant from the owner's steward opens it to one agency.
    restricted = "/case_risk/versions/1/artifact"
    assert get(served, GRANTEE, restricted).status_code == 404
    grant = {"agency": GRANTEE, "purpose": "재발 위험 분석", "until": "2099-12-31"}
    with served.client(SAME_SECTOR, Role.steward) as client:
        assert client.post(f"{URL}/case_risk/grants", json=grant).status_code == 403
    with served.client(OWNER, Role.steward) as client:
        made = client.post(f"{URL}/case_risk/grants", json=grant)
    assert made.status_code == 201, made.text
    assert get(served, GRANTEE, restricted).status_code == 200
    assert get(served, SAME_SECTOR, restricted).status_code == 404  # the grant is hira's
    assert downloads(served, "case_risk") == [
        (GRANTEE, "denied"),
        (GRANTEE, "ok"),
        (GRANTEE, "opened"),
        (SAME_SECTOR, "denied"),
    ]
    assert served.platform.audit.verify().ok


def test_the_model_pages_show_card_lineage_versions_and_download(served: World) -> None:
    if not served.platform.models.versions("sector_model"):
        assert register(served, card(served, "sector_model", "sector"), b"s").status_code == 201
    key = served.keys[(SAME_SECTOR, Role.analyst)]
    with closing(sign_in(served.url, key)) as browser:
        listing = browser.get("/models")
        assert listing.status_code == 200 and "/models/sector_model" in listing.text
        korean = browser.get("/models/sector_model?lang=ko")
        assert korean.status_code == 200
        page = parse(korean.text)
        assert page.find(".//a[@id='download']") is not None
        _, lineage = table(page, "trained-on")
        assert "cases_sector" in lineage[0][0]
        assert (
            page.find(".//table[@id='trained-on']//a[@href='/datasets/cases_sector']") is not None
        )
        _, versions = table(page, "model-versions")
        assert len(versions[0][3]) == 64  # the SHA-256
        assert "학습 데이터" in text(page)
        english = browser.get("/models/sector_model?lang=en")
        assert "Trained on" in english.text and "Case recurrence risk" in english.text
        assert browser.get("/models/police_private").status_code == 404
    with closing(sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])) as browser:
        other = parse(browser.get("/models/sector_model").text)
        assert other.find(".//a[@id='download']") is None
        assert other.find(".//p[@id='no-download']") is not None
