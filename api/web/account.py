"""A person's own account: who they are and the role they act in, their second factor (TOTP
enrolment with a QR code drawn here, recovery codes), their password, and personal tokens.

A session waiting for its second factor reaches only the enrolment (`api.web.session`). The
second factor and the password change only from a password sign-in, and tokens only from an
interactive one (password or SSO): a token signed in cannot enrol a factor, set a password or
mint a wider token than itself.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import segno
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field, ValidationError

from api.auth import SESSION_COOKIE
from api.deps import platform_of, sessions_of
from api.web.render import page
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.audit import AuditKind, Outcome
from catalog.access.keys import ApiKey, UnknownKey
from catalog.access.principal import Role, Scope
from catalog.access.sessions import Session
from catalog.people import totp
from catalog.people.passwords import MIN_CHARS, WeakPassword
from catalog.people.people import Person, PersonConflict, SignIn

router = APIRouter(prefix="/account", include_in_schema=False)
ISSUER = "Gongyu"  # what an authenticator app lists the codes under
MAX_TOKEN_DAYS = 365
DEFAULT_TOKEN_DAYS = 90
MfaState = Literal["enrolled", "start", "scan", "retry", "codes", "idp"]


class TokenForm(BaseModel):
    """A personal token as asked for on the tokens page."""

    name: str = Field(min_length=1, max_length=100)
    role: Role
    scopes: tuple[Scope, ...] = Field(min_length=1)
    days: int = Field(ge=1, le=MAX_TOKEN_DAYS)


def _person(request: Request, session: Session) -> Person | None:
    """The person (or service account) of the ledger the session acts for, if any."""
    person_id = session.principal.person
    return platform_of(request).people.find(person_id) if person_id else None


def _password_person(request: Request, session: Session) -> Person:
    """The person, signed in with their password: only they may change its factors."""
    person = _person(request, session)
    if person is None or person.kind != "person" or session.principal.via != "password":
        raise PageError(403, "account.password_only")
    return person


def _token_person(request: Request, session: Session) -> Person:
    """The person, signed in interactively: personal tokens are made by people, not tokens."""
    person = _person(request, session)
    if (
        person is None
        or person.kind != "person"
        or session.principal.via not in ("password", "oidc")
    ):
        raise PageError(403, "account.people_only")
    if session.mfa_pending:
        raise PageError(403, "account.people_only")
    return person


async def _form(request: Request, session: Session, fields: int) -> Any:
    """The posted form, its CSRF token checked."""
    form = await request.form(max_files=0, max_fields=fields)
    check_csrf(session, form.get("csrf_token"))
    return form


def _factor_changed(
    request: Request, session: Session, what: str, refused: str | None = None
) -> None:
    """A change to a sign-in factor on the audit chain (kind `signin`, as sign-ins are)."""
    platform_of(request).audit.append(
        session.principal,
        AuditKind.signin,
        what,
        outcome=Outcome.denied if refused else Outcome.ok,
        error=refused,
    )


def _session_id(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


@router.get("", response_class=HTMLResponse)
def account(request: Request, session: SignedIn) -> Response:
    """Who I am, the role I act in (and a switch), my second factor and my tokens."""
    platform = platform_of(request)
    person = _person(request, session)
    tokens = platform.keys.list(person_id=person.person_id) if person else []
    return page(
        request,
        "account.html",
        session=session,
        person=person,
        roles=session.roles,
        codes_left=(
            platform.people.recovery_codes_left(person.person_id)
            if person and person.mfa_enrolled
            else None
        ),
        tokens=[k for k in tokens if k.live],
        switched=request.query_params.get("switched") == "1",
    )


@router.post("/role")
async def switch_role(request: Request, session: SignedIn) -> Response:
    """Act in another role the session holds."""
    form = await _form(request, session, 2)
    role = str(form.get("role", ""))
    if role not in Role.__members__ or not sessions_of(request).switch_role(
        _session_id(request), Role(role)
    ):
        raise PageError(400, "account.role_refused")
    return RedirectResponse("/account?switched=1", status_code=303)


def _qr(uri: str) -> Markup:
    """The enrolment address as an inline SVG QR code, drawn here (no CDN, no script)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title="TOTP QR", svgclass="qr", lineclass=None
    )
    return Markup(svg)  # segno draws it from our own provisioning address: no input markup


def _mfa_page(
    request: Request,
    session: Session,
    person: Person | None,
    state: MfaState,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    return page(
        request,
        "account_mfa.html",
        session=session,
        status=status,
        person=person,
        state=state,
        pending=session.mfa_pending,
        **context,
    )


@router.get("/mfa", response_class=HTMLResponse)
def mfa(request: Request, session: SignedIn) -> Response:
    """My second factor: its status, or the start of its enrolment."""
    person = _person(request, session)
    if person is not None and person.oidc_issuer is not None:
        return _mfa_page(request, session, person, "idp")
    person = _password_person(request, session)
    if person.mfa_enrolled:
        left = platform_of(request).people.recovery_codes_left(person.person_id)
        return _mfa_page(request, session, person, "enrolled", codes_left=left)
    return _mfa_page(request, session, person, "start")


@router.post("/mfa/begin", response_class=HTMLResponse)
async def mfa_begin(request: Request, session: SignedIn) -> Response:
    """A new TOTP secret to scan (or type); it counts once a code from it is confirmed."""
    await _form(request, session, 1)
    person = _password_person(request, session)
    people = platform_of(request).people
    try:
        secret = people.begin_totp(person.person_id)
    except PersonConflict:  # enrolled already: an operator resets it first
        left = people.recovery_codes_left(person.person_id)
        return _mfa_page(request, session, person, "enrolled", status=409, codes_left=left)
    uri = totp.provisioning_uri(secret, person.login or person.person_id, ISSUER)
    return _mfa_page(request, session, person, "scan", qr=_qr(uri), secret=secret)


@router.post("/mfa/confirm", response_class=HTMLResponse)
async def mfa_confirm(request: Request, session: SignedIn) -> Response:
    """Finish enrolment with a code from the app: the recovery codes, shown once."""
    form = await _form(request, session, 2)
    person = _password_person(request, session)
    code = str(form.get("code", ""))[:64]
    codes = await run_in_threadpool(
        platform_of(request).people.confirm_totp, person.person_id, code
    )
    if codes is None:
        if platform_of(request).people.get(person.person_id).mfa_enrolled:  # a form posted again
            left = platform_of(request).people.recovery_codes_left(person.person_id)
            return _mfa_page(request, session, person, "enrolled", status=409, codes_left=left)
        return _mfa_page(request, session, person, "retry", status=400)
    sessions_of(request).mfa_done(_session_id(request))
    _factor_changed(request, session, "totp enrolment")
    return _mfa_page(request, session, person, "codes", codes=codes)


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, session: SignedIn) -> Response:
    """The form to change my password."""
    person = _password_person(request, session)
    return page(request, "account_password.html", session=session, person=person, problem=None)


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request, session: SignedIn) -> Response:
    """Change my password: the current one first (a wrong one counts towards the lockout)."""
    form = await _form(request, session, 4)
    person = _password_person(request, session)
    current = str(form.get("current", ""))[:1024]
    new, again = str(form.get("new", ""))[:1024], str(form.get("again", ""))[:1024]
    people = platform_of(request).people

    def refused(key: str, status: int, **values: Any) -> Response:
        return page(
            request,
            "account_password.html",
            session=session,
            status=status,
            person=person,
            problem=key,
            values=values,
        )

    result, checked = await run_in_threadpool(people.check_password, person.login or "", current)
    if result == SignIn.locked:
        minutes = math.ceil(platform_of(request).settings.signin_lockout_minutes)
        return refused("signin2.locked", 403, minutes=minutes)
    if result != SignIn.ok or checked is None or checked.person_id != person.person_id:
        _factor_changed(request, session, "password change", "invalid")
        return refused("account.password_wrong", 400)
    if new != again:
        return refused("account.password_mismatch", 400)
    try:
        await run_in_threadpool(people.set_password, person.person_id, new)
    except WeakPassword:
        return refused("account.password_weak", 400, chars=MIN_CHARS)
    _factor_changed(request, session, "password change")
    return page(
        request,
        "account_password.html",
        session=session,
        person=person,
        problem=None,
        changed=True,
    )


def _tokens_page(
    request: Request,
    session: Session,
    person: Person,
    *,
    status: int = 200,
    created: tuple[ApiKey, str] | None = None,
    problem: str | None = None,
) -> Response:
    mine = platform_of(request).keys.list(person_id=person.person_id)
    return page(
        request,
        "account_tokens.html",
        session=session,
        status=status,
        person=person,
        tokens=list(reversed(mine)),
        created=created,
        problem=problem,
        scopes=list(Scope),
        default_days=DEFAULT_TOKEN_DAYS,
        max_days=MAX_TOKEN_DAYS,
    )


@router.get("/tokens", response_class=HTMLResponse)
def tokens(request: Request, session: SignedIn) -> Response:
    """My personal tokens and the form to make one."""
    return _tokens_page(request, session, _token_person(request, session))


@router.post("/tokens", response_class=HTMLResponse)
async def create_token(request: Request, session: SignedIn) -> Response:
    """A new personal token in one of my roles, limited to scopes and a lifetime; shown once."""
    form = await _form(request, session, 8)
    person = _token_person(request, session)
    try:
        asked = TokenForm.model_validate(
            {
                "name": str(form.get("name", "")).strip(),
                "role": form.get("role"),
                "scopes": form.getlist("scope"),
                "days": form.get("days"),
            }
        )
    except ValidationError:
        return _tokens_page(request, session, person, status=400, problem="account.token_invalid")
    if asked.role not in person.roles:
        return _tokens_page(
            request, session, person, status=400, problem="account.token_role_refused"
        )
    created = platform_of(request).keys.create(
        person.agency,
        asked.role,
        asked.name,
        person_id=person.person_id,
        scopes=asked.scopes,
        expires_at=datetime.now(UTC) + timedelta(days=asked.days),
    )
    return _tokens_page(request, session, person, created=created)


@router.post("/tokens/{key_id}/revoke")
async def revoke_token(request: Request, session: SignedIn, key_id: str) -> Response:
    """Revoke one of my tokens (it stops working at once)."""
    await _form(request, session, 1)
    person = _token_person(request, session)
    keys = platform_of(request).keys
    try:
        key = keys.get(key_id[:64])
    except UnknownKey as unknown:
        raise PageError(404, "account.token_unknown") from unknown
    if key.person_id != person.person_id:  # another's token does not exist here
        raise PageError(404, "account.token_unknown")
    keys.revoke(key.key_id)
    return RedirectResponse("/account/tokens", status_code=303)
