"""The SQL console: a page whose script posts to `/api/v1/sql` with the session cookie and its
CSRF token, so queries run with the viewer's rights, masks and audit, as any API call does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.web.render import page
from api.web.session import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/console", response_class=HTMLResponse)
def console(
    request: Request,
    session: SignedIn,
    sql: Annotated[str, Query(max_length=100_000)] = "",
    as_of: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """The console, with a query (and `as_of`) filled in when a link brings one."""
    return page(request, "console.html", session=session, sql=sql, as_of=as_of)
