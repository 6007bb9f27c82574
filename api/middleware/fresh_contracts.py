"""Every request sees the contracts as they are on disk now, in every worker process.

A contract tightened from `public` to `private` must stop being readable and stop being shown
before the next request, not at the next restart: this ASGI middleware re-reads the contract
files that changed (`Platform.reload_contracts`, one `stat` per file) before each request, and
the checks within the request (the SQL sandbox's) use that reading instead of another.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gongyu.platform import Platform


class FreshContracts:
    """ASGI middleware: reload changed contracts before each HTTP request."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.platform.contracts_read_for_request():
            await self.app(scope, receive, send)
