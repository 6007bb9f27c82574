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


PlatformDep = Annotated[Platform, Depends(platform_of)]
Queries = Annotated[QueryService, Depends(queries_of)]
Catalog = Annotated[CatalogService, Depends(catalog_of)]
