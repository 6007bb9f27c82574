"""What routes take from the app, one accessor each: `create_app` fills `app.state`, nothing else.

Routes name these (or the `Annotated` forms below) instead of reading `app.state` themselves,
so the app's pieces are built in one place and a route's needs show in its signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from api.browse.service import CatalogService
from gongyu.platform import Platform
from gongyu.query.query import QueryService

if TYPE_CHECKING:
    from api.ratelimit import Limiter
    from api.trino.statements import Statements
    from catalog.access.sessions import Sessions


def platform_of(request: Request) -> Platform:
    """The app's platform (one workspace)."""
    return request.app.state.platform


def queries_of(request: Request) -> QueryService:
    """The app's query service (the SQL API's sandboxes and limits)."""
    return request.app.state.queries


def catalog_of(request: Request) -> CatalogService:
    """The app's catalog service (what callers browse)."""
    return request.app.state.catalog


def trino_of(request: Request) -> Statements:
    """The app's live Trino statements."""
    return request.app.state.trino


def sessions_of(request: Request) -> Sessions:
    """The app's web-session store."""
    return request.app.state.sessions


def limiter_of(request: Request) -> Limiter:
    """The app's counters of failed authentications."""
    return request.app.state.auth_failures


# The dependencies are `async` so FastAPI calls them on the event loop: a plain function is run
# in the threadpool, a hand-over there and back for reading an attribute (~0.1 ms a request).
async def _platform(request: Request) -> Platform:
    return platform_of(request)


async def _queries(request: Request) -> QueryService:
    return queries_of(request)


async def _catalog(request: Request) -> CatalogService:
    return catalog_of(request)


PlatformDep = Annotated[Platform, Depends(_platform)]
Queries = Annotated[QueryService, Depends(_queries)]
Catalog = Annotated[CatalogService, Depends(_catalog)]
