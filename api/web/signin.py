"""Sign-in: a person's login and password, then their one-time code (or a recovery code) when
they have a second factor; an API key or token for service accounts; sign-out ends the session.

The sign-in forms have no session yet, so their CSRF token is a double-submit one: a random
value in a cookie of its own that the form must echo (no other site can read or set it).

Between the password and the code, the browser holds only a random challenge id (HttpOnly
cookie); the challenge itself (whose password it was, until when) stays in this process. It
works for the code step of that person alone, for five minutes, and once: a new password step
in the same browser ends the previous challenge. Every failed factor counts against the person
(`People`: lockout) and against the address (`api.ratelimit`: 429), and is on the audit chain.
"""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.auth import SESSION_COOKIE, Refused, authenticate_request
from api.deps import platform_of, sessions_of
from api.ratelimit import record_failure
from api.web.render import is_https, page
from api.web.session import (
    SignedIn,
    check_csrf,
    current_session,
    drop_session,
    local_path,
    open_session,
)
from catalog.access.audit import AuditKind, Outcome
from catalog.access.challenges import Challenges
from catalog.access.principal import Principal, Role
from catalog.people.people import Person, SignIn

router = APIRouter(include_in_schema=False)
SIGNIN_COOKIE = "gongyu_signin"
CHALLENGE_COOKIE = "gongyu_mfa_challenge"
MAX_CREDENTIAL_CHARS = 8192
MAX_LOGIN_CHARS = 128
MAX_PASSWORD_CHARS = 1024
MAX_CODE_CHARS = 64
CHALLENGE_SECONDS = 300.0
KIND = "totp"  # the challenges this page issues: a password passed, a code to come
Factor = Literal["totp", "recovery"]


def challenges_of(request: Request) -> Challenges:
    """The sign-in challenges, in the catalog database so that any worker finishes a sign-in."""
    return platform_of(request).challenges


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/signin",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def _forget(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/signin", httponly=True, samesite="lax", secure=is_https(request)
    )


def _form_token(request: Request) -> str:
    return request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(32)


def _form(
    request: Request,
    next_path: str,
    failed: str | None,
    status: int,
    *,
    login: str = "",
    minutes: int | None = None,
    retry_after: int | None = None,
) -> Response:
    """The sign-in page: login and password first, a key or token below, SSO if configured."""
    token = _form_token(request)
    settings = platform_of(request).settings
    response = page(
        request,
        "signin.html",
        session=None,
        status=status,
        form_token=token,
        next=next_path,
        failed=failed,
        login=login,
        minutes=minutes,
        oidc_name=settings.oidc_name if settings.oidc_issuer else None,
    )
    _cookie(response, request, SIGNIN_COOKIE, token, 3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _code_form(
    request: Request,
    next_path: str,
    factor: Factor,
    failed: str | None,
    status: int,
    *,
    retry_after: int | None = None,
) -> Response:
    """The second step: the one-time code (or a recovery code)."""
    token = _form_token(request)
    response = page(
        request,
        "signin_code.html",
        session=None,
        status=status,
        form_token=token,
        next=next_path,
        factor=factor,
        failed=failed,
    )
    _cookie(response, request, SIGNIN_COOKIE, token, 3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _form_ok(request: Request, form: FormData) -> bool:
    """Whether the form echoes the sign-in cookie's CSRF token."""
    sent, expected = form.get("csrf_token"), request.cookies.get(SIGNIN_COOKIE)
    return bool(
        isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())
    )


def _lock_minutes(request: Request) -> int:
    """How long a lock lasts, in whole minutes (the most the person waits)."""
    return max(1, math.ceil(platform_of(request).settings.signin_lockout_minutes))


def _audit(
    request: Request, principal: Principal, statement: str, refused: str | None = None
) -> None:
    """A sign-in factor's outcome, or a change to one, on the audit chain (kind `signin`)."""
    platform_of(request).audit.append(
        principal,
        AuditKind.signin,
        statement,
        outcome=Outcome.denied if refused else Outcome.ok,
        error=refused,
    )


def _stranger(login: str) -> Principal:
    """Who a failed password step is recorded as: only the login typed is known."""
    return Principal(subject=f"login:{login}"[:256], agency="-", role=Role.analyst, via="password")


def _as_person(person: Person) -> Principal:
    """The person acting in their first role (they may switch on their account page)."""
    return person.principal(person.roles[0], "password")


def _signed_in(request: Request, person: Person, next_path: str) -> Response:
    """A full session for the person, or one that only reaches enrolment when they must have a
    second factor and have none yet."""
    pending = person.mfa_required and not person.mfa_enrolled
    response = open_session(
        request,
        _as_person(person),
        "/account/mfa" if pending else next_path,
        roles=person.roles,
        mfa_pending=pending,
    )
    _forget(response, request, SIGNIN_COOKIE)
    _forget(response, request, CHALLENGE_COOKIE)
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    """The sign-in page (with the code step, the only pages open without a session)."""
    if current_session(request) is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return _form(request, local_path(next), None, 200)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Exchange an API key or bearer token for a session cookie; the credential is not kept."""
    form = await request.form(max_files=0, max_fields=4)
    next_path = local_path(str(form.get("next", "/")))
    if not _form_ok(request, form):
        return _form(request, next_path, "signin.expired", 403)
    credential = str(form.get("credential", "")).strip()[:MAX_CREDENTIAL_CHARS]
    if not credential:
        return _form(request, next_path, "signin.invalid", 401)
    try:
        found = authenticate_request(request, credential, None)
    except Refused as refused:
        if refused.retry_after is None:
            return _form(request, next_path, "signin.invalid", 401)
        return _form(request, next_path, "signin.invalid", 429, retry_after=refused.retry_after)
    response = open_session(request, found.principal, next_path, not_after=found.expires_at)
    _forget(response, request, SIGNIN_COOKIE)
    return response


@router.post("/signin/password", response_class=HTMLResponse)
async def signin_password(request: Request) -> Response:
    """The first factor: a login and its password. A person with a second factor goes on to
    the code step; one who must have one and has none, to its enrolment only."""
    form = await request.form(max_files=0, max_fields=5)
    next_path = local_path(str(form.get("next", "/")))
    if not _form_ok(request, form):
        return _form(request, next_path, "signin.expired", 403)
    login = str(form.get("login", "")).strip()[:MAX_LOGIN_CHARS]
    password = str(form.get("password", ""))[:MAX_PASSWORD_CHARS]
    people = platform_of(request).people
    # argon2 takes its time on purpose: off the event loop.
    result, person = await run_in_threadpool(people.check_password, login, password)
    if result != SignIn.ok or person is None:
        _audit(request, _stranger(login.lower()), "sign-in: password", result.value)
        wait = record_failure(request, f"login:{login.lower()}")
        if wait is not None:
            return _form(request, next_path, "signin2.too_many", 429, login=login, retry_after=wait)
        if result == SignIn.locked:
            minutes = _lock_minutes(request)
            return _form(request, next_path, "signin2.locked", 403, login=login, minutes=minutes)
        return _form(request, next_path, "signin2.invalid", 401, login=login)
    _audit(request, _as_person(person), "sign-in: password")
    challenges = challenges_of(request)
    challenges.end(KIND, request.cookies.get(CHALLENGE_COOKIE))  # one challenge per browser
    if not person.mfa_enrolled:
        return _signed_in(request, person, next_path)
    response = RedirectResponse("/signin/code", status_code=303)
    challenge_id = challenges.issue(KIND, person.person_id, next_path, CHALLENGE_SECONDS)
    _cookie(response, request, CHALLENGE_COOKIE, challenge_id, int(CHALLENGE_SECONDS))
    return response


@router.get("/signin/code", response_class=HTMLResponse)
def signin_code_form(request: Request, recovery: bool = False) -> Response:
    """The second step's form; without a live challenge, back to the first."""
    challenge = challenges_of(request).find(KIND, request.cookies.get(CHALLENGE_COOKIE))
    if challenge is None:
        return _form(request, "/", "signin2.start_again", 200)
    return _code_form(request, challenge.next_path, "recovery" if recovery else "totp", None, 200)


@router.post("/signin/code", response_class=HTMLResponse)
async def signin_code(request: Request) -> Response:
    """The second factor: a one-time code, or a recovery code, of the person whose password
    this browser gave within the last five minutes."""
    form = await request.form(max_files=0, max_fields=4)
    factor: Factor = "recovery" if form.get("factor") == "recovery" else "totp"
    challenges = challenges_of(request)
    challenge_id = request.cookies.get(CHALLENGE_COOKIE)
    challenge = challenges.find(KIND, challenge_id)
    if not _form_ok(request, form):
        return _form(request, "/", "signin.expired", 403)
    code = str(form.get("code", "")).strip()[:MAX_CODE_CHARS]
    if challenge is None:
        wait = record_failure(request, None)
        status = 429 if wait is not None else 401
        return _form(request, "/", "signin2.start_again", status, retry_after=wait)
    people = platform_of(request).people
    check = people.use_recovery_code if factor == "recovery" else people.verify_totp
    result = await run_in_threadpool(check, challenge.person_id, code)
    person = people.get(challenge.person_id)
    principal = _as_person(person)
    if result == SignIn.ok:
        if challenges.end(KIND, challenge_id) is None:  # another request used it meanwhile
            return _form(request, "/", "signin2.start_again", 401)
        _audit(request, principal, f"sign-in: {factor}")
        return _signed_in(request, person, challenge.next_path)
    _audit(request, principal, f"sign-in: {factor}", result.value)
    wait = record_failure(request, f"login:{person.login}")
    if result == SignIn.locked:
        challenges.end(KIND, challenge_id)
        minutes = _lock_minutes(request)
        response = _form(request, "/", "signin2.locked", 403, minutes=minutes, retry_after=wait)
        _forget(response, request, CHALLENGE_COOKIE)
        return response
    if wait is not None:
        return _code_form(
            request, challenge.next_path, factor, "signin2.too_many", 429, retry_after=wait
        )
    return _code_form(request, challenge.next_path, factor, f"signin2.wrong_{factor}", 401)


@router.post("/signout")
async def signout(request: Request, session: SignedIn) -> Response:
    """End the session (its row is deleted) and forget the cookie."""
    form = await request.form(max_files=0, max_fields=2)
    check_csrf(session, form.get("csrf_token"))
    sessions_of(request).delete(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    drop_session(response, request)
    return response
