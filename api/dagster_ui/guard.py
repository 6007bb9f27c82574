"""The only way to Dagster's UI: Gongyu's session cookie, checked on every HTTP request and
WebSocket alike, before Dagster sees anything.

- No session: a browser's GET is sent to sign in (and back after); anything else gets 401, a
  WebSocket is closed before it opens. A session still to enrol a second factor is sent there.
- Operators get the full UI (when their credential's scopes allow `deliver`); stewards a
  read-only one (Dagster hides launching and refuses its mutations). Other roles, and sessions
  whose scopes do not allow `read`, get 403.
- Each page load and live-update socket is an audit record (kind `catalog`) naming the person.
- The session cookie is `SameSite=Lax`, so a link from another site carries it: an operator's
  request may change anything only when the browser says it came from this origin
  (`Sec-Fetch-Site: same-origin`, or, without that header, an `Origin` that is ours). Any other
  is served read-only, so `GET /dagster/graphql?query=mutation…` from elsewhere changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from api.auth import SESSION_COOKIE
from api.dagster_ui.workspace import READ_ONLY, DagsterUi
from api.web.session import ENROLMENT_PATHS
from catalog.access.audit import AuditKind
from catalog.access.principal import Principal, Role
from catalog.access.principal import Scope as Use
from catalog.access.sessions import Session, Sessions

PREFIX = "/dagster"
VIEWERS = {Role.operator: False, Role.steward: True}
"""Who may see the UI, and whether read-only."""
REFUSED = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>403</title></head>
<body><h1>403</h1>
<p lang="ko">Dagster 화면은 운영자와 데이터 관리자만 볼 수 있습니다.</p>
<p lang="en">Dagster's UI is for operators and stewards only.</p>
<p><a href="/">공유 · Gongyu</a></p></body></html>
"""
SIGN_IN = "로그인이 필요합니다. Sign in first.\n"
NOT_READY = "Dagster 화면이 아직 준비되지 않았습니다. Dagster's UI is not ready.\n"


class Guard:
    """ASGI app in front of Dagster's: who may see it, and whether they may change anything."""

    def __init__(self) -> None:
        self.ui: DagsterUi | None = None  # set for the app's lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the session, then hand the request to Dagster (or refuse it)."""
        if scope["type"] not in ("http", "websocket"):
            return
        conn = HTTPConnection(scope)
        session = await _session(conn)
        if session is None:
            await _refuse(scope, receive, send, _to_signin(conn))
            return
        if session.mfa_pending:
            await _refuse(scope, receive, send, RedirectResponse(ENROLMENT_PATHS[0], 303))
            return
        principal = session.principal
        read_only = VIEWERS.get(principal.role)
        ui = self.ui
        if read_only is None or not principal.allows(Use.read):
            await _refuse(scope, receive, send, HTMLResponse(REFUSED, status_code=403))
            return
        if ui is None or ui.app is None:
            await _refuse(scope, receive, send, PlainTextResponse(NOT_READY, status_code=503))
            return
        if scope["type"] == "http":
            await ui.refresh(conn.app.state.platform.reload_contracts())
        if opens_ui(scope):
            await anyio.to_thread.run_sync(_audit, conn, principal)
        # Dagster's own routes carry the prefix: give it the path from the app's root.
        child = {
            **scope,
            "root_path": scope.get("app_root_path", ""),
            READ_ONLY: read_only or not principal.allows(Use.deliver) or not same_origin(conn),
        }
        await ui.app(child, receive, send)


async def _session(conn: HTTPConnection) -> Session | None:
    session_id = conn.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    sessions: Sessions = conn.app.state.sessions
    return await anyio.to_thread.run_sync(sessions.get, session_id)


def opens_ui(scope: Scope) -> bool:
    """Whether a request opens the UI (a page load or its live-update socket): what the audit
    records. Its GraphQL reads, polled every few seconds, and its scripts and styles are not."""
    if scope["type"] == "websocket":
        return True
    last = scope["path"].rsplit("/", 1)[-1]
    return scope["method"] == "GET" and "." not in last and not scope["path"].endswith("/graphql")


def _audit(conn: HTTPConnection, principal: Principal) -> None:
    query = f"?{conn.url.query}" if conn.url.query else ""
    kind = "WEBSOCKET" if conn.scope["type"] == "websocket" else "GET"
    conn.app.state.platform.audit.append(
        principal, AuditKind.catalog, f"{kind} {conn.url.path}{query} (Dagster UI)"
    )


def _to_signin(conn: HTTPConnection) -> Response:
    if conn.scope["type"] == "http" and conn.scope["method"] in ("GET", "HEAD"):
        path = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
        return RedirectResponse(f"/signin?{urlencode({'next': path})}", status_code=303)
    return PlainTextResponse(SIGN_IN, status_code=401)


async def _refuse(scope: Scope, receive: Receive, send: Send, answer: Response) -> None:
    """Send `answer`, or close a WebSocket before it opens (the browser sees 403)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await answer(scope, receive, send)


def same_origin(conn: HTTPConnection) -> bool:
    """Whether the browser says this request came from a page of this origin."""
    site = conn.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    return conn.headers.get("origin") == f"{scheme}://{conn.headers.get('host', '')}"


def mount(app: FastAPI) -> None:
    """Serve Dagster's UI at `PREFIX` behind the guard, started and stopped with the app."""
    guard = Guard()
    app.mount(PREFIX, guard)
    app.router.lifespan_context = _lifespan(app.router.lifespan_context, guard)


def _lifespan(
    outer: Callable[[Any], AbstractAsyncContextManager[Any]], guard: Guard
) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    """`outer` (the app's lifespan so far) with the UI's code server inside it."""

    @asynccontextmanager
    async def span(app: FastAPI) -> AsyncIterator[Any]:
        async with outer(app) as state:
            ui = DagsterUi(app.state.platform, PREFIX)
            try:
                await anyio.to_thread.run_sync(ui.open)
                guard.ui = ui
                yield state
            finally:
                guard.ui = None
                # Shielded: a second Ctrl-C must not leave the code server running.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(ui.close)

    return span
