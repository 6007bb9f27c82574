"""Joint use end to end over HTTP, with real keys, in every routing mode: a request, its
decision, the grant that enforces it on the SQL API and downloads, revocation and expiry, and
every step in the verified audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import update

from catalog.access.audit import AuditKind
from catalog.access.grants import korean_today
from catalog.access.principal import Role
from catalog.db import grants
from tests import smtp as smtp_server
from tests.api.world import OTHER_SECTOR, OWNER, SAME_SECTOR, World, contract_doc, table, world

DATASET = "cases_restricted"
SECRETARIAT = SAME_SECTOR  # nhis is the welfare sector's secretariat


@pytest.fixture
def served(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as w:
        yield w


def set_policy(w: World, policy: str, max_days: int = 90) -> None:
    """Give the restricted test dataset an approval policy (the server reloads its contract)."""
    doc = contract_doc("restricted")
    doc["version"] = "1.1.0"
    doc["customProperties"].append(
        {"property": "approval", "value": {"policy": policy, "maxDays": max_days}}
    )
    path = w.platform.settings.contracts_dir / "welfare_safety" / OWNER / f"{DATASET}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def call(
    w: World, agency: str, role: Role, method: str, path: str, body: Any = None
) -> httpx.Response:
    with w.client(agency, role) as c:
        return c.request(method, path, json=body)


def ask(w: World, agency: str, **extra: Any) -> httpx.Response:
    body = {
        "dataset": DATASET,
        "purpose": "교통안전 정책 연구 (traffic-safety research)",
        "legal_basis": "pseudonymised_research",
        "columns": ["amount"],
        "row_filter": "sido = '서울'",
        "until": str(korean_today() + timedelta(days=30)),
        **extra,
    }
    return call(w, agency, Role.analyst, "POST", "/api/v1/access-requests", body)


def reads(w: World, agency: str) -> httpx.Response:
    return w.sql(agency, f"SELECT sido, amount FROM {table('restricted')} ORDER BY n")


def downloads(w: World, agency: str) -> httpx.Response:
    with w.client(agency) as c:
        return c.get(f"/api/v1/datasets/{DATASET}/download")


def access_records(w: World, request_id: str) -> list[str]:
    records = sorted(w.platform.audit.records(limit=10_000), key=lambda r: r.seq)
    return [
        r.statement for r in records if r.kind == AuditKind.access and request_id in r.statement
    ]


def test_owner_decides_and_the_grant_enforces_exactly_what_was_approved(served: World) -> None:
    w = served
    asked = ask(w, OTHER_SECTOR)
    assert asked.status_code == 201, asked.text
    made = asked.json()
    assert (made["state"], made["waiting_for"]) == ("pending", ["owner"])
    assert reads(w, OTHER_SECTOR).status_code == 400
    assert downloads(w, OTHER_SECTOR).status_code == 404

    # The wrong people cannot decide: the requester's own steward, another agency, an analyst.
    path = f"/api/v1/access-requests/{made['id']}/approve"
    own = call(w, OTHER_SECTOR, Role.steward, "POST", path)
    assert own.status_code == 403 and "own agency" in own.json()["detail"]
    analyst = call(w, OWNER, Role.analyst, "POST", path)
    assert analyst.status_code == 403 and "waits for a steward of knpa" in analyst.json()["detail"]
    # An agency that is no party to it does not even see it.
    assert call(w, SECRETARIAT, Role.steward, "POST", path).status_code == 404

    inbox = call(w, OWNER, Role.steward, "GET", "/api/v1/access-requests").json()
    assert [(r["id"], r["for_you"]) for r in inbox][:1] == [(made["id"], True)]

    # The owner narrows the period before approving.
    until = korean_today() + timedelta(days=7)
    approved = call(w, OWNER, Role.steward, "POST", path, {"until": str(until), "note": "ok"})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["state"], body["until"], body["grant_id"] is not None) == (
        "approved",
        str(until),
        True,
    )
    [grant] = w.platform.grants.list(dataset_id=DATASET, agency=OTHER_SECTOR)
    assert (grant.expires, grant.columns, grant.row_filter) == (until, ("amount",), "sido = '서울'")
    answer = reads(w, OTHER_SECTOR)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert rows and {sido for sido, _ in rows} == {"서울"}
    assert all(amount is not None for _, amount in rows)
    assert downloads(w, OTHER_SECTOR).status_code == 200
    assert call(w, OWNER, Role.steward, "POST", path).status_code == 409  # decided already

    revoke = f"/api/v1/access-requests/{made['id']}/revoke"
    assert call(w, OTHER_SECTOR, Role.steward, "POST", revoke, {"reason": "x"}).status_code == 403
    revoked = call(w, OWNER, Role.steward, "POST", revoke, {"reason": "연구 종료 (study ended)"})
    assert revoked.json()["state"] == "revoked"
    assert reads(w, OTHER_SECTOR).status_code == 400
    assert downloads(w, OTHER_SECTOR).status_code == 404

    steps = access_records(w, made["id"])
    assert [s.split(":", 1)[0].split()[-1] for s in steps] == ["request", "approve", "revoke"]
    assert w.platform.audit.verify().ok


def test_owner_and_secretariat_both_approve_and_a_denial_carries_its_reason(
    served: World,
) -> None:
    w = served
    set_policy(w, "owner_and_secretariat")
    made = ask(w, OTHER_SECTOR).json()
    assert made["waiting_for"] == ["owner", "secretariat"]
    approve = f"/api/v1/access-requests/{made['id']}/approve"
    first = call(w, OWNER, Role.steward, "POST", approve)
    assert first.json()["state"] == "pending" and first.json()["waiting_for"] == ["secretariat"]
    assert reads(w, OTHER_SECTOR).status_code == 400  # one approval is not enough
    assert call(w, OWNER, Role.steward, "POST", approve).status_code == 403
    second = call(w, SECRETARIAT, Role.secretariat, "POST", approve, {"columns": ["amount"]})
    assert second.json()["state"] == "approved", second.text
    assert reads(w, OTHER_SECTOR).status_code == 200

    # The secretariat's own agency asks: an operator decides in the secretariat's stead.
    own = ask(w, SECRETARIAT).json()
    own_path = f"/api/v1/access-requests/{own['id']}"
    assert call(w, SECRETARIAT, Role.secretariat, "POST", own_path + "/approve").status_code == 403
    call(w, OWNER, Role.steward, "POST", own_path + "/approve")
    denied = call(
        w, OWNER, Role.operator, "POST", own_path + "/deny", {"reason": "목적이 불분명합니다"}
    )
    assert (denied.json()["state"], denied.json()["reason"]) == ("denied", "목적이 불분명합니다")
    deny = own_path + "/deny"
    assert call(w, OWNER, Role.steward, "POST", deny, {"reason": "x"}).status_code == 409
    assert call(w, OWNER, Role.steward, "POST", deny, {"reason": ""}).status_code == 422
    mine = call(w, SECRETARIAT, Role.analyst, "GET", own_path).json()
    assert mine["reason"] == "목적이 불분명합니다"
    assert w.platform.audit.verify().ok


def test_automatic_approves_sector_members_only_and_expiry_closes_the_grant(
    served: World,
) -> None:
    w = served
    set_policy(w, "automatic", max_days=30)
    member = ask(w, SAME_SECTOR)
    assert member.status_code == 201 and member.json()["state"] == "approved", member.text
    assert reads(w, SAME_SECTOR).status_code == 200
    outsider = ask(w, OTHER_SECTOR).json()
    assert (outsider["state"], outsider["waiting_for"]) == ("pending", ["owner"])
    too_long = ask(w, "hira", until=str(korean_today() + timedelta(days=31)))
    assert too_long.status_code == 400 and "30 days" in too_long.json()["detail"]
    again = ask(w, OTHER_SECTOR)
    assert again.status_code == 409  # one pending request per agency and dataset

    # Time passes: the grant's last day is behind us.
    with w.platform.engine.begin() as conn:
        conn.execute(
            update(grants)
            .where(grants.c.grant_id == member.json()["grant_id"])
            .values(expires=korean_today() - timedelta(days=1))
        )
    assert reads(w, SAME_SECTOR).status_code == 400
    # Listing sweeps: the request is marked expired, once, on the record.
    call(w, SAME_SECTOR, Role.analyst, "GET", "/api/v1/access-requests")
    call(w, SAME_SECTOR, Role.analyst, "GET", "/api/v1/access-requests")
    request_id = member.json()["id"]
    one = call(w, SAME_SECTOR, Role.analyst, "GET", f"/api/v1/access-requests/{request_id}")
    assert one.json()["state"] == "expired"
    assert [s.split(":", 1)[0].split()[-1] for s in access_records(w, request_id)] == [
        "request",
        "approve",
        "expire",
    ]
    assert w.platform.audit.verify().ok


def test_what_cannot_be_asked(served: World) -> None:
    w = served
    assert ask(w, OTHER_SECTOR, dataset="cases_private").status_code == 404
    assert ask(w, OTHER_SECTOR, dataset="no_such_dataset").status_code == 404
    assert ask(w, OWNER).status_code == 409  # its own data
    assert ask(w, OTHER_SECTOR, columns=["nope"]).status_code == 400
    assert ask(w, OTHER_SECTOR, row_filter="person = 'x' or").status_code == 400
    assert ask(w, OTHER_SECTOR, legal_basis="statute").status_code == 400  # which statute?
    operator = call(
        w, OTHER_SECTOR, Role.operator, "POST", "/api/v1/access-requests", {"dataset": DATASET}
    )
    assert operator.status_code == 422  # no purpose: refused before anything else
    made = ask(w, OTHER_SECTOR).json()
    stranger = call(w, "hira", Role.analyst, "GET", f"/api/v1/access-requests/{made['id']}")
    assert stranger.status_code == 404
    withdraw = f"/api/v1/access-requests/{made['id']}/withdraw"
    assert call(w, OWNER, Role.steward, "POST", withdraw).status_code == 403
    assert call(w, OTHER_SECTOR, Role.steward, "POST", withdraw).json()["state"] == "withdrawn"
    assert call(w, OTHER_SECTOR, Role.analyst, "POST", withdraw).status_code == 409


def test_the_board_shows_each_viewer_its_share(served: World) -> None:
    w = served
    made = ask(w, OTHER_SECTOR).json()
    call(w, OWNER, Role.steward, "POST", f"/api/v1/access-requests/{made['id']}/approve")
    assert reads(w, OTHER_SECTOR).status_code == 200
    full = call(w, SECRETARIAT, Role.secretariat, "GET", "/api/v1/joint-use").json()
    assert full["scope"] == "sector:welfare_safety" and not full["counts_only"]
    [use] = [u for u in full["uses"] if u["user_agency"] == OTHER_SECTOR]
    assert (use["owner_agency"], use["grants"], use["queries"], use["datasets"]) == (
        OWNER,
        1,
        1,
        [DATASET],
    )
    assert full["decided"] == 1 and full["median_days_to_decision"] is not None
    counts = call(w, "hira", Role.analyst, "GET", "/api/v1/joint-use").json()
    assert counts["counts_only"] and all(u["datasets"] == [] for u in counts["uses"])
    assert counts["waiting"] == [] and counts["denials"] == []
    with w.client(OWNER, Role.operator) as c:
        csv = c.get("/api/v1/joint-use", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert f"{OTHER_SECTOR},{OWNER},1,1," in csv.text


def test_notices_are_mailed_without_data_values(
    tmp_path: Path, smtp: tuple[smtp_server.Inbox, int]
) -> None:
    inbox, port = smtp
    with world(tmp_path, smtp_host="127.0.0.1", smtp_port=port) as w:
        made = ask(w, OTHER_SECTOR).json()
        path = f"/api/v1/access-requests/{made['id']}/approve"
        call(w, OWNER, Role.steward, "POST", path, {"note": "서울 자료만 승인"})
        [(to_owner, asked), (to_requester, approved)] = inbox.messages
    assert to_owner == ["data@police.go.kr"] and to_requester == ["data@kotsa.or.kr"]
    for message in (asked, approved):
        text = smtp_server.text_of(message)
        assert made["id"] in text and DATASET in text
        assert text.index("---") > 0  # Korean first, then English
        # Neither the purpose, the row filter, the note nor any row's values travel by mail.
        for secret in ("교통안전 정책 연구", "서울", "sido", "amount", "1000", "person-"):
            assert secret not in text, secret
    assert "이용 신청" in smtp_server.text_of(asked)


def test_a_grant_opens_a_sector_dataset_beyond_its_sector(served: World) -> None:
    w = served
    sector_only = f"SELECT count(*) FROM {table('sector')}"
    assert w.sql(OTHER_SECTOR, sector_only).status_code == 400
    made = ask(w, OTHER_SECTOR, dataset="cases_sector", columns=None, row_filter=None).json()
    call(w, OWNER, Role.steward, "POST", f"/api/v1/access-requests/{made['id']}/approve")
    answer = w.sql(OTHER_SECTOR, f"SELECT count(*), count(amount) FROM {table('sector')}")
    assert answer.json()["rows"] == [[40, 0]]  # every row; the sensitive column stays masked
