"""Sign-in with an API key or token (posted once) into a server-side session; sign-out ends it.

The sign-in form has no session yet, so its CSRF token is a double-submit one: a random value
in a cookie of its own that the form must echo (no other site can read or set it).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import SESSION_COOKIE, Refused, authenticate_request
from api.deps import sessions_of
from api.web.render import is_https, page
from api.web.session import (
    SignedIn,
    check_csrf,
    current_session,
    drop_session,
    keep_session,
    local_path,
)

router = APIRouter(include_in_schema=False)
SIGNIN_COOKIE = "gongyu_signin"
MAX_CREDENTIAL_CHARS = 8192


def _form(request: Request, next_path: str, failed: str | None, status: int) -> Response:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        request,
        "signin.html",
        session=None,
        status=status,
        form_token=token,
        next=next_path,
        failed=failed,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    """The sign-in form (the only page open without a session)."""
    if current_session(request) is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return _form(request, local_path(next), None, 200)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Exchange an API key or bearer token for a session cookie; the credential is not kept."""
    form = await request.form(max_files=0, max_fields=4)
    next_path = local_path(str(form.get("next", "/")))
    sent, expected = form.get("csrf_token"), request.cookies.get(SIGNIN_COOKIE)
    if not (
        isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        return _form(request, next_path, "signin.expired", 403)
    credential = str(form.get("credential", "")).strip()[:MAX_CREDENTIAL_CHARS]
    if not credential:
        return _form(request, next_path, "signin.invalid", 401)
    try:
        found = authenticate_request(request, credential, None)
    except Refused as refused:
        if refused.retry_after is None:
            return _form(request, next_path, "signin.invalid", 401)
        limited = _form(request, next_path, "signin.invalid", 429)
        limited.headers["Retry-After"] = str(refused.retry_after)
        return limited
    sessions = sessions_of(request)
    if old := request.cookies.get(SESSION_COOKIE):
        sessions.delete(old)  # a new id at every sign-in: no session fixation
    session_id, session = sessions.create(found.principal, found.expires_at)
    response = RedirectResponse(next_path, status_code=303)
    keep_session(response, request, session_id, session)
    response.delete_cookie(
        SIGNIN_COOKIE, path="/signin", httponly=True, samesite="lax", secure=is_https(request)
    )
    return response


@router.post("/signout")
async def signout(request: Request, session: SignedIn) -> Response:
    """End the session (its row is deleted) and forget the cookie."""
    form = await request.form(max_files=0, max_fields=2)
    check_csrf(session, form.get("csrf_token"))
    sessions_of(request).delete(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    drop_session(response, request)
    return response
