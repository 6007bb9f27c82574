"""Scoped tokens: each may do only what its scopes name, over the API and the pages alike, and
every route that changes something has a decided scope (`api.scopes`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.scopes import CHANGING
from catalog.access.principal import Role, Scope
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import form_token, sign_in
from tests.api.world import OWNER, World, table, world

# The changing routes that need `deliver` (the default): listed here so that a new route makes
# this test fail until someone decides what it needs.
DELIVER = {
    ("POST", "/api/v1/datasets/{dataset}/deliveries"),
    ("POST", "/api/v1/contracts/drafts"),
    ("POST", "/api/v1/contracts/drafts/product"),
    ("POST", "/api/v1/contracts/preview"),
    ("POST", "/api/v1/contracts"),
    ("POST", "/api/v1/contracts/{dataset}/versions/{version}/submit"),
    ("POST", "/api/v1/projects"),
    ("PUT", "/api/v1/projects/{project_id}"),
    ("POST", "/api/v1/models"),
    ("POST", "/steward/upload"),
    ("POST", "/contracts/new"),
    ("POST", "/contracts/new/product"),
    ("POST", "/contracts/edit"),
    ("POST", "/contracts/{dataset}/versions/{version}/submit"),
    ("POST", "/projects/new"),
    ("POST", "/projects/{project_id}/edit"),
}
# Open before sign-in: no credential to scope.
UNAUTHENTICATED = {("POST", "/signin"), ("POST", "/signin/password"), ("POST", "/signin/code")}


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "effective_candidates"):  # an included router
            yield from _routes(route.effective_candidates())
        else:
            yield route


def test_every_changing_route_has_a_decided_scope(tmp_path: Path) -> None:
    app = create_app(Platform(Settings(home=tmp_path)))
    changing = {
        (method, route.path_format)
        for route in _routes(app.routes)
        for method in (getattr(route, "methods", None) or set()) - {"GET", "HEAD"}
        if getattr(route, "path_format", None)
    }
    undecided = changing - set(CHANGING) - DELIVER - UNAUTHENTICATED
    assert not undecided, f"decide each route's scope in api/scopes.py: {sorted(undecided)}"
    assert not set(CHANGING) - changing, "api/scopes.py names a route the app does not have"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("scopes")) as w:
        yield w


def _token(w: World, agency: str, role: Role, scopes: set[Scope]) -> str:
    person = w.platform.people.create(agency, f"{agency} {role.value}", [role])
    expires = datetime.now(UTC) + timedelta(days=1)
    return w.platform.keys.create(
        agency, role, "scoped", person_id=person.person_id, scopes=scopes, expires_at=expires
    )[1]


def _client(w: World, token: str) -> httpx.Client:
    return httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_a_read_only_token_reads_and_changes_nothing(served: World) -> None:
    token = _token(served, OWNER, Role.steward, {Scope.read})
    with _client(served, token) as c:
        assert (
            c.post(
                "/api/v1/sql", json={"sql": f"SELECT count(*) FROM {table('public')}"}
            ).status_code
            == 200
        )
        assert c.get("/api/v1/catalog/datasets").status_code == 200
        upload = c.post(
            "/api/v1/datasets/cases_public/deliveries",
            files={"file": ("x.csv", b"person,sido,n,amount\n")},
        )
        assert upload.status_code == 403
        assert "deliver" in upload.json()["detail"]
        decision = c.post("/api/v1/access-requests/nope/approve", json={})
        assert decision.status_code == 403
        assert "decide" in decision.json()["detail"]


def test_a_decide_only_token_cannot_query(served: World) -> None:
    token = _token(served, OWNER, Role.steward, {Scope.decide})
    with _client(served, token) as c:
        assert c.post("/api/v1/sql", json={"sql": "SELECT 1"}).status_code == 403
        assert c.get("/api/v1/catalog/datasets").status_code == 403
        # The scope lets it through to the decision itself: an unknown request is 404.
        assert c.post("/api/v1/access-requests/nope/approve", json={}).status_code == 404


def test_an_unscoped_and_an_expired_token(served: World) -> None:
    person = served.platform.people.create(OWNER, "knpa analyst", [Role.analyst])
    _, unscoped = served.platform.keys.create(OWNER, Role.analyst, person_id=person.person_id)
    past = datetime.now(UTC) - timedelta(seconds=1)
    _, expired = served.platform.keys.create(
        OWNER, Role.analyst, person_id=person.person_id, expires_at=past
    )
    with _client(served, unscoped) as c:
        assert c.post("/api/v1/sql", json={"sql": "SELECT 1"}).status_code == 200
    with _client(served, expired) as c:
        assert c.post("/api/v1/sql", json={"sql": "SELECT 1"}).status_code == 401


def test_a_session_from_a_read_only_token_cannot_post_a_change(served: World) -> None:
    token = _token(served, OWNER, Role.steward, {Scope.read})
    with closing(sign_in(served.url, token)) as browser:
        page = browser.get("/steward")
        assert page.status_code == 200
        csrf = form_token(page.text, "upload")
        refused = browser.post(
            "/steward/upload",
            data={"csrf_token": csrf, "dataset": "cases_public"},
            files={"file": ("x.csv", b"person,sido,n,amount\n")},
        )
        assert refused.status_code == 403
        assert "권한 범위" in refused.text


def test_the_audit_names_the_person_behind_a_token(served: World) -> None:
    person = served.platform.people.create(OWNER, "김감사", [Role.analyst])
    key, token = served.platform.keys.create(OWNER, Role.analyst, person_id=person.person_id)
    with _client(served, token) as c:
        assert (
            c.post(
                "/api/v1/sql", json={"sql": f"SELECT count(*) FROM {table('public')}"}
            ).status_code
            == 200
        )
    records = served.platform.audit.records(person=person.person_id)
    assert records and all(r.subject == key.key_id for r in records)
    assert {r.kind for r in records} == {"sql"}
    assert served.platform.audit.verify().ok
