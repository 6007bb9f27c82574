"""The catalog's web pages: server-rendered, Korean first with English, everything served from
this package (no CDN: air-gapped networks). `mount` adds them to the API app."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.web import console, pages, signin, steward
from api.web.render import STATIC, error_page
from api.web.session import PageError, SignInRequired, current_session
from catalog.sessions import Sessions
from gongyu.platform import Platform


def _to_signin(request: Request, exc: SignInRequired) -> Response:
    return RedirectResponse(f"/signin?{urlencode({'next': exc.next_path})}", status_code=303)


def _refused(request: Request, exc: PageError) -> Response:
    return error_page(request, current_session(request), exc.status, exc.key)


def mount(app: FastAPI, platform: Platform) -> None:
    """Add the pages, their static files and the session store to the app."""
    lifetime = timedelta(hours=platform.settings.session_hours)
    app.state.sessions = Sessions(platform.engine, platform.registry, lifetime)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (signin, pages, steward, console):
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, _to_signin)  # type: ignore[arg-type]
    app.add_exception_handler(PageError, _refused)  # type: ignore[arg-type]
