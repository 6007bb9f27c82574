"""The 이용 신청 pages: the requests waiting for the viewer's decision (with approve and deny
forms), the viewer's agency's own requests (withdraw, renew), those it provides or oversees
(revoke), the agency's notices, and one request with its history.

Every step goes through `catalog.access.requests`, which records it in the audit chain and
notifies the parties; every page request and form post is also a `catalog` audit record, as the
JSON twin's (`/api/v1/access-requests`). A form posts with the session's CSRF token; a step
taken redirects (303) to the page it came from with a line saying what was done, a step
refused shows that page again with why, under its status (400, 403, 404, 409).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.browse.audit import CatalogAudit
from api.deps import platform_of
from api.web.access_forms import (
    LEGAL_BASES,
    MAX_FIELDS,
    Datasets,
    Problem,
    actions,
    approval_terms,
    reason,
    requestables,
)
from api.web.i18n import requested_lang
from api.web.render import error_page, page
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.notices import render
from catalog.access.principal import Principal
from catalog.access.requests import AccessRequest, RequestError, RequestState
from catalog.access.sessions import Session
from gongyu.platform import Platform

router = APIRouter(prefix="/requests", include_in_schema=False)
Audit = Annotated[CatalogAudit, Depends()]
# What a redirect after a step may say it did (`?done=`); anything else is not shown.
DONE = frozenset(
    {
        "created",
        "auto_approved",
        "approved",
        "approved_step",
        "denied",
        "withdrawn",
        "revoked",
        "renewed",
    }
)
MAX_OTHERS = 200  # requests listed that the viewer provides or oversees (operators see all)
MAX_NOTICES = 30


def _common(platform: Platform, principal: Principal) -> dict[str, Any]:
    """What both pages draw with: titles, column classes, the legal bases, the time now and
    the forms the viewer is offered on a request."""
    return {
        "datasets": Datasets(requestables(platform)),
        "legal_bases": LEGAL_BASES,
        "now": datetime.now(UTC),
        "offered": lambda r: actions(platform, principal, r),
    }


def _notices(platform: Platform, principal: Principal, lang: str) -> list[dict[str, Any]]:
    """The viewer's notices as a person reads them (subject, body), newest first."""
    titles = Datasets(requestables(platform))
    out = []
    for notice in platform.notices.for_principal(principal, limit=MAX_NOTICES):
        subject, body = render(
            notice,
            "en" if lang == "en" else "ko",
            platform.registry,
            titles.title(notice.dataset_id),
            "",  # links relative to this site
        )
        out.append({"notice": notice, "subject": subject, "body": body})
    return out


def _list_page(
    request: Request,
    session: Session,
    *,
    done: str | None = None,
    done_id: str | None = None,
    problem: Problem | None = None,
    failed_id: str | None = None,
    status: int = 200,
) -> tuple[HTMLResponse, list[AccessRequest]]:
    """The requests page and the requests it shows (for the audit record)."""
    platform, principal = platform_of(request), session.principal
    platform.requests.sweep()
    inbox = platform.requests.inbox(principal)
    waiting = {r.request_id for r in inbox}
    visible = platform.requests.visible(principal)
    mine = [r for r in visible if r.requester_agency == principal.agency]
    others = [
        r for r in visible if r.request_id not in waiting and r.requester_agency != principal.agency
    ][:MAX_OTHERS]
    lang, _ = requested_lang(request)
    html = page(
        request,
        "requests.html",
        session=session,
        status=status,
        inbox=inbox,
        mine=mine,
        others=others,
        notices=_notices(platform, principal, lang.value),
        done=done if done in DONE else None,
        done_id=done_id,
        problem=problem,
        failed_id=failed_id,
        json_href="/api/v1/access-requests",
        **_common(platform, principal),
    )
    return html, [*inbox, *mine, *others]


def _detail_page(
    request: Request,
    session: Session,
    found: AccessRequest,
    *,
    done: str | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    """One request: its terms, its parties, the forms the viewer is offered, its history."""
    return page(
        request,
        "request.html",
        session=session,
        status=status,
        r=found,
        done=done if done in DONE else None,
        problem=problem,
        json_href=f"/api/v1/access-requests/{found.request_id}",
        **_common(platform_of(request), session.principal),
    )


def _datasets(shown: Iterable[AccessRequest]) -> list[str]:
    return sorted({r.dataset_id for r in shown})


@router.get("", response_class=HTMLResponse)
def listing(
    request: Request,
    session: SignedIn,
    audit: Audit,
    done: Annotated[str | None, Query(max_length=32)] = None,
    request_id: Annotated[str | None, Query(alias="request", max_length=64)] = None,
) -> HTMLResponse:
    """Waiting for my decision (oldest first), my agency's requests, those I provide or
    oversee, and my notices."""
    html, shown = _list_page(request, session, done=done, done_id=request_id)
    audit.record(session.principal, datasets=_datasets(shown))
    return html


@router.get("/{request_id}", response_class=HTMLResponse)
def detail(
    request: Request,
    session: SignedIn,
    audit: Audit,
    request_id: str,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """One request I made, decide or oversee; 404 for any other, as for an unknown id."""
    platform, principal = platform_of(request), session.principal
    platform.requests.sweep()
    try:
        found = platform.requests.seen_by(principal, request_id)
    except RequestError:
        audit.record(principal)
        return error_page(request, session, 404, "error.not_found")
    audit.record(principal, datasets=[found.dataset_id])
    return _detail_page(request, session, found, done=done)


Step = Callable[[Platform, Principal, FormData, AccessRequest], AccessRequest]


def _take(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    request_id: str,
    form: FormData,
    step: Step,
    done: Callable[[AccessRequest], str],
) -> Response:
    """Take one step on a request; back to the page the form was on (`back`: the list or the
    request), saying what was done or why it was not."""
    platform, principal = platform_of(request), session.principal
    on_detail = form.get("back") == "detail"
    try:
        current = platform.requests.seen_by(principal, request_id)
        taken = step(platform, principal, form, current)
    except RequestError as exc:
        problem = Problem.of(exc)
        try:
            found = platform.requests.seen_by(principal, request_id)
        except RequestError:
            found = None
        if on_detail and found is not None:
            audit.record(principal, datasets=[found.dataset_id])
            return _detail_page(request, session, found, problem=problem, status=exc.status)
        html, shown = _list_page(
            request, session, problem=problem, failed_id=request_id, status=exc.status
        )
        audit.record(principal, datasets=_datasets(shown))
        return html
    audit.record(principal, datasets=[taken.dataset_id])
    said = done(taken)
    if on_detail or said == "renewed":  # a renewal is a new request: show it
        target = f"/requests/{taken.request_id}?{urlencode({'done': said})}"
    else:
        target = f"/requests?{urlencode({'done': said, 'request': taken.request_id})}"
    return RedirectResponse(target, status_code=303)


async def _posted(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    request_id: str,
    step: Step,
    done: Callable[[AccessRequest], str],
) -> Response:
    """A decision form: its CSRF token checked as every form's, then the step in a thread."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    try:
        check_csrf(session, form.get("csrf_token"))
    except PageError as refused:
        audit.record(session.principal)
        return error_page(request, session, refused.status, refused.key)
    return await run_in_threadpool(_take, request, session, audit, request_id, form, step, done)


def _approve(
    platform: Platform, principal: Principal, form: FormData, current: AccessRequest
) -> AccessRequest:
    return platform.requests.approve(principal, current.request_id, **approval_terms(form, current))


def _approved(taken: AccessRequest) -> str:
    return "approved" if taken.state == RequestState.approved else "approved_step"


@router.post("/{request_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, session: SignedIn, audit: Audit, request_id: str) -> Response:
    """Approve the step waiting for me, narrowing the terms if the form says so."""
    return await _posted(request, session, audit, request_id, _approve, _approved)


@router.post("/{request_id}/deny", response_class=HTMLResponse)
async def deny(request: Request, session: SignedIn, audit: Audit, request_id: str) -> Response:
    """Deny at my step, with the reason the requester reads."""
    return await _posted(
        request,
        session,
        audit,
        request_id,
        lambda p, who, form, r: p.requests.deny(who, r.request_id, reason(form)),
        lambda _: "denied",
    )


@router.post("/{request_id}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, session: SignedIn, audit: Audit, request_id: str) -> Response:
    """Withdraw my agency's pending request."""
    return await _posted(
        request,
        session,
        audit,
        request_id,
        lambda p, who, _form, r: p.requests.withdraw(who, r.request_id),
        lambda _: "withdrawn",
    )


@router.post("/{request_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, session: SignedIn, audit: Audit, request_id: str) -> Response:
    """Revoke the grant an approved request made, with the reason the grantee reads."""
    return await _posted(
        request,
        session,
        audit,
        request_id,
        lambda p, who, form, r: p.requests.revoke(who, r.request_id, reason(form)),
        lambda _: "revoked",
    )


@router.post("/{request_id}/renew", response_class=HTMLResponse)
async def renew(request: Request, session: SignedIn, audit: Audit, request_id: str) -> Response:
    """Ask again with an ended or refused request's purpose, basis, columns and filter."""
    return await _posted(
        request,
        session,
        audit,
        request_id,
        lambda p, who, _form, r: p.requests.renew(who, r.request_id),
        lambda _: "renewed",
    )
