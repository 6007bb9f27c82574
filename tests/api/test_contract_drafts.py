"""`POST /api/v1/contracts/drafts` over HTTP on loopback: a steward of the agency (or an operator)
gets a draft contract for a sample file; anyone else 403, a bad file 422, each request audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.access.principal import Role
from contracts.loader import parse_contract
from contracts.model import Classification
from tests.api.world import OTHER_SECTOR, OWNER, World, world
from tests.conftest import data_file

POLICE = "welfare_safety/police_drunk_driving_detections_202207.csv"
LIMIT = 2 * 1024**2  # bytes: the police sample (0.9 MB) fits, the KOTRA file (3.2 MB) does not
URL = "/api/v1/contracts/drafts"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("drafts"), max_delivery_bytes=LIMIT) as w:
        yield w


def post(served: World, agency: str, role: Role, path: Path, **form: str) -> httpx.Response:
    fields = {"agency": OWNER, "dataset": "drunk_driving", **form}
    with served.client(agency, role) as client, path.open("rb") as f:
        return client.post(URL, data=fields, files={"file": (path.name, f, "text/csv")})


def audited(served: World, agency: str, outcome: str) -> list[Any]:
    """The draft route's audit records of that outcome, once written (after the answer)."""
    deadline = time.monotonic() + 5
    while True:
        found = [
            r
            for r in served.platform.audit.records(agency=agency, limit=50)
            if r.statement.startswith(f"POST {URL}") and r.outcome == outcome
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_a_steward_drafts_for_their_agency(served: World) -> None:
    answer = post(served, OWNER, Role.steward, data_file(POLICE), cadence="month")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/yaml")
    draft = parse_contract(answer.content.decode("utf-8"), Path("draft.yaml"))
    assert (draft.id, draft.agency, draft.sector) == ("drunk_driving", OWNER, "welfare_safety")
    assert draft.column("age").classification == Classification.quasi_identifier
    assert draft.sla.frequency is not None
    mine = audited(served, OWNER, "ok")
    what = f"draft {OWNER}/drunk_driving from {Path(POLICE).name}"
    assert mine and mine[0].statement.endswith(what)


def test_an_operator_may_draft_for_any_agency(served: World) -> None:
    answer = post(served, OTHER_SECTOR, Role.operator, data_file(POLICE), sector="welfare_safety")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("agency", "role"),
    [(OWNER, Role.analyst), (OWNER, Role.secretariat), (OTHER_SECTOR, Role.steward)],
)
def test_anyone_else_is_refused(served: World, agency: str, role: Role) -> None:
    answer = post(served, agency, role, data_file(POLICE))
    assert answer.status_code == 403
    assert OWNER in answer.json()["detail"] or "stewards" in answer.json()["detail"]
    assert audited(served, agency, "denied")


def test_a_bad_file_or_field_is_422_with_a_reason(served: World, tmp_path: Path) -> None:
    junk = tmp_path / "scan.csv"
    junk.write_bytes(b"\x00\x01\x02binary" * 40)
    answer = post(served, OWNER, Role.steward, junk)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("scan.csv")
    bad_id = post(served, OWNER, Role.steward, data_file(POLICE), dataset="Drunk Driving")
    assert bad_id.status_code == 422 and "snake_case" in bad_id.json()["detail"]
    with served.client(OWNER, Role.steward) as client:
        no_file = client.post(URL, data={"agency": OWNER, "dataset": "x"}, files={"x": b""})
    assert no_file.status_code == 422 and "file" in no_file.json()["detail"]


def test_a_file_over_the_delivery_limit_is_413(served: World) -> None:
    big = data_file("industry_sme/kotra_overseas_korean_companies.csv")
    answer = post(served, OWNER, Role.steward, big)
    assert answer.status_code == 413


def test_no_credentials_is_401(served: World) -> None:
    answer = httpx.post(served.url + URL, data={"agency": OWNER, "dataset": "x"})
    assert (answer.status_code, answer.json()) == (401, {"detail": "invalid"})
