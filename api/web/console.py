"""The SQL console: a page whose script posts to `/api/v1/sql` with the session cookie and its
CSRF token, so queries run with the viewer's rights, masks and audit, as any API call does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.web.render import page
from api.web.session import SignedIn

router = APIRouter(include_in_schema=False)
# A link (a dataset page's, a search hit's starter query) fills the editor up to this length;
# a longer one is not filled in at all, since half a query is worse than none.
MAX_PREFILL = 4000


@router.get("/console", response_class=HTMLResponse)
def console(
    request: Request,
    session: SignedIn,
    sql: Annotated[str, Query(max_length=100_000)] = "",
    as_of: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """The console, with a query (and `as_of`) filled in, never run, when a link brings one."""
    too_long = len(sql) > MAX_PREFILL
    return page(
        request,
        "console.html",
        session=session,
        sql="" if too_long else sql,
        as_of=as_of,
        too_long=too_long,
        max_prefill=MAX_PREFILL,
    )
