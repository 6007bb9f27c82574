"""Errors as pages for browsers: a 404, 405, 422 or failure on a page address is an HTML page in the
viewer's language, with the status kept. API clients (JSON, `*/*`) and machine addresses
(`/api/`, Trino's `/v1/`, `.json` files, ...) keep FastAPI's JSON bodies exactly.

A failure (500) shows only an incident id; its traceback is logged once, under that id.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.web.render import page
from api.web.session import current_session, local_path

log = logging.getLogger(__name__)

# Addresses that answer programs, whatever their Accept header says.
MACHINE_PREFIXES = (
    "/api",
    "/v1",
    "/mcp",
    "/healthz",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/dagster",
    "/static-offline-docs",
)
MACHINE_SUFFIXES = (".json", ".jsonld", ".csv", ".ttl", ".rdf", ".xml", ".parquet", ".arrow")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Statuses with words of their own; any other shows `errorpage.title_other`.
WORDED = frozenset({400, 401, 403, 404, 405, 413, 422, 429, 500})


def _weights(accept: str) -> dict[str, float]:
    """Each media range of an Accept header and its quality (`q`, 1 when absent)."""
    found: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            found[media.lower()] = max(quality, found.get(media.lower(), 0.0))
    return found


def prefers_html(accept: str) -> bool:
    """Whether an Accept header names HTML itself (not by `*/*`) at least as high as JSON."""
    weights = _weights(accept)
    html = max((weights.get(t, 0.0) for t in HTML_TYPES), default=0.0)
    return html > 0 and html >= weights.get("application/json", 0.0)


def is_machine_path(path: str) -> bool:
    """Whether the address is an API's, a protocol's or a file format's."""
    if any(path == p or path.startswith(f"{p}/") for p in MACHINE_PREFIXES):
        return True
    return path.rsplit("/", 1)[-1].lower().endswith(MACHINE_SUFFIXES)


def is_browser(request: Request) -> bool:
    """A browser navigating (or posting a form) to a page address and asking for HTML."""
    if is_machine_path(request.url.path):
        return False
    if request.method not in ("GET", "HEAD"):
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method != "POST" or content_type not in FORMS:
            return False
    return prefers_html(request.headers.get("accept", ""))


def status_page(
    request: Request,
    status: int,
    *,
    headers: dict[str, str] | None = None,
    incident: str | None = None,
) -> HTMLResponse:
    """The page for an HTTP status, with the nav for a signed-in viewer or a sign-in link."""
    try:
        session = current_session(request)
    except Exception:  # a failing session store must not turn an error page into another
        log.exception("no session for the error page of %s", request.url.path)
        session = None
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    next_path = local_path(back) if request.method in ("GET", "HEAD") else "/"
    key = str(status) if status in WORDED else "other"
    response = page(
        request,
        "error_status.html",
        session=session,
        status=status,
        code=status,
        title=f"errorpage.title_{key}",
        message=f"errorpage.text_{key}",
        incident=incident,
        signin_href=f"/signin?{urlencode({'next': next_path})}",
    )
    response.headers.update(headers or {})
    return response


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if not is_browser(request):
        return await http_exception_handler(request, exc)
    # The page reads the session store: off the event loop, as sync handlers run.
    return await run_in_threadpool(status_page, request, exc.status_code, headers=exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    if not is_browser(request):
        return await request_validation_exception_handler(request, exc)
    return await run_in_threadpool(status_page, request, 422)


class BrowserFailures:
    """An unhandled exception under a browser's page request becomes the 500 page with an
    incident id, logged with its traceback; for anything else it propagates as before."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer a browser's failure if nothing was sent yet."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            request = Request(scope, receive)
            if started or not is_browser(request):
                raise
            incident = secrets.token_hex(6)
            log.error(
                "incident %s: %s %s failed",
                incident,
                request.method,
                request.url.path,
                exc_info=exc,
            )
            failure = await run_in_threadpool(status_page, request, 500, incident=incident)
            await failure(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answer browsers' errors with pages (the handlers replace FastAPI's, which they call for
    every other client)."""
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    # Added first, so it runs innermost: the security headers still go on its pages.
    app.add_middleware(BrowserFailures)
