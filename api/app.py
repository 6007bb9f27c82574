"""The HTTP face of a platform: SQL API, Trino protocol, audit, the catalog (JSON, DCAT, CKAN)
and its web pages; OpenAPI at `/docs`.

`/docs`, `/redoc` and the pages' assets are served from files shipped in the package
(`fastapi-offline`, `api/web/static/`): air-gapped networks have no CDN. Documentation,
`/healthz`, the sign-in page and the static assets are the only routes open without credentials,
the DCAT catalogue when the operators set `GONGYU_DCAT_ANONYMOUS`, and the disclosure of AI use
unless they turn `GONGYU_DISCLOSURE_PUBLIC` off (both audited as anonymous).

Around every route: the security headers (`api.middleware.headers`), a size limit on request bodies
counted as they stream (`api.middleware.bodylimit`) and, only from `GONGYU_TRUSTED_PROXIES`, the
client address and scheme a proxy forwards (uvicorn's `ProxyHeadersMiddleware`). The server must not
apply proxy headers itself: `gongyu serve` runs uvicorn with `proxy_headers=False`
(`SERVER_OPTIONS`), as uvicorn would otherwise believe `X-Forwarded-For` from any local process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import gongyu
from api import admin, audit, dagster_ui, docs, web
from api.browse import ckan, dcat
from api.browse import routes as browse
from api.browse.service import CatalogService
from api.contracts import drafts, reviews
from api.deliveries import routes as deliveries
from api.joint import board as joint_use
from api.joint import requests as access_requests
from api.ledger import models as ledger_models
from api.ledger import overlaps as ledger_overlaps
from api.ledger import projects as ledger_projects
from api.mcp import http as mcp
from api.middleware.bodylimit import BodyLimit
from api.middleware.fresh_contracts import FreshContracts
from api.middleware.headers import SecurityHeaders
from api.ratelimit import Limiter
from api.sql import download
from api.sql import routes as sql
from api.trino import routes as trino
from api.web import contracts as contract_pages
from api.web import disclosure, steward
from api.web import models as model_pages
from api.web import overlaps as overlap_page
from catalog.access.sessions import Sessions
from gongyu.ground.settings import Settings, get_settings
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from gongyu.query.running import Limits

# What every uvicorn serving this app is told (see the module's docstring).
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def create_app(platform: Platform) -> FastAPI:
    """The API app of one platform (one workspace)."""
    settings = platform.settings
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        title="Gongyu API",
        version=gongyu.__version__,
        description="SQL over the published tables of Korea's public-institution data commons: "
        "entitled, masked, sandboxed and audited.",
    )
    # Everything routes take from the app, built here only (`api.deps` reads it).
    app.state.platform = platform
    app.state.auth_failures = Limiter(settings.auth_failures_per_minute)
    lifetime = timedelta(hours=settings.session_hours)
    app.state.sessions = Sessions(platform.engine, platform.registry, lifetime)
    app.state.queries = QueryService(platform, Limits.of(settings))
    app.include_router(sql.router)
    app.include_router(download.router)
    app.include_router(audit.router)
    app.state.trino = trino.Statements(app.state.queries, platform.audit)
    app.router.lifespan_context = trino.lifespan(app.state.trino)
    app.include_router(trino.router)
    app.state.catalog = CatalogService(platform, app.state.queries)
    app.include_router(browse.router)
    app.include_router(dcat.router)
    app.include_router(ckan.router)
    app.include_router(access_requests.router)
    app.include_router(joint_use.router)
    app.include_router(deliveries.router)
    app.include_router(drafts.router)
    app.include_router(reviews.router)
    app.include_router(disclosure.router)
    app.include_router(ledger_projects.router)
    app.include_router(ledger_models.router)
    app.include_router(ledger_overlaps.router)
    app.include_router(overlap_page.router)
    app.include_router(model_pages.router)
    app.include_router(admin.router)
    mcp.mount(app)  # after the lifespan above: its session manager runs inside it
    web.mount(app)
    docs.mount(app)
    if settings.dagster_ui:  # after the lifespan above: its code server starts and stops inside
        dagster_ui.mount(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # The last added runs first: proxy headers, then security headers, then the body limit,
    # then the contracts as they are now.
    app.add_middleware(FreshContracts, platform=platform)
    app.add_middleware(
        BodyLimit,
        default=settings.max_request_bytes,
        paths=steward.body_limits(settings)
        | deliveries.body_limits(settings)
        | drafts.body_limits(settings)
        | contract_pages.body_limits(settings)
        | ledger_models.body_limits(settings),
    )
    app.add_middleware(SecurityHeaders)
    if settings.trusted_proxies:
        proxies = [str(network) for network in settings.trusted_proxies]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    return app


def app_from_settings(settings: Settings | None = None) -> FastAPI:
    """The app for the environment's settings (uvicorn's `--factory` entry, one per worker)."""
    return create_app(Platform(settings or get_settings()))
