"""Errors over HTTP on loopback: a browser asking for a page gets a page (404, 405, 422, 401,
500) in Korean or English with its status kept; API clients and API addresses keep FastAPI's
JSON; a failure shows an incident id, never its traceback, and logs it once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from starlette.requests import Request

from api.app import create_app
from api.web.errors import is_browser, prefers_html
from catalog.access.principal import Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import parse, sign_in, text
from tests.api.world import serve

# What Chromium and Firefox send when they navigate.
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,*/*;q=0.8"
}
JSON = {"Accept": "application/json"}
SECRET = "the-failure-says-this-only-in-the-log"


@dataclass
class Served:
    """The served test app and a signed-in browser."""

    url: str
    viewer: httpx.Client


class Remembered(logging.Handler):
    """Keeps the records of a logger, to read what the server logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _boom() -> None:
    raise RuntimeError(SECRET)


def _locked() -> None:
    raise HTTPException(401, "invalid", headers={"WWW-Authenticate": "Bearer"})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root: Path = tmp_path_factory.mktemp("errors")
    platform = Platform(Settings(home=root / "ws"))
    app = create_app(platform)
    # Routes of this test's app only: a page and an API route that fail, a page that refuses.
    app.add_api_route("/boom", _boom)
    app.add_api_route("/api/v1/boom", _boom)
    app.add_api_route("/locked", _locked)
    _, token = platform.keys.create("knpa", Role.analyst, "errors")
    with serve(app) as url:
        viewer = sign_in(url, token)
        yield Served(url, viewer)
        viewer.close()


@pytest.fixture
def server_log() -> Iterator[Remembered]:
    """Records of the app's error pages and of uvicorn's own error log."""
    handler = Remembered()
    loggers = [logging.getLogger(name) for name in ("api.web.errors", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def get(served: Served, path: str, **headers: str) -> httpx.Response:
    """An anonymous GET."""
    with httpx.Client(base_url=served.url, timeout=60) as client:
        return client.get(path, headers=headers)


def heading(answer: httpx.Response) -> str:
    found = parse(answer.text).find(".//h1")
    assert found is not None, answer.text[:500]
    return text(found)


@pytest.mark.parametrize("path", ["/nowhere", "/keys", "/grants", "/audit", "/datasets/x/nope"])
def test_a_browser_gets_a_404_page_in_korean_or_english(served: Served, path: str) -> None:
    korean = get(served, path, **BROWSER)
    assert korean.status_code == 404
    assert korean.headers["content-type"].startswith("text/html")
    assert korean.headers["content-language"] == "ko"
    assert heading(korean) == "찾을 수 없음"
    page = parse(korean.text)
    assert page.find(".//html").attrib["lang"] == "ko"
    assert text(page.find(".//code[@id='address']")) == path
    # Anonymous: no menu, a way to sign in that comes back here.
    assert page.find(".//nav") is None
    signin = page.find(".//a[@id='signin']")
    assert signin is not None and signin.attrib["href"].startswith("/signin?next=")
    english = get(served, f"{path}?lang=en", **BROWSER)
    assert english.status_code == 404 and english.headers["content-language"] == "en"
    assert heading(english) == "Not found"
    assert "There is no page at this address" in english.text


def test_api_clients_keep_the_json_404(served: Served) -> None:
    for headers in (JSON, {}, {"Accept": "*/*"}, {"Accept": "application/json, text/html;q=0.5"}):
        answer = get(served, "/nowhere", **headers)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/3/action/nope/x", "/v1/nope", "/mcp/nope", "/healthz/x", "/a.json"],
)
def test_api_addresses_keep_json_even_for_a_browser(served: Served, path: str) -> None:
    answer = get(served, path, **BROWSER)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not Found"}


def test_an_api_route_opened_in_a_browser_keeps_its_json_401(served: Served) -> None:
    for path in ("/api/v1/catalog/datasets", "/catalog.jsonld"):
        answer = get(served, path, **BROWSER)
        assert answer.status_code == 401, path
        assert answer.json() == {"detail": "invalid"}
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_signed_in_viewer_keeps_the_menu(served: Served) -> None:
    answer = served.viewer.get("/nowhere", headers=BROWSER)
    assert answer.status_code == 404
    page = parse(answer.text)
    assert page.find(".//nav[@class='nav']") is not None
    assert page.find(".//span[@class='who']") is not None
    assert page.find(".//a[@id='signin']") is None


def test_the_address_is_shown_escaped(served: Served) -> None:
    hostile = "/x\"'><script>alert(1)</script><img src=x onerror=alert(2)>"
    answer = get(served, hostile, **BROWSER)
    assert answer.status_code == 404
    for raw in ("<script>alert(1)", "<img src=x", "\"'>"):
        assert raw not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    # The parsed page holds the address as text only: no script or image element.
    page = parse(answer.text)
    assert page.find(".//script") is None and page.find(".//img") is None
    assert text(page.find(".//code[@id='address']")) == hostile


def test_a_wrong_method_is_a_405_page(served: Served) -> None:
    answer = get(served, "/signout", **BROWSER)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert heading(answer) == "허용되지 않는 요청 방식"
    with httpx.Client(base_url=served.url, timeout=60) as client:
        form = client.post("/search?lang=en", data={"q": "x"}, headers=BROWSER)
        assert form.status_code == 405 and heading(form) == "Method not allowed"
        # A program posting JSON to the same address keeps FastAPI's answer.
        program = client.post("/search", json={"q": "x"}, headers=BROWSER)
        assert program.status_code == 405
        assert program.json() == {"detail": "Method Not Allowed"}
    assert get(served, "/signout", **JSON).json() == {"detail": "Method Not Allowed"}


def test_an_invalid_page_address_is_a_422_page(served: Served) -> None:
    long = "/signin?next=/" + "a" * 2100
    answer = get(served, long, **BROWSER)
    assert answer.status_code == 422
    assert heading(answer) == "입력값 오류"
    program = get(served, long, **JSON)
    assert program.status_code == 422
    assert program.json()["detail"][0]["loc"] == ["query", "next"]


def test_a_refused_page_offers_to_sign_in(served: Served) -> None:
    answer = get(served, "/locked?lang=en", **BROWSER)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert heading(answer) == "Sign-in required"
    signin = parse(answer.text).find(".//a[@id='signin']")
    assert signin is not None
    assert signin.attrib["href"] == "/signin?next=%2Flocked%3Flang%3Den"
    assert get(served, "/locked", **JSON).json() == {"detail": "invalid"}


def test_a_failure_shows_an_incident_id_and_logs_it_once(
    served: Served, server_log: Remembered
) -> None:
    answer = served.viewer.get("/boom", headers=BROWSER)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in answer.headers  # the app's headers still apply
    assert heading(answer) == "문제가 발생했습니다"
    incident = text(parse(answer.text).find(".//code[@id='incident']"))
    assert len(incident) == 12
    assert SECRET not in answer.text and "Traceback" not in answer.text
    assert "RuntimeError" not in answer.text
    logged = [r for r in server_log.records if incident in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None and str(logged[0].exc_info[1]) == SECRET
    # Nothing else logged it (uvicorn's "Exception in ASGI application").
    assert [r for r in server_log.records if r.exc_info] == logged
    again = served.viewer.get("/boom", headers=BROWSER)
    assert text(parse(again.text).find(".//code[@id='incident']")) != incident


def test_an_api_failure_is_answered_as_before(served: Served, server_log: Remembered) -> None:
    for path, headers in (("/api/v1/boom", BROWSER), ("/boom", JSON)):
        answer = get(served, path, **headers)
        assert answer.status_code == 500
        assert answer.text == "Internal Server Error"
    assert not [r for r in server_log.records if r.name == "api.web.errors"]
    assert len([r for r in server_log.records if r.name == "uvicorn.error" and r.exc_info]) == 2


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER["Accept"], True),
        ("text/html", True),
        ("application/xhtml+xml;q=0.8, application/json;q=0.5", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0", False),
        ("text/html;q=nonsense", False),
    ],
)
def test_what_asks_for_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_only_page_requests_are_a_browsers() -> None:
    def request(method: str, path: str, content_type: str = "") -> Request:
        headers = [(b"accept", BROWSER["Accept"].encode())]
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        return Request({"type": "http", "method": method, "path": path, "headers": headers})

    assert is_browser(request("GET", "/admin"))
    assert is_browser(request("HEAD", "/admin"))
    assert is_browser(request("POST", "/search", "application/x-www-form-urlencoded"))
    assert is_browser(request("POST", "/steward/upload", "multipart/form-data; boundary=x"))
    assert not is_browser(request("POST", "/search", "application/json"))
    assert not is_browser(request("DELETE", "/admin"))
    for machine in ("/api", "/api/v1/sql", "/v1/statement", "/docs", "/openapi.json", "/d.csv"):
        assert not is_browser(request("GET", machine)), machine
    assert is_browser(request("GET", "/apis")) and is_browser(request("GET", "/docs-guide"))
