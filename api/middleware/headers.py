"""The headers every answer carries, set in one place for the whole app (an ASGI middleware):
JSON, files, pages, documentation and errors alike.

- `Content-Security-Policy`: our origin only, no inline script, no framing by any site. A
  response may bring its own policy (the API docs admit their one inline script by hash).
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`.
- `Cache-Control: no-store`: answers show what this caller is entitled to, so no shared or
  back-button copies; only the shipped static assets (the same for everyone) may be cached.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline SVG is markup, not a resource; `data:` images are the charts' and Swagger UI's icons.
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Mounted folders of files shipped in the package (the pages' and the API docs' assets).
STATIC_PREFIXES = ("/static/", "/static-offline-docs/")


class SecurityHeaders:
    """Add `HEADERS` to every HTTP answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, adding the headers to its answer as it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shipped = scope["path"].startswith(STATIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if not (shipped and name == "Cache-Control"):
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
