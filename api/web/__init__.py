"""The catalog's web pages: server-rendered, Korean first with English, everything served from
this package (no CDN: air-gapped networks). `mount` adds them to the API app, and makes a
browser's 404s and failures pages too (`api.web.errors`)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.web import (
    account,
    console,
    contracts,
    errors,
    joint,
    oidc,
    pages,
    projects,
    requests,
    signin,
    steward,
)
from api.web.render import STATIC, error_page
from api.web.session import EnrolmentRequired, PageError, SignInRequired, current_session


def _to_signin(request: Request, exc: SignInRequired) -> Response:
    return RedirectResponse(f"/signin?{urlencode({'next': exc.next_path})}", status_code=303)


def _to_enrolment(request: Request, exc: EnrolmentRequired) -> Response:
    return RedirectResponse("/account/mfa", status_code=303)


def _refused(request: Request, exc: PageError) -> Response:
    return error_page(request, current_session(request), exc.status, exc.key)


def mount(app: FastAPI) -> None:
    """Add the pages and their static files to the app."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (
        signin,
        oidc,
        pages,
        steward,
        contracts,
        console,
        requests,
        joint,
        projects,
        account,
    ):
        app.include_router(module.router)
    app.add_exception_handler(SignInRequired, _to_signin)  # type: ignore[arg-type]
    app.add_exception_handler(EnrolmentRequired, _to_enrolment)  # type: ignore[arg-type]
    app.add_exception_handler(PageError, _refused)  # type: ignore[arg-type]
    errors.install(app)
