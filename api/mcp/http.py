"""`/mcp`: the MCP server over streamable HTTP (stateless, JSON answers), behind a door that
takes only `Authorization: Bearer <token>` (a personal token or a service key; no session
cookie) with the `read` scope.

A missing or invalid credential is 401 `invalid`, counted like any failure (429 past the
limit); a token without `read` is 403. The tools then run as the token's principal marked
`client="mcp"`, so their audit records say the call came through an AI tool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.auth import Refused, authenticate_request, declared_purpose
from api.mcp.desk import Desk
from catalog.access.principal import Principal
from catalog.access.principal import Scope as TokenScope

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PATH = "/mcp"
# Where the door leaves the caller for the tools (the SDK hands them the HTTP request).
PRINCIPAL_KEY = "gongyu.mcp.principal"


def _principal_of(ctx: Context[Any]) -> Principal:
    """The principal the door admitted for this call's HTTP request."""
    request = ctx.request_context.request
    principal = getattr(request, "scope", {}).get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):  # only the door leads here
        raise PermissionError("no authenticated caller")
    return principal


class Door:
    """The ASGI app at `/mcp`: authenticates, then hands the request to the MCP transport
    (running from the app's start to its end)."""

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Refused(None)
            found = authenticate_request(request, token.strip(), None)
        except Refused as refused:
            if refused.retry_after is not None:
                headers = {"Retry-After": str(refused.retry_after)}
                await JSONResponse({"detail": "invalid"}, 429, headers)(scope, receive, send)
            else:
                headers = {"WWW-Authenticate": "Bearer"}
                await JSONResponse({"detail": "invalid"}, 401, headers)(scope, receive, send)
            return
        principal = found.principal
        if not principal.allows(TokenScope.read):
            detail = "scope: this token may not be used to read"
            await JSONResponse({"detail": detail}, 403)(scope, receive, send)
            return
        if self.manager is None:  # an app driven without its lifespan (a bare test client)
            await JSONResponse({"detail": "not running"}, 503)(scope, receive, send)
            return
        purpose = declared_purpose(request.headers.get("x-gongyu-purpose"))
        principal = principal.model_copy(update={"client": "mcp", "purpose": purpose})
        await self.manager.handle_request({**scope, PRINCIPAL_KEY: principal}, receive, send)


def mount(app: FastAPI) -> None:
    """Serve the MCP server at `/mcp`, its session manager running for the app's lifespan."""
    door = Door()
    app.router.add_route(PATH, door, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.router.lifespan_context = _lifespan(app.router.lifespan_context, door)


def _manager(app: FastAPI) -> StreamableHTTPSessionManager:
    """The streamable HTTP transport of the tools, stateless, answering in JSON."""
    # Imported here: the SDK takes a second to import, which only a served app should pay.
    from mcp.server.transport_security import TransportSecuritySettings

    from api.mcp.server import build_server

    desk = Desk(app.state.platform, app.state.queries, app.state.catalog)
    server = build_server(desk, _principal_of)
    # Bearer tokens, not cookies, admit a caller, so a rebound DNS name gains a page nothing:
    # the host check would only refuse the names operators serve under.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server.session_manager


def _lifespan(
    outer: Callable[[Any], AbstractAsyncContextManager[Any]], door: Door
) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    """`outer` (the app's lifespan so far) with the MCP session manager running inside it."""

    @asynccontextmanager
    async def span(app: FastAPI) -> AsyncIterator[Any]:
        async with outer(app) as state:
            manager = _manager(app)
            async with manager.run():
                door.manager = manager
                try:
                    yield state
                finally:
                    door.manager = None

    return span
