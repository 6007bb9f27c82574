"""The security headers of every answer, over HTTP on loopback: every route of the app (the
OpenAPI schema's and the pages'), each method, signed in or not, whatever its status, plus the
documentation, static files and unknown paths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.web import console, pages, signin, steward
from catalog.access.principal import Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import sign_in
from tests.api.world import serve

DATASET = "kotsa_car_inspection_centers"
PARAMETERS = {"dataset_id": DATASET, "action": "package_list", "token": "0"}
OTHERS = [("GET", "/docs"), ("GET", "/redoc"), ("GET", "/openapi.json"), ("GET", "/healthz")]
STATIC = (
    "/static/style.css",
    "/static/console.js",
    "/static-offline-docs/swagger-ui.css",
    "/static-offline-docs/redoc.standalone.js",
)


@dataclass
class Served:
    app: FastAPI
    url: str
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    platform = Platform(Settings(home=tmp_path_factory.mktemp("headers") / "ws"))
    key = platform.keys.create("kotsa", Role.steward, "headers")[1]
    app = create_app(platform)
    with serve(app) as url:
        yield Served(app, url, key)


def requests(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI schema and every page's route (the
    docs and health check too), parameters filled in."""
    operations = [
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    ]
    for router in (signin.router, pages.router, steward.router, console.router):
        operations += [
            (method, route.path)
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in sorted(route.methods - {"HEAD"})
        ]
    return [(method, filled(path)) for method, path in [*operations, *OTHERS]]


def filled(path: str) -> str:
    """A route's path with each parameter given a value."""
    return re.sub(r"\{(\w+)\}", lambda m: PARAMETERS.get(m[1], "x"), path)


def assert_secured(answer: httpx.Response, *, shared: bool = False) -> None:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    headers = answer.headers
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "same-origin", where
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, where
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, where
    if not shared:
        assert headers.get("cache-control") == "no-store", where


def test_every_route_answers_with_the_security_headers(served: Served) -> None:
    routes = requests(served.app)
    assert len(routes) > 30 and ("POST", "/steward/upload") in routes
    with (
        httpx.Client(base_url=served.url, timeout=60) as anonymous,
        httpx.Client(base_url=served.url, timeout=60, headers={"X-API-Key": served.key}) as key,
        closing(sign_in(served.url, served.key)) as browser,
    ):
        for client in (anonymous, key, browser):
            for method, path in routes:
                body = b"SELECT 1" if path == "/v1/statement" else b"{}"
                assert_secured(client.request(method, path, content=body))
            assert_secured(client.get("/no/such/page"))
            for path in STATIC:
                shipped = client.get(path)
                assert shipped.status_code == 200, path
                assert_secured(shipped, shared=True)


def test_the_api_docs_admit_only_their_own_inline_script(served: Served) -> None:
    docs = httpx.get(f"{served.url}/docs")
    assert docs.status_code == 200
    assert_secured(docs)
    policy = docs.headers["content-security-policy"]
    (script_src,) = [p.strip() for p in policy.split(";") if p.strip().startswith("script-src")]
    assert re.fullmatch(r"script-src 'self' 'sha256-[A-Za-z0-9+/]+={0,2}'", script_src)
    assert len(re.findall(r"<script>", docs.text)) == 1


def test_redoc_loads_nothing_from_elsewhere(served: Served) -> None:
    page = httpx.get(f"{served.url}/redoc")
    assert page.status_code == 200
    assert_secured(page)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "fonts.googleapis" not in page.text and "cdn" not in page.text.lower()
    assert httpx.get(f"{served.url}/static-offline-docs/redoc.standalone.js").status_code == 200
