"""A size limit on every request body, enforced while it streams (an ASGI middleware).

A body whose `Content-Length` is over its route's limit is refused before a byte of it is read;
one without (chunked) or with a lying length is counted as it arrives, and the read that passes
the limit fails. Either way the route sees `BodyTooLarge` (a 413) from the read, so no parser
ever spools more than the limit to memory or temporary files. Uploads have a limit of their
own (`paths`: path patterns, matched whole); every other route has
`GONGYU_MAX_REQUEST_BYTES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """A request body over its route's limit (answered 413 unless the route says otherwise)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"요청 본문이 한도 {limit:,} 바이트를 넘습니다. "
            f"The request body is over the limit of {limit:,} bytes.",
        )
        self.limit = limit


class BodyLimit:
    """Count each request's body bytes as the app reads them; past the limit, the read raises
    BodyTooLarge."""

    def __init__(self, app: ASGIApp, default: int, paths: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.paths = [(re.compile(pattern), limit) for pattern, limit in paths.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a `receive` that stops at the path's limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = next((n for pattern, n in self.paths if pattern.fullmatch(path)), self.default)
        declared = Headers(scope=scope).get("content-length", "")
        over = declared.isdigit() and int(declared) > limit
        received = 0

        async def limited() -> Message:
            nonlocal received
            if over:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
