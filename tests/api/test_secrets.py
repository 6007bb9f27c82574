"""Secrets stay secret and guessing is slow, over HTTP on loopback.

No API key (nor its secret part) appears in logs, error responses or anywhere in the workspace
(warehouse, catalog database); every cookie is HttpOnly with SameSite; and after
`GONGYU_AUTH_FAILURES_PER_MINUTE` failed authentications from one client address its further
failures get 429 with `Retry-After` (same body as a 401, no detail), while valid keys and other
addresses sign in as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog.access.principal import Role
from tests.api.web_session import form_token
from tests.api.world import OTHER_SECTOR, OWNER, World, world

LIMIT = 5


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("secrets"), auth_failures_per_minute=LIMIT) as w:
        yield w


def client(w: World, source: str, **headers: str) -> httpx.Client:
    """A client whose requests come from `source` (any 127/8 address reaches loopback)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=w.url, headers=headers, transport=transport, timeout=30)


def test_auth_failures_are_rate_limited_per_address(served: World) -> None:
    good = served.keys[(OWNER, Role.analyst)]
    wrong = {"Authorization": "Bearer gyk_0000000000000003_" + "A" * 43}
    with client(served, "127.0.0.3") as c:
        for _ in range(LIMIT):
            r = c.get("/api/v1/catalog/datasets", headers=wrong)
            assert r.status_code == 401 and r.json() == {"detail": "invalid"}
        for headers in (wrong, {"X-API-Key": "gyk_nothing_here"}):
            r = c.get("/api/v1/catalog/datasets", headers=headers)
            assert r.status_code == 429, r.text
            assert r.json() == {"detail": "invalid"}
            assert 1 <= int(r.headers["Retry-After"]) <= 60
        r = c.post("/api/v1/sql", json={"sql": "SELECT 1"}, headers={"X-API-Key": "gyk_x"})
        assert r.status_code == 429
        # the sign-in form is limited too
        token = form_token(c.get("/signin").text, "signin")
        r = c.post("/signin", data={"credential": "gyk_x", "csrf_token": token, "next": "/"})
        assert r.status_code == 429 and "Retry-After" in r.headers
        assert c.get("/api/3/action/package_list", headers={"X-API-Key": "x"}).status_code == 429
        # only failures are refused: a valid key is accepted from the same address
        ok = c.get("/api/v1/catalog/datasets", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200
    # another address is unaffected for its own failures
    with client(served, "127.0.0.4") as other:
        bad = other.get("/api/v1/catalog/datasets", headers={"X-API-Key": "gyk_nothing_here"})
        assert bad.status_code == 401
        # anonymous pages never count as a failure
        assert other.get("/signin").status_code == 200


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):
            return  # the test's own client, not the server
        self.lines.append(self.format(record))


def test_no_key_in_logs_errors_or_lakehouse(served: World) -> None:
    _, key = served.platform.keys.create(OTHER_SECTOR, Role.analyst, "secrets-test")
    secret = key.split("_", 2)[2]
    tampered = key[:-6] + ("zzzzzz" if not key.endswith("zzzzzz") else "yyyyyy")
    captured = Captured()
    captured.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(captured)
    root.setLevel(logging.DEBUG)
    seen: list[str] = []
    try:
        with client(served, "127.0.0.5") as c:
            for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
                for method, path, body in (
                    ("POST", "/api/v1/sql", {"sql": "SELECT * FROM nowhere.at_all"}),
                    ("POST", "/api/v1/sql", {"sql": "SELECT * FROM welfare_safety.cases_private"}),
                    ("POST", "/api/v1/sql", {"sql": "COPY x TO '/tmp/x'"}),
                    ("POST", "/api/v1/sql", {"nope": 1}),
                    ("GET", "/api/v1/catalog/datasets/nowhere", None),
                    ("GET", "/no/such/page", None),
                    ("POST", "/v1/statement", None),
                ):
                    r = c.request(method, path, json=body, headers=headers)
                    assert r.status_code >= 400 or "error" in r.json()
                    seen.append(r.text + str(r.headers))
            r = c.get("/api/v1/catalog/datasets", headers={"Authorization": f"Bearer {tampered}"})
            assert r.status_code == 401
            seen.append(r.text + str(r.headers))
            token = form_token(c.get("/signin").text, "signin")
            r = c.post("/signin", data={"credential": tampered, "csrf_token": token, "next": "/"})
            seen.append(r.text + str(r.headers))
            assert tampered not in r.text  # the form does not echo the credential back
    finally:
        root.removeHandler(captured)
        root.setLevel(old_level)
    for text in (*seen, *captured.lines):
        for needle in (key, secret, tampered, tampered.split("_", 2)[2]):
            assert needle not in text, text[:300]
    home = served.platform.settings.home
    assert isinstance(home, Path)
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data, path
            assert key.encode() not in data, path


def test_every_cookie_is_httponly_and_samesite(served: World) -> None:
    with client(served, "127.0.0.6") as c:
        cookies = c.get("/signin").headers.get_list("set-cookie")
        token = form_token(c.get("/signin").text, "signin")
        good = served.keys[(OWNER, Role.analyst)]
        r = c.post("/signin", data={"credential": good, "csrf_token": token, "next": "/"})
        assert r.status_code == 303
        cookies += r.headers.get_list("set-cookie")
    assert cookies
    for cookie in cookies:
        attributes = cookie.lower()
        assert "httponly" in attributes and "samesite=" in attributes, cookie
