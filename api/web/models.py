"""The 공유 모델 pages: `/models` (the models the viewer may see, narrowed by agency, sector or
task) and `/models/{id}` (card, versions with hash and size, the datasets it was trained on
linking their pages, the project that made it, and a download button when the viewer's agency
may download it). Their JSON twins are `/api/v1/models…`; like them, each view is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.browse.audit import CatalogAudit
from api.deps import platform_of
from api.web.access_forms import MAX_FIELDS, Problem, ask_terms, ask_values
from api.web.render import error_page, page
from api.web.session import PageError, Session, SignedIn, check_csrf
from catalog.access.grants import korean_today
from catalog.access.principal import Role
from catalog.access.requests import RequestError, RequestState
from catalog.ledger.models import ModelError, Task, UnknownModel, grant_id_of
from contracts.licences import LICENCES

router = APIRouter(include_in_schema=False)
Audit = Annotated[CatalogAudit, Depends()]


@router.get("/models", response_class=HTMLResponse)
def models(
    request: Request,
    session: SignedIn,
    audit: Audit,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    task: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The shared models the viewer may see, newest version each."""
    platform, principal = platform_of(request), session.principal
    chosen_task = Task(task) if task in set(Task) else None
    found = platform.models.list(
        principal, agency=agency or None, sector=sector or None, task=chosen_task
    )
    audit.record(principal, datasets=[grant_id_of(m.model_id) for m in found])
    return page(
        request,
        "models.html",
        session=session,
        models=found,
        tasks=list(Task),
        sectors=platform.registry.sectors,
        agencies=sorted({m.card.agency for m in platform.models.list(principal)}),
        chosen={"agency": agency or "", "sector": sector or "", "task": task or ""},
        json_href="/api/v1/models",
    )


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model(request: Request, session: SignedIn, audit: Audit, model_id: str) -> HTMLResponse:
    """One model; absent (404) for viewers who may not know it exists."""
    return _model_page(request, session, audit, model_id)


def _model_page(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    model_id: str,
    values: dict[str, Any] | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    platform, principal = platform_of(request), session.principal
    try:
        entry = platform.models.entry(principal, model_id)
    except UnknownModel:
        audit.record(principal)
        return error_page(request, session, 404, "error.not_found")
    audit.record(principal, datasets=[grant_id_of(model_id)])
    today = korean_today()
    # The 이용 신청 form: for an agency that may not download it yet (operators ask for nothing).
    ask = None
    if not entry.may_download and principal.role != Role.operator:
        longest = today + timedelta(days=entry.card.approval.max_days)
        shown = values or dict.fromkeys(
            ("purpose", "legal_basis", "legal_basis_detail", "until"), ""
        )
        ask = {"today": today, "longest": longest, "values": shown, "problem": problem}
    return page(
        request,
        "model.html",
        session=session,
        status=status,
        m=entry,
        ask=ask,
        licence=LICENCES.get(entry.card.licence),
        json_href=f"/api/v1/models/{model_id}",
    )


def _ask(
    request: Request, session: Session, audit: CatalogAudit, model_id: str, form: FormData
) -> Response:
    """Make the viewer's agency's request for the model (as `POST /api/v1/access-requests`
    with `model`), then show it; a refusal shows the form again with why."""
    platform, principal = platform_of(request), session.principal
    values = ask_values(form)
    try:
        terms = platform.models.requestable(principal, model_id)
        asked = ask_terms(values) | {"columns": None, "row_filter": None}  # granted whole
        made = platform.requests.create(principal, terms, **asked)
    except UnknownModel:
        audit.record(principal)
        return error_page(request, session, 404, "error.not_found")
    except (RequestError, ModelError) as exc:
        problem = Problem(exc.status, str(exc))
        return _model_page(request, session, audit, model_id, values, problem, exc.status)
    audit.record(principal, datasets=[grant_id_of(model_id)])
    done = "auto_approved" if made.state == RequestState.approved else "created"
    target = f"/requests/{made.request_id}?{urlencode({'done': done})}"
    return RedirectResponse(target, status_code=303)


@router.post("/models/{model_id}/request", response_class=HTMLResponse)
async def ask(request: Request, session: SignedIn, audit: Audit, model_id: str) -> Response:
    """The 이용 신청 form of a model page, checked for the session's CSRF token."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    try:
        check_csrf(session, form.get("csrf_token"))
    except PageError as refused:
        audit.record(session.principal)
        return error_page(request, session, refused.status, refused.key)
    return await run_in_threadpool(_ask, request, session, audit, model_id, form)
