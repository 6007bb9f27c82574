"""`/admin/people`: people and service accounts of every agency; create one, disable or enable
it, reset a person's second factor, set the roles held, and give a service account a token.
An initial password or a token is shown once, in the answer to the form that made it."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.admin.guard import Console, Operator, Posted, Problem, text
from api.web.render import page
from api.web.session import PageError
from catalog.access.audit import Outcome
from catalog.access.grants import KOREA
from catalog.access.keys import UnknownAgency
from catalog.access.principal import Role, Scope
from catalog.people.passwords import WeakPassword, check_strength
from catalog.people.people import Person, PersonConflict, UnknownPerson

router = APIRouter(prefix="/people")
KINDS = ("person", "service")
# What a redirect after an act may say it did (`?done=`); anything else is not shown.
DONE = frozenset({"disabled", "enabled", "mfa_reset", "roles_set"})
MAX_TOKEN_DAYS = 3 * 366


def _roles(form: FormData) -> tuple[Role, ...]:
    """The roles ticked on a form (unknown values dropped)."""
    return tuple(Role(r) for r in form.getlist("roles") if r in Role.__members__)


def _password() -> str:
    """A one-time initial password: 120 random bits, well over the strength rules."""
    made = secrets.token_urlsafe(15)
    check_strength(made)
    return made


def _expiry(value: str) -> datetime | None:
    """A token's expiry from a date field: the end of that day in Korea; blank, none."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise PersonConflict(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    today = datetime.now(KOREA).date()
    if not today <= day <= today + timedelta(days=MAX_TOKEN_DAYS):
        raise PersonConflict(f"a token expires between today and {MAX_TOKEN_DAYS} days from now")
    return datetime.combine(day + timedelta(days=1), time(), KOREA).astimezone(UTC)


def _list_page(
    console: Console,
    *,
    agency: str | None,
    kind: str | None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The people page; its read is recorded unless the act the page follows was."""
    everyone = console.platform.people.list(agency=agency or None, kind=kind or None)
    if problem is None:
        console.record(rows=len(everyone))
    return page(
        console.request,
        "admin/people.html",
        session=console.session,
        status=status,
        people=everyone,
        agencies=console.platform.registry.agencies,
        roles=list(Role),
        kinds=KINDS,
        chosen={"agency": agency or "", "kind": kind or ""},
        problem=problem,
    )


def _detail_page(
    console: Console,
    person: Person,
    *,
    done: str | None = None,
    shown: dict[str, Any] | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    tokens = console.platform.keys.list(person_id=person.person_id)
    return page(
        console.request,
        "admin/person.html",
        session=console.session,
        status=status,
        person=person,
        tokens=tokens,
        roles=list(Role),
        scopes=list(Scope),
        done=done if done in DONE else None,
        shown=shown or {},
        problem=problem,
        own=person.person_id == console.principal.person,
    )


@router.get("", response_class=HTMLResponse)
def people_list(
    console: Operator,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """Everyone, of an agency or a kind, with the forms that add a person or service account."""
    return _list_page(console, agency=agency, kind=kind if kind in KINDS else None)


@router.post("", response_class=HTMLResponse)
def create(console: Operator, form: Posted) -> Response:
    """Add a person (login and an initial password: the one typed, or one made and shown once)
    or a service account of an agency."""
    kind = text(form, "kind")
    agency, name, roles = text(form, "agency", 64), text(form, "name"), _roles(form)
    try:
        if kind not in KINDS:
            raise PersonConflict("a person or a service account")
        if not roles:
            raise PersonConflict("a person holds at least one role")
        made_password, factors = None, {}
        if kind == "person":  # a service account has tokens only
            login = text(form, "login", 128)
            if not login:
                raise PersonConflict("a person signs in with a login")
            typed = form.get("password")
            password = typed if isinstance(typed, str) and typed else None
            if password is None:
                password = made_password = _password()
            factors = {"login": login, "email": text(form, "email") or None, "password": password}
        person = console.platform.people.create(
            agency,
            name,
            roles,
            kind="person" if kind == "person" else "service",
            created_by=console.principal.person or console.principal.subject,
            **factors,
        )
    except (PersonConflict, WeakPassword, UnknownAgency) as exc:
        console.record(act=f"create {kind}", outcome=Outcome.error, error=str(exc))
        status = 400 if isinstance(exc, WeakPassword | UnknownAgency) else 409
        return _list_page(
            console,
            agency=None,
            kind=None,
            problem=Problem(status, "admin.problem_person", str(exc)),
            status=status,
        )
    console.record(act=f"created {person.kind} {person.person_id} of {person.agency}")
    shown = {"created": True, "password": made_password}
    return _detail_page(console, person, shown=shown, status=201)


def _found(console: Console, person_id: str) -> Person:
    """The person or service account; a 404 page (and its audit record) when there is none."""
    try:
        return console.platform.people.get(person_id)
    except UnknownPerson:
        console.record(outcome=Outcome.error, error=f"no person {person_id!r}")
        raise PageError(404, "error.not_found") from None


@router.get("/{person_id}", response_class=HTMLResponse)
def person_detail(
    console: Operator, person_id: str, done: Annotated[str | None, Query(max_length=32)] = None
) -> HTMLResponse:
    """One person or service account: roles, factors, tokens, and the forms that change them."""
    person = _found(console, person_id)
    console.record()
    return _detail_page(console, person, done=done)


def _back(person: Person, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"/admin/people/{person.person_id}?{urlencode({'done': done})}", status_code=303
    )


def _refuse_own(console: Console, person: Person, act: str) -> HTMLResponse | None:
    """An operator may not disable themselves or change their own roles: the console would be
    locked out with no one to undo it."""
    if person.person_id != console.principal.person:
        return None
    console.record(act=act, outcome=Outcome.denied, error="an operator's own account")
    problem = Problem(409, "admin.problem_own")
    return _detail_page(console, person, problem=problem, status=409)


@router.post("/{person_id}/disable", response_class=HTMLResponse)
def disable(console: Operator, _form: Posted, person_id: str) -> Response:
    """Disable: sign-in refused; their sessions and tokens stop at once."""
    person = _found(console, person_id)
    if refused := _refuse_own(console, person, "disable"):
        return refused
    console.platform.people.disable(person_id)
    console.record(act=f"disabled {person_id} of {person.agency}")
    return _back(person, "disabled")


@router.post("/{person_id}/enable", response_class=HTMLResponse)
def enable(console: Operator, _form: Posted, person_id: str) -> Response:
    """Enable again (a lockout after failed sign-ins ends too)."""
    person = _found(console, person_id)
    console.platform.people.enable(person_id)
    console.record(act=f"enabled {person_id} of {person.agency}")
    return _back(person, "enabled")


@router.post("/{person_id}/reset-mfa", response_class=HTMLResponse)
def reset_mfa(console: Operator, _form: Posted, person_id: str) -> Response:
    """Remove a person's second factor and recovery codes: they enrol anew at next sign-in."""
    person = _found(console, person_id)
    if person.kind != "person":
        console.record(act="reset MFA", outcome=Outcome.error, error="a service account")
        problem = Problem(409, "admin.problem_service_mfa")
        return _detail_page(console, person, problem=problem, status=409)
    console.platform.people.reset_mfa(person_id)
    console.record(act=f"reset the second factor of {person_id} of {person.agency}")
    return _back(person, "mfa_reset")


@router.post("/{person_id}/roles", response_class=HTMLResponse)
def set_roles(console: Operator, form: Posted, person_id: str) -> Response:
    """Replace the roles held; sessions and tokens in a role no longer held stop."""
    person = _found(console, person_id)
    if refused := _refuse_own(console, person, "set roles"):
        return refused
    roles = _roles(form)
    if not roles:
        console.record(act="set roles", outcome=Outcome.error, error="no role")
        problem = Problem(400, "admin.problem_roles")
        return _detail_page(console, person, problem=problem, status=400)
    console.platform.people.set_roles(person_id, roles)
    held = ",".join(r.value for r in roles)
    console.record(act=f"set the roles of {person_id} of {person.agency} to {held}")
    return _back(person, "roles_set")


@router.post("/{person_id}/tokens", response_class=HTMLResponse)
def create_token(console: Operator, form: Posted, person_id: str) -> Response:
    """A new token of a service account in one of its roles, limited to the scopes ticked
    and, if a date is given, ending with that day in Korea; shown once."""
    person = _found(console, person_id)
    role, scopes = text(form, "role"), [s for s in form.getlist("scopes") if s in Scope.__members__]
    try:
        if person.kind != "service":
            raise PersonConflict("people make their own tokens; an operator makes a service's")
        if not person.active:
            raise PersonConflict(f"{person_id} is disabled")
        if role not in {r.value for r in person.roles}:
            raise PersonConflict(f"{person_id} does not hold the role {role!r}")
        if not scopes:
            raise PersonConflict("a token has at least one scope")
        expires_at = _expiry(text(form, "expires", 10))
        key, token = console.platform.keys.create(
            person.agency,
            Role(role),
            text(form, "name") or person.name,
            person_id=person_id,
            scopes=[Scope(s) for s in scopes],
            expires_at=expires_at,
        )
    except PersonConflict as exc:
        console.record(act="create token", outcome=Outcome.error, error=str(exc))
        problem = Problem(409, "admin.problem_token", str(exc))
        return _detail_page(console, person, problem=problem, status=409)
    console.record(
        act=f"created token {key.key_id} of {person_id} of {person.agency} as {role} "
        f"({','.join(sorted(scopes))}; until {expires_at.isoformat() if expires_at else 'revoked'})"
    )
    return _detail_page(console, person, shown={"token": token, "key": key}, status=201)
