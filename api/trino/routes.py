"""Trino's client protocol: `POST /v1/statement`, then `nextUri` pages, so the `trino` Python
client, Trino JDBC and the BI tools built on them (Superset, Metabase, DBeaver) connect as they
would to Trino.

Every route takes the same credentials as the SQL API. A statement is planned at once
(`api.trino.plan`); a query's pages belong to the caller who started it: anyone else gets 404,
as for a statement that does not exist. `DELETE` on a `nextUri` cancels.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.deps import trino_of
from api.trino.dialect import VERSION, Session, session_time_zone
from api.trino.statements import Statements
from catalog.access.audit import Outcome
from catalog.access.principal import Principal

router = APIRouter(tags=["trino"], responses=AUTH_FAILURES)


def _session(request: Request, principal: Principal) -> Session:
    """The session the client's headers describe."""
    headers = request.headers
    prepared: dict[str, str] = {}
    for value in headers.getlist("X-Trino-Prepared-Statement"):
        for entry in value.split(","):
            name, _, statement = entry.strip().partition("=")
            if name:
                prepared[unquote_plus(name).lower()] = unquote_plus(statement)
    return Session(
        user=principal.subject,
        catalog=(headers.get("X-Trino-Catalog") or "").lower() or None,
        schema=(headers.get("X-Trino-Schema") or "").lower() or None,
        prepared=prepared,
        time_zone=session_time_zone(
            headers.get("X-Trino-Time-Zone"), headers.getlist("X-Trino-Session")
        ),
    )


def lifespan(live: Statements) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: when the server shuts down (SIGTERM), every live statement ends
    with its completing audit record, the rows its client fetched counted."""

    @asynccontextmanager
    async def span(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(live.close)

    return span


Live = Annotated[Statements, Depends(trino_of)]


@router.post("/v1/statement", summary="Start a statement (Trino client protocol)")
async def start_statement(request: Request, principal: CurrentPrincipal, live: Live) -> Response:
    """Run one statement sent as the request body (Trino SQL), as a Trino coordinator would:
    the answer carries a `nextUri` to follow until there is none. Headers `X-Trino-Catalog`
    (`gongyu`), `X-Trino-Schema` (a sector) and `X-Trino-Prepared-Statement` are honoured."""
    sql = (await request.body()).decode("utf-8", errors="replace")
    session = _session(request, principal)
    return await run_in_threadpool(live.start, principal, sql, session, request)


@router.get(
    "/v1/statement/executing/{query_id}/{slug}/{token}",
    name="trino_page",
    summary="Next page of a statement",
)
def next_page(
    query_id: str, slug: str, token: int, request: Request, principal: CurrentPrincipal, live: Live
) -> Response:
    """The statement's next page of rows (or its progress, or its end)."""
    return live.page(live.get(query_id, principal, slug), token, request)


@router.delete(
    "/v1/statement/executing/{query_id}/{slug}/{token}",
    status_code=204,
    summary="Cancel a statement",
)
def cancel_statement(
    query_id: str, slug: str, token: int, principal: CurrentPrincipal, live: Live
) -> Response:
    """Cancel the statement; its audit record says so."""
    statement = live.get(query_id, principal, slug)
    live.finish(statement, Outcome.cancelled, "cancelled by the client", "USER_CANCELED")
    return Response(status_code=204)


@router.get("/v1/query/{query_id}", name="trino_query", summary="A running statement's state")
def query_info(query_id: str, principal: CurrentPrincipal, live: Live) -> dict[str, Any]:
    """The state of one of the caller's running statements (its `infoUri`)."""
    found = live.get(query_id, principal)
    return {"queryId": found.id, "state": "RUNNING", "query": found.sql, "rows": found.rows_sent}


@router.get("/v1/info", summary="Server information (Trino client protocol)")
def server_info(principal: CurrentPrincipal) -> dict[str, Any]:
    """What Trino clients read on connecting: the Trino version whose protocol is spoken."""
    return {
        "nodeVersion": {"version": VERSION},
        "environment": "gongyu",
        "coordinator": True,
        "starting": False,
    }
