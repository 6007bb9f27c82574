"""The MCP server over stdio, for a desktop assistant that launches a local command
(`gongyu mcp`): one caller, the token's, checked at start and again at every call."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver import Context

from api.auth import authenticate
from api.browse.service import CatalogService
from api.mcp.desk import Desk, ToolFailure
from api.mcp.server import build_server
from catalog.access.principal import Principal, Scope
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from gongyu.query.running import Limits


class InvalidToken(ValueError):
    """The token is missing, unknown, revoked, expired, or may not `read`."""


def caller(platform: Platform, token: str) -> Principal:
    """The token's principal, marked as calling through MCP; InvalidToken when it will not do."""
    found = authenticate(platform, token, None)
    if found is None:
        raise InvalidToken("the token is invalid, revoked or expired")
    if not found.principal.allows(Scope.read):
        raise InvalidToken("the token may not be used to read (it lacks the `read` scope)")
    return found.principal.model_copy(update={"client": "mcp"})


def serve_stdio(platform: Platform, token: str) -> None:
    """Serve the tools on stdin/stdout as the token's caller until the client hangs up."""
    caller(platform, token)  # refuse to start with a token that will not do
    queries = QueryService(platform, Limits.of(platform.settings))
    desk = Desk(platform, queries, CatalogService(platform, queries))

    def principal_of(_: Context[Any]) -> Principal:
        # Checked per call: a token revoked or expired while the assistant runs stops working.
        try:
            return caller(platform, token)
        except InvalidToken as exc:
            raise ToolFailure("invalid", str(exc)) from None

    anyio.run(build_server(desk, principal_of).run_stdio_async)
