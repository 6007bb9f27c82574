"""`/api/v1/audit` over HTTP on loopback: operators see and export everything, a steward sees
who read their agency's data, other roles are refused; reading the log is itself audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from api.app import create_app
from catalog.access.audit import AuditKind, verify_chain
from catalog.access.principal import Principal, Role
from gongyu.platform import Platform
from tests.api.world import serve

KNPA_DATA = "police_drunk_driving_detections"  # knpa's
KOTSA_DATA = "kotsa_car_inspection_centers"  # kotsa's
READER = Principal(subject="reader", agency="koroad", role=Role.analyst, via="token")


@dataclass
class Served:
    platform: Platform
    url: str
    keys: dict[tuple[str, Role], str]

    def get(self, caller: str, role: Role, path: str, **params: str) -> httpx.Response:
        headers = {"X-API-Key": self.keys[(caller, role)]}
        return httpx.get(f"{self.url}{path}", headers=headers, params=params, timeout=30)


@pytest.fixture
def served(platform: Platform) -> Iterator[Served]:
    for statement, datasets in [
        ("SELECT * FROM welfare_safety.police_drunk_driving_detections", [KNPA_DATA]),
        ("SELECT * FROM transport_logistics.kotsa_car_inspection_centers", [KOTSA_DATA]),
        ("SELECT 1 FROM both", [KNPA_DATA, KOTSA_DATA]),
        ("SELECT 42", []),
    ]:
        platform.audit.append(READER, AuditKind.sql, statement, datasets=datasets, rows=1)
    keys = {
        (agency, role): platform.keys.create(agency, role)[1]
        for agency in ("knpa", "kotsa")
        for role in Role
    }
    with serve(create_app(platform)) as url:
        yield Served(platform, url, keys)


def seqs(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [r["seq"] for r in response.json()["records"]]


def test_operator_sees_every_record(served: Served) -> None:
    assert seqs(served.get("kotsa", Role.operator, "/api/v1/audit")) == [4, 3, 2, 1]
    # Its own read was recorded, and shows up next time.
    assert seqs(served.get("knpa", Role.operator, "/api/v1/audit", limit="2")) == [5, 4]
    filtered = served.get("knpa", Role.operator, "/api/v1/audit", dataset=KOTSA_DATA)
    assert seqs(filtered) == [3, 2]
    assert seqs(served.get("knpa", Role.operator, "/api/v1/audit", agency="nhis")) == []


def test_steward_sees_who_read_their_data(served: Served) -> None:
    response = served.get("knpa", Role.steward, "/api/v1/audit")
    assert seqs(response) == [3, 1]
    first = response.json()["records"][-1]
    assert (first["subject"], first["agency"], first["datasets"]) == (
        "reader",
        "koroad",
        [KNPA_DATA],
    )
    assert seqs(served.get("kotsa", Role.steward, "/api/v1/audit")) == [3, 2]
    # Another agency's dataset stays out of reach, filter or not.
    other = served.get("kotsa", Role.steward, "/api/v1/audit", dataset=KNPA_DATA)
    assert seqs(other) == []


def test_a_steward_sees_nothing_of_other_agencies_datasets(served: Served) -> None:
    records = {
        r["seq"]: r for r in served.get("knpa", Role.steward, "/api/v1/audit").json()["records"]
    }
    own, shared = records[1], records[3]
    # The request that read kotsa's data too: knpa's dataset only, no statement, and why.
    assert shared["datasets"] == [KNPA_DATA]
    assert (shared["statement"], shared["error"], shared["hash"]) == (None, None, None)
    assert own["statement"].endswith("police_drunk_driving_detections") and own["hash"]
    assert own["withheld"] is None
    assert "다른 기관의 데이터셋" in shared["withheld"]
    assert "other agencies' datasets" in shared["withheld"]
    assert (shared["subject"], shared["agency"], shared["rows"]) == ("reader", "koroad", 1)
    # Operators still see the whole record.
    whole = served.get("knpa", Role.operator, "/api/v1/audit", dataset=KOTSA_DATA)
    both = next(r for r in whole.json()["records"] if r["seq"] == 3)
    assert both["statement"] == "SELECT 1 FROM both" and both["withheld"] is None
    assert both["datasets"] == sorted([KNPA_DATA, KOTSA_DATA]) and both["hash"]


@pytest.mark.parametrize("role", [Role.analyst, Role.secretariat])
def test_other_roles_are_refused_and_recorded(served: Served, role: Role) -> None:
    for path in ("/api/v1/audit", "/api/v1/audit/export"):
        assert served.get("knpa", role, path).status_code == 403
    assert served.get("knpa", Role.steward, "/api/v1/audit/export").status_code == 403
    denied = served.platform.audit.records(limit=3)
    assert [(r.kind, r.outcome, r.role) for r in denied] == [
        ("audit", "denied", "steward"),
        ("audit", "denied", role.value),
        ("audit", "denied", role.value),
    ]
    assert denied[2].statement == "GET /api/v1/audit"


def test_no_credentials_get_401(served: Served) -> None:
    for path in ("/api/v1/audit", "/api/v1/audit/export"):
        response = httpx.get(f"{served.url}{path}", timeout=30)
        assert response.status_code == 401
        assert response.json() == {"detail": "invalid"}


def test_operator_exports_a_verifiable_log(served: Served) -> None:
    key = served.keys[("kotsa", Role.operator)]
    with httpx.stream(
        "GET", f"{served.url}/api/v1/audit/export", headers={"X-API-Key": key}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = list(response.iter_lines())
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert verify_chain(records).ok
    # The export recorded itself once it ended: rows and bytes sent.
    last = served.platform.audit.records(limit=1)[0]
    assert (last.seq, last.kind, last.outcome, last.rows) == (5, "audit", "ok", 4)
    assert last.bytes_out == sum(len(line.encode()) + 1 for line in lines)
    assert served.platform.audit.verify().ok
