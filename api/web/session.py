"""The signed-in browser behind a page: its session, the sign-in redirect, form CSRF checks."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import SESSION_COOKIE
from api.deps import sessions_of
from api.scopes import required_scope
from api.web.render import is_https
from catalog.access.principal import Principal, Role
from catalog.access.sessions import Session


class SignInRequired(Exception):
    """No live session: the browser goes to the sign-in page, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class EnrolmentRequired(Exception):
    """A person who must have a second factor has none yet: only its enrolment is open."""


# What a session waiting for its second factor's enrolment may reach.
ENROLMENT_PATHS = ("/account/mfa", "/signout")


class PageError(Exception):
    """A page that is not shown: its HTTP status and the message key that says why."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


def current_session(request: Request) -> Session | None:
    """The request's live session, if its cookie names one."""
    session_id = request.cookies.get(SESSION_COOKIE)
    return sessions_of(request).get(session_id) if session_id else None


def local_path(target: str | None) -> str:
    """`target` if it is a path on this site, else `/`: sign-in never redirects elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    # Browsers drop tabs and line breaks from addresses: `/\t/evil` would become `//evil`.
    if any(c.isspace() or not c.isprintable() for c in target):
        return "/"
    return target


async def signed_in(request: Request) -> Session:
    """The viewer's session; without one, a redirect to sign in (and back here after)."""
    session = current_session(request)
    if session is None:
        if request.method != "GET":  # a form posted without a session is not posted again
            raise SignInRequired("/")
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query)
    if session.mfa_pending and not request.url.path.startswith(ENROLMENT_PATHS):
        raise EnrolmentRequired()
    needed = required_scope(request)
    if needed is not None and not session.principal.allows(needed):
        raise PageError(403, "error.scope")
    return session


SignedIn = Annotated[Session, Depends(signed_in)]


def check_csrf(session: Session, sent: object) -> None:
    """Refuse a form whose CSRF token is not the session's (403)."""
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), session.csrf_token.encode()
    ):
        raise PageError(403, "error.csrf")


def keep_session(response: Response, request: Request, session_id: str, session: Session) -> None:
    """Give the browser its session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    remaining = int((session.expires_at - datetime.now(UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max(remaining, 0),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def open_session(
    request: Request,
    principal: Principal,
    next_path: str,
    *,
    roles: tuple[Role, ...] = (),
    mfa_pending: bool = False,
    not_after: datetime | None = None,
) -> RedirectResponse:
    """Sign the browser in as `principal` and send it on to `next_path` (a local path): a new
    session id every time (no fixation), the old session ended."""
    sessions = sessions_of(request)
    if old := request.cookies.get(SESSION_COOKIE):
        sessions.delete(old)
    session_id, session = sessions.create(
        principal, not_after, roles=roles, mfa_pending=mfa_pending
    )
    response = RedirectResponse(local_path(next_path), status_code=303)
    keep_session(response, request, session_id, session)
    return response


def drop_session(response: Response, request: Request) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )
