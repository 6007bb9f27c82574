"""Sign-in, sessions and CSRF over HTTP on loopback: a key or token posted once becomes a
server-side session (HttpOnly cookie, hashed in the catalog), every form and console request
carries the session's CSRF token, sign-out and key revocation end it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import jwt
import pytest
from sqlalchemy import select

from api.app import create_app
from api.auth import SESSION_COOKIE
from catalog.access.principal import Principal, Role
from catalog.access.sessions import Sessions
from catalog.db import sessions
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import form_token, parse, sign_in
from tests.api.world import OTHER_SECTOR, OWNER, World, serve, world

PAGES = (
    "/",
    "/sectors",
    "/sectors/welfare_safety",
    "/agencies/knpa",
    "/datasets/cases_public",
    "/search?q=cases",
    "/console?sql=SELECT%201",
    "/steward",
    "/steward/deliveries/whatever",
)
SECRET = "a-shared-secret-of-at-least-32-characters"
ISSUER = "https://sso.gongyu.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Behind a TLS proxy on 127.0.0.1 (the tests' own address); no other peer is believed.
    with world(tmp_path_factory.mktemp("sessions"), trusted_proxies=["127.0.0.1"]) as w:
        yield w


def page_token(client: httpx.Client, path: str = "/") -> str:
    """The CSRF token a signed-in page carries for its scripts."""
    meta = parse(client.get(path).text).find(".//meta[@name='csrf-token']")
    assert meta is not None
    return meta.attrib["content"]


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of one Set-Cookie header, lower-cased names."""
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    parts = [p.strip() for p in header.split(";")]
    return {p.split("=", 1)[0].lower(): p.split("=", 1)[1] if "=" in p else "" for p in parts}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_stranger_to_sign_in(served: World, path: str) -> None:
    answer = httpx.get(served.url + path)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/signin?next={quote(path, safe='')}"


def test_only_the_sign_in_page_and_static_files_are_open(served: World) -> None:
    assert httpx.get(served.url + "/signin").status_code == 200
    css = httpx.get(served.url + "/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for path in ("/signout", "/steward/upload"):
        answer = httpx.post(served.url + path)
        assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=%2F"


def test_sign_in_makes_a_session_kept_hashed(served: World) -> None:
    key = served.keys[(OWNER, Role.analyst)]
    with httpx.Client(base_url=served.url) as client:
        token = form_token(client.get("/signin").text, "signin")
        answer = client.post(
            "/signin", data={"credential": key, "csrf_token": token, "next": "/search?q=x"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/search?q=x"
        cookie = cookie_attributes(answer, SESSION_COOKIE)
        assert "httponly" in cookie and cookie["samesite"] == "lax" and cookie["path"] == "/"
        assert "secure" not in cookie  # plain HTTP on loopback
        assert 8 * 3600 - 60 < int(cookie["max-age"]) <= 8 * 3600
        session_id = cookie[SESSION_COOKIE]
        with served.platform.keys.engine.connect() as conn:
            stored = conn.execute(select(sessions)).all()
        digests = {row.session_sha256 for row in stored}
        assert hashlib.sha256(session_id.encode()).hexdigest() in digests
        assert all(session_id not in str(tuple(row)) for row in stored)
        assert key not in str(stored)
        page = parse(client.get("/").text)
        assert page.find(".//span[@class='who']").attrib["title"] == key.split("_")[1]


def test_the_cookie_is_secure_over_https(served: World) -> None:
    https = {"X-Forwarded-Proto": "https"}
    # From a peer that is not the trusted proxy, the header is only the caller's claim.
    untrusted = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=served.url, headers=https, transport=untrusted) as client:
        assert "secure" not in cookie_attributes(client.get("/signin"), "gongyu_signin")
    with httpx.Client(base_url=served.url, headers=https) as client:
        form = client.get("/signin")
        assert "secure" in cookie_attributes(form, "gongyu_signin")
        token = form_token(form.text, "signin")
        client.cookies.set("gongyu_signin", form.cookies["gongyu_signin"])
        answer = client.post(
            "/signin", data={"credential": served.keys[(OWNER, Role.analyst)], "csrf_token": token}
        )
        assert answer.status_code == 303
        assert "secure" in cookie_attributes(answer, SESSION_COOKIE)


def test_a_bad_credential_is_refused(served: World) -> None:
    with httpx.Client(base_url=served.url) as client:
        token = form_token(client.get("/signin").text, "signin")
        answer = client.post("/signin", data={"credential": "gyk_nope", "csrf_token": token})
        assert answer.status_code == 401
        assert parse(answer.text).find(".//p[@id='signin-error']") is not None
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_the_sign_in_form_needs_its_own_token(served: World) -> None:
    key = served.keys[(OWNER, Role.analyst)]
    with httpx.Client(base_url=served.url) as client:
        client.get("/signin")
        for data in ({"credential": key}, {"credential": key, "csrf_token": "forged"}):
            answer = client.post("/signin", data=data)
            assert answer.status_code == 403
            assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    with httpx.Client(base_url=served.url) as stranger:  # a token without its cookie
        token = form_token(httpx.get(served.url + "/signin").text, "signin")
        answer = stranger.post("/signin", data={"credential": key, "csrf_token": token})
        assert answer.status_code == 403


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "/\t/evil.example"]
)
def test_sign_in_never_sends_the_browser_elsewhere(served: World, target: str) -> None:
    with httpx.Client(base_url=served.url) as client:
        token = form_token(client.get("/signin").text, "signin")
        data = {"credential": served.keys[(OWNER, Role.analyst)], "csrf_token": token}
        answer = client.post("/signin", data={**data, "next": target})
        assert answer.headers["location"] == "/"


def test_sign_out_needs_the_token_and_ends_the_session(served: World) -> None:
    with closing(sign_in(served.url, served.keys[(OWNER, Role.analyst)])) as client:
        session_id = client.cookies[SESSION_COOKIE]
        refused = client.post("/signout", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert client.get("/").status_code == 200  # still signed in
        answer = client.post(
            "/signout", data={"csrf_token": form_token(client.get("/").text, "signout")}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        assert cookie_attributes(answer, SESSION_COOKIE)["max-age"] == "0"
    # The session is gone from the catalog: the old cookie opens nothing.
    again = httpx.get(served.url + "/", cookies={SESSION_COOKIE: session_id})
    assert again.status_code == 303


def test_a_revoked_key_ends_its_sessions(served: World) -> None:
    key, token = served.platform.keys.create(OWNER, Role.analyst, "revoked soon")
    with closing(sign_in(served.url, token)) as client:
        assert client.get("/").status_code == 200
        served.platform.keys.revoke(key.key_id)
        assert client.get("/").status_code == 303


def test_sessions_expire(served: World) -> None:
    store = Sessions(served.platform.keys.engine, served.platform.registry, timedelta(hours=1))
    principal = Principal(subject="someone", agency=OWNER, role=Role.analyst, via="token")
    session_id, session = store.create(principal, datetime.now(UTC) + timedelta(seconds=1))
    assert store.get(session_id) == session
    time.sleep(1.1)
    assert store.get(session_id) is None
    assert store.get("not a session id") is None


def test_a_token_session_ends_with_the_token(tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / "ws", token_secret=SECRET, token_issuer=ISSUER))
    expires = datetime.now(UTC) + timedelta(minutes=10)
    claims = {
        "sub": "kim@police.go.kr",
        "iss": ISSUER,
        "exp": expires,
        "agency": OWNER,
        "role": "analyst",
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with serve(create_app(platform)) as url, closing(sign_in(url, token)) as client:
        page = parse(client.get("/").text)
        assert page.find(".//span[@class='who']").attrib["title"] == "kim@police.go.kr"
        store = Sessions(platform.keys.engine, platform.registry, timedelta(hours=8))
        session = store.get(client.cookies[SESSION_COOKIE])
        assert session is not None
        assert abs(session.expires_at - expires.replace(microsecond=0)) < timedelta(seconds=1)


def test_the_console_runs_queries_with_the_session_and_its_token(served: World) -> None:
    sql = {"sql": "SELECT sido, amount FROM welfare_safety.cases_sector ORDER BY n LIMIT 3"}
    with closing(sign_in(served.url, served.keys[("nhis", Role.analyst)])) as client:
        token = page_token(client, "/console")
        answer = client.post("/api/v1/sql", json=sql, headers={"X-CSRF-Token": token})
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [["서울", None], ["부산", None], ["대구", None]]
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            refused = client.post("/api/v1/sql", json=sql, headers=headers)
            assert refused.status_code == 403 and refused.json() == {"detail": "csrf"}
        # Reading needs no token: the JSON twins of the pages open with the cookie alone.
        assert client.get("/api/v1/catalog/datasets/cases_public").status_code == 200
        errors = client.post(
            "/api/v1/sql", json={"sql": "SELECT * FROM nowhere"}, headers={"X-CSRF-Token": token}
        )
        assert errors.status_code == 400 and errors.json()["error"]["kind"] == "sql"
    key_id = served.keys[("nhis", Role.analyst)].split("_")[1]
    opened, record = sorted(
        (
            r
            for r in served.platform.audit.records(agency="nhis", limit=50)
            if r.kind == "sql" and r.statement == sql["sql"]
        ),
        key=lambda r: r.seq,
    )
    assert (opened.outcome, record.completes) == ("opened", opened.seq)
    assert record.subject == key_id and record.via == "api_key" and record.outcome == "ok"
    assert httpx.post(served.url + "/api/v1/sql", json=sql).status_code == 401


def test_a_key_in_the_request_wins_over_the_cookie(served: World) -> None:
    with closing(sign_in(served.url, served.keys[(OWNER, Role.analyst)])) as client:
        other = {"Authorization": f"Bearer {served.keys[(OTHER_SECTOR, Role.analyst)]}"}
        private = {"sql": "SELECT count(*) AS n FROM welfare_safety.cases_private"}
        answer = client.post("/api/v1/sql", json=private, headers=other)
        assert answer.status_code == 400  # the key's agency may not read it; no CSRF needed
        mine = client.post(
            "/api/v1/sql", json=private, headers={"X-CSRF-Token": page_token(client)}
        )
        assert mine.json()["rows"] == [[40]]


@pytest.mark.parametrize("exp", ["4000000000", 10**30, 1e30, True, [4_000_000_000]], ids=repr)
def test_a_token_with_a_bad_expiry_is_refused_like_any(tmp_path: Path, exp: object) -> None:
    platform = Platform(Settings(home=tmp_path / "ws", token_secret=SECRET, token_issuer=ISSUER))
    claims = {"sub": "kim@police.go.kr", "iss": ISSUER, "exp": exp, "agency": OWNER}
    token = jwt.encode({**claims, "role": "analyst"}, SECRET, algorithm="HS256")
    with serve(create_app(platform)) as url, httpx.Client(base_url=url) as client:
        api = client.get("/api/v1/catalog/sectors", headers={"Authorization": f"Bearer {token}"})
        assert (api.status_code, api.json()) == (401, {"detail": "invalid"})
        form = form_token(client.get("/signin").text, "signin")
        answer = client.post("/signin", data={"credential": token, "csrf_token": form})
        assert answer.status_code == 401
        assert parse(answer.text).find(".//p[@id='signin-error']") is not None
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
