"""`/admin/tokens` and `/admin/grants`: every API key and token, and every grant, with the
forms that revoke them. A grant an access request made is revoked through that request (the
grantee is notified, the request says so); any other as `gongyu grants revoke` does."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.admin.guard import Console, Operator, Posted, Problem, text
from api.web.render import page
from api.web.session import PageError, local_path
from catalog.access.audit import Outcome
from catalog.access.grants import UnknownGrant
from catalog.access.keys import UnknownKey
from catalog.access.requests import RequestError

router = APIRouter()
REQUEST_MAKER = "request:"  # how a grant an approval made names its maker
MAX_REASON_CHARS = 2000


@router.get("/tokens", response_class=HTMLResponse)
def tokens(
    console: Operator,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    live: bool = False,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """Every key and token (of an agency; only live ones), newest first, with their owners."""
    keys = console.platform.keys.list(agency=agency or None)
    if live:
        keys = [k for k in keys if k.live]
    owners = {p.person_id: p for p in console.platform.people.list(agency=agency or None)}
    console.record(rows=len(keys))
    return page(
        console.request,
        "admin/tokens.html",
        session=console.session,
        keys=keys[::-1],
        owners=owners,
        agencies=console.platform.registry.agencies,
        chosen={"agency": agency or "", "live": live},
        done=done == "revoked",
    )


@router.post("/tokens/{key_id}/revoke", response_class=HTMLResponse)
def revoke_token(console: Operator, form: Posted, key_id: str) -> Response:
    """Revoke a key or token: it stops working at once, sessions opened with it too."""
    try:
        key = console.platform.keys.revoke(key_id)
    except UnknownKey as exc:
        console.record(act="revoke token", outcome=Outcome.error, error=str(exc))
        raise PageError(404, "error.not_found") from None
    console.record(act=f"revoked token {key_id} of {key.person_id} of {key.agency}")
    back = local_path(text(form, "back", 200) or "/admin/tokens")
    if not back.startswith("/admin/"):
        back = "/admin/tokens"
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{urlencode({'done': 'revoked'})}", status_code=303)


def _grants_page(
    console: Console,
    *,
    agency: str | None,
    dataset: str | None,
    every: bool,
    done: bool = False,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The grants page; its read is recorded unless the act the page follows was."""
    found = console.platform.grants.list(dataset or None, agency or None, every)
    if problem is None:
        console.record(datasets={g.dataset_id for g in found}, rows=len(found))
    return page(
        console.request,
        "admin/grants.html",
        session=console.session,
        status=status,
        grants=found[::-1],
        agencies=console.platform.registry.agencies,
        chosen={"agency": agency or "", "dataset": dataset or "", "all": every},
        done=done,
        problem=problem,
    )


@router.get("/grants", response_class=HTMLResponse)
def grants(
    console: Operator,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    dataset: Annotated[str | None, Query(max_length=128)] = None,
    every: Annotated[bool, Query(alias="all")] = False,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """The grants in force (every one with `all`), newest first, with a revoke form each."""
    return _grants_page(
        console, agency=agency, dataset=dataset, every=every, done=done == "revoked"
    )


@router.post("/grants/{grant_id}/revoke", response_class=HTMLResponse)
def revoke_grant(console: Operator, form: Posted, grant_id: str) -> Response:
    """Revoke a grant with the reason the grantee reads."""
    reason = text(form, "reason", MAX_REASON_CHARS)
    platform = console.platform
    known = {g.grant_id: g for g in platform.grants.list(include_expired=True)}
    grant = known.get(grant_id)
    problem: Problem | None = None
    if grant is None:
        console.record(act="revoke grant", outcome=Outcome.error, error=f"no grant {grant_id!r}")
        raise PageError(404, "error.not_found")
    if not reason:
        problem = Problem(400, "admin.problem_reason")
    elif grant.created_by.startswith(REQUEST_MAKER):
        try:  # the request's own way: its history, its audit record, the grantee's notice
            platform.requests.revoke(
                console.principal, grant.created_by.removeprefix(REQUEST_MAKER), reason
            )
        except RequestError as exc:
            problem = Problem(exc.status, "admin.problem_grant", str(exc))
    else:
        try:
            platform.grants.revoke(grant_id)
        except UnknownGrant as exc:
            problem = Problem(404, "admin.problem_grant", str(exc))
    if problem is not None:
        console.record(
            act=f"revoke grant {grant_id}",
            datasets=[grant.dataset_id],
            outcome=Outcome.error,
            error=problem.detail or "no reason given",
        )
        return _grants_page(
            console,
            agency=None,
            dataset=None,
            every=False,
            problem=problem,
            status=problem.status,
        )
    console.record(
        act=f"revoked grant {grant_id} of {grant.dataset_id} to {grant.agency}: {reason}",
        datasets=[grant.dataset_id],
    )
    return RedirectResponse(f"/admin/grants?{urlencode({'done': 'revoked'})}", status_code=303)
