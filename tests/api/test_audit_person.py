"""Every kind of access names the person behind it in the audit log: a page, a SQL query, a Trino
statement, a download and a request's decision, each made by a different person with their own
token, and the chain still verifies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from catalog.access.principal import Role
from catalog.people.people import Person
from tests.api.web_session import form_token, sign_in
from tests.api.world import OTHER_SECTOR, OWNER, World, table, world


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("audit-person")) as w:
        yield w


def token_of(w: World, agency: str, role: Role, name: str) -> tuple[Person, str]:
    """A new person of the agency in the role, and a personal token of theirs."""
    person = w.platform.people.create(agency, name, [role])
    return person, w.platform.keys.create(agency, role, name, person_id=person.person_id)[1]


def persons_kinds(w: World, person: Person) -> set[str]:
    return {r.kind for r in w.platform.audit.records(person=person.person_id, limit=1000)}


def test_each_access_names_its_person(served: World) -> None:
    reader, reader_token = token_of(served, OTHER_SECTOR, Role.analyst, "박분석")
    with closing(sign_in(served.url, reader_token)) as browser:
        assert browser.get("/datasets/cases_public").status_code == 200
        # The console's query runs on the session, with its CSRF token.
        csrf = form_token(browser.get("/console").text, "signout")
        query = browser.post(
            "/api/v1/sql",
            json={"sql": f"SELECT count(*) FROM {table('public')}"},
            headers={"X-CSRF-Token": csrf},
        )
        assert query.status_code == 200, query.text
    assert {"catalog", "sql"} <= persons_kinds(served, reader)

    trino_user, trino_token = token_of(served, OTHER_SECTOR, Role.analyst, "최트리노")
    headers = {
        "Authorization": f"Bearer {trino_token}",
        "X-Trino-User": OTHER_SECTOR,
        "X-Trino-Catalog": "gongyu",
        "X-Trino-Schema": "public",
    }
    with httpx.Client(base_url=served.url, headers=headers, timeout=60) as c:
        body = c.post("/v1/statement", content=f"SELECT count(*) FROM {table('public')}").json()
        while "nextUri" in body:
            body = c.get(body["nextUri"]).json()
        assert "error" not in body, body
    assert "trino" in persons_kinds(served, trino_user)

    downloader, download_token = token_of(served, OTHER_SECTOR, Role.analyst, "정내려")
    auth = {"Authorization": f"Bearer {download_token}"}
    with httpx.Client(base_url=served.url, headers=auth, timeout=60) as c:
        got = c.get("/api/v1/datasets/cases_public/download", params={"format": "csv"})
        assert got.status_code == 200
    assert "download" in persons_kinds(served, downloader)

    asker, asker_token = token_of(served, OTHER_SECTOR, Role.analyst, "한신청")
    steward, steward_token = token_of(served, OWNER, Role.steward, "김관리")
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {asker_token}"}, timeout=60
    ) as c:
        made = c.post(
            "/api/v1/access-requests",
            json={
                "dataset": "cases_restricted",
                "purpose": "사고 분석",
                "legal_basis": "pseudonymised_research",
            },
        )
        assert made.status_code == 201, made.text
    request_id = made.json()["id"]
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {steward_token}"}, timeout=60
    ) as c:
        decided = c.post(f"/api/v1/access-requests/{request_id}/approve", json={})
        assert decided.status_code == 200, decided.text
    assert "access" in persons_kinds(served, asker)
    decisions = served.platform.audit.records(person=steward.person_id, kind="access")
    assert any(request_id in r.statement for r in decisions), decisions

    exported = "".join(served.platform.audit.lines())
    assert f'"person":"{steward.person_id}"' in exported
    assert served.platform.audit.verify().ok
