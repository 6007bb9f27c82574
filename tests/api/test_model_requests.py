"""A shared model requested through the joint-use workflow over HTTP: kotsa's analyst asks for
KoROAD's restricted model, is refused the download before, KoROAD's steward approves, the
download then works (hash matches) and is audited, and the grant ends on the approved day."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

import catalog.access.grants as grants_module
import catalog.access.requests as requests_module
from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from tests.api.world import OTHER_SECTOR, OWNER, World, world

KOROAD, KOTSA = "koroad", OTHER_SECTOR  # transport: kotsa is its secretariat
REQUESTS = "/api/v1/access-requests"
CONTENT = b"accident risk model" * 50


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("model-requests")) as w:
        for role in (Role.analyst, Role.steward):
            w.keys[(KOROAD, role)] = w.platform.keys.create(KOROAD, role, f"koroad-{role}")[1]
        yield w


def register(served: World, model_id: str, access: str, **changes: object) -> None:
    card = {
        "id": model_id,
        "title": "교통사고 위험 예측 모델",
        "titleEn": "Accident risk",
        "task": "classification",
        "inputs": "도로 구간, 시간대",
        "outputs": "사고 위험도",
        "licence": "KOGL-Type1",
        "access": access,
        "agency": KOROAD,
        "sector": "transport_logistics",
    } | changes
    with served.client(KOROAD, Role.steward) as client:
        made = client.post(
            "/api/v1/models",
            data={"card": json.dumps(card, ensure_ascii=False)},
            files={"file": ("risk.onnx", CONTENT, "application/octet-stream")},
        )
    assert made.status_code == 201, made.text


def ask(served: World, agency: str, body: dict[str, object]) -> dict[str, object]:
    with served.client(agency) as client:
        made = client.post(REQUESTS, json=body)
    assert made.status_code == 201, made.text
    return made.json()


def download(served: World, agency: str, model_id: str) -> int:
    with served.client(agency) as client:
        got = client.get(f"/api/v1/models/{model_id}/versions/1/artifact")
    if got.status_code == 200:
        assert hashlib.sha256(got.content).hexdigest() == got.headers["x-gongyu-sha256"]
        assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(CONTENT).hexdigest()
    return got.status_code


def downloads(served: World, model_id: str) -> list[tuple[str, str]]:
    records = served.platform.audit.records(dataset_ids=[f"model:{model_id}"], limit=1000)
    return sorted((r.agency, r.outcome) for r in records if r.kind == "download")


def test_a_restricted_model_is_requested_approved_downloaded_and_ends(
    served: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(served, "accident_risk", "restricted")
    assert download(served, KOTSA, "accident_risk") == 404
    until = korean_today() + timedelta(days=30)
    asked = ask(
        served,
        KOTSA,
        {
            "model": "accident_risk",
            "purpose": "교통안전 점검 대상 선정",
            "legal_basis": "public_task",
            "until": until.isoformat(),
        },
    )
    assert asked["dataset"] == "model:accident_risk" and asked["model"] == "accident_risk"
    assert asked["state"] == "pending" and asked["waiting_for"] == ["owner"]
    assert asked["policy"] == "owner" and asked["owner_agency"] == KOROAD

    # KoROAD's steward sees it in the inbox and the notice; the requester may not decide it.
    with served.client(KOROAD, Role.steward) as client:
        inbox = client.get(REQUESTS).json()
        assert [r["id"] for r in inbox if r["for_you"]] == [asked["id"]]
    with served.client(KOTSA, Role.steward) as client:
        assert client.post(f"{REQUESTS}/{asked['id']}/approve").status_code == 403
    assert download(served, KOTSA, "accident_risk") == 404
    with served.client(KOROAD, Role.steward) as client:
        done = client.post(f"{REQUESTS}/{asked['id']}/approve", json={"note": "승인"})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "approved"
    grant = next(g for g in served.platform.grants.list() if g.grant_id == done.json()["grant_id"])
    assert (grant.dataset_id, grant.agency, grant.expires) == ("model:accident_risk", KOTSA, until)

    assert download(served, KOTSA, "accident_risk") == 200
    assert download(served, OWNER, "accident_risk") == 404  # the grant is kotsa's
    for agency, role, kind in (
        (KOROAD, Role.steward, "request_received"),
        (KOTSA, Role.analyst, "request_approved"),
    ):
        reader = Principal(subject="reader", agency=agency, role=role, via="api_key")
        noticed = served.platform.notices.for_principal(reader)
        assert any(n.request_id == asked["id"] and n.kind == kind for n in noticed)

    # The day after the approved last day, the grant no longer opens the model.
    after: date = until + timedelta(days=1)
    monkeypatch.setattr(grants_module, "korean_today", lambda: after)
    monkeypatch.setattr(requests_module, "korean_today", lambda: after)
    assert download(served, KOTSA, "accident_risk") == 404
    with served.client(KOTSA) as client:
        assert client.get(f"{REQUESTS}/{asked['id']}").json()["state"] == "approved"
        listed = client.get(REQUESTS).json()  # listing sweeps: the request has expired
    assert next(r for r in listed if r["id"] == asked["id"])["state"] == "expired"
    assert downloads(served, "accident_risk") == [
        (OWNER, "denied"),
        (KOTSA, "denied"),
        (KOTSA, "denied"),
        (KOTSA, "denied"),
        (KOTSA, "ok"),
        (KOTSA, "opened"),
    ]
    audited = served.platform.audit.records(dataset_ids=["model:accident_risk"], limit=1000)
    steps = [r.statement for r in audited if r.kind == "access"]
    assert any(" request: model:accident_risk for kotsa" in s for s in steps)
    assert any(" approve: model:accident_risk for kotsa" in s for s in steps)
    assert served.platform.audit.verify().ok


def test_model_requests_are_refused_as_they_should_be(served: World) -> None:
    register(served, "open_to_sector", "sector")
    register(served, "koroad_private", "private")
    register(served, "whole_model", "restricted")
    body = {"purpose": "분석", "legal_basis": "public_task"}
    with served.client(KOTSA) as client:
        # kotsa is in the transport sector: a sector model is open to it already.
        assert client.post(REQUESTS, json=body | {"model": "open_to_sector"}).status_code == 409
        hidden = client.post(REQUESTS, json=body | {"model": "koroad_private"})
        unknown = client.post(REQUESTS, json=body | {"model": "no_such_model"})
        assert hidden.status_code == unknown.status_code == 404
        both = client.post(REQUESTS, json=body | {"model": "x", "dataset": "cases_sector"})
        assert both.status_code == 422
        columns = body | {"model": "whole_model", "columns": ["a"]}
        assert client.post(REQUESTS, json=columns).status_code == 400  # granted whole
    with served.client(KOROAD) as client:
        own = client.post(REQUESTS, json=body | {"model": "open_to_sector"})
        assert own.status_code == 409


def test_owner_and_secretariat_routes_a_model_request_to_both(served: World) -> None:
    register(
        served,
        "joint_model",
        "restricted",
        sector="welfare_safety",
        approval={"policy": "owner_and_secretariat", "maxDays": 90},
    )
    body = {"model": "joint_model", "purpose": "분석", "legal_basis": "public_task"}
    asked = ask(served, KOTSA, body)
    assert asked["waiting_for"] == ["owner", "secretariat"]
    assert date.fromisoformat(asked["until"]) == korean_today() + timedelta(days=90)
    with served.client(KOROAD, Role.steward) as client:
        first = client.post(f"{REQUESTS}/{asked['id']}/approve").json()
    assert first["state"] == "pending" and first["waiting_for"] == ["secretariat"]
    assert download(served, KOTSA, "joint_model") == 404
    with served.client("nhis", Role.secretariat) as client:  # welfare's secretariat
        assert client.post(f"{REQUESTS}/{asked['id']}/approve").json()["state"] == "approved"
    assert download(served, KOTSA, "joint_model") == 200
    with served.client("nhis", Role.secretariat) as client:
        board = client.get("/api/v1/joint-use").json()
    assert any("model:joint_model" in u["datasets"] for u in board["uses"])


def test_the_model_page_asks_for_it_and_the_owner_then_decides(served: World) -> None:
    from tests.api.web_session import form_token, parse, sign_in

    register(served, "road_risk_web", "restricted")
    client = sign_in(served.url, served.keys[(KOTSA, Role.analyst)])
    try:
        shown = client.get("/models/road_risk_web")
        assert shown.status_code == 200
        assert parse(shown.text).find(".//form[@id='ask']") is not None
        token = form_token(shown.text, "ask")
        form = {"csrf_token": token, "purpose": "", "legal_basis": "public_task", "until": ""}
        refused = client.post("/models/road_risk_web/request", data=form)
        assert refused.status_code == 400 and "request-error" in refused.text  # no purpose
        form["purpose"] = "사업용 차량 점검 우선순위 (inspection priorities)"
        made = client.post("/models/road_risk_web/request", data=form, follow_redirects=False)
        assert made.status_code == 303 and made.headers["location"].startswith("/requests/")
        forged = client.post(
            "/models/road_risk_web/request", data=form | {"csrf_token": "x"}, follow_redirects=False
        )
        assert forged.status_code == 403
    finally:
        client.close()
    waiting = [
        r
        for r in served.platform.requests.all()
        if r.dataset_id == "model:road_risk_web" and r.requester_agency == KOTSA
    ]
    assert [r.state.value for r in waiting] == ["pending"]
    assert waiting[0].purpose.startswith("사업용 차량")
    # Its owner's own agency may already download it: no form for them.
    owner = sign_in(served.url, served.keys[(KOROAD, Role.analyst)])
    own = owner.get("/models/road_risk_web")
    owner.close()
    assert own.status_code == 200 and parse(own.text).find(".//form[@id='ask']") is None
