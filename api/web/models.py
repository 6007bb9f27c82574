"""The 공유 모델 pages: `/models` (the models the viewer may see, narrowed by agency, sector or
task) and `/models/{id}` (card, versions with hash and size, the datasets it was trained on
linking their pages, the project that made it, and a download button when the viewer's agency
may download it). Their JSON twins are `/api/v1/models…`; like them, each view is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.browse.audit import CatalogAudit
from api.deps import platform_of
from api.web.render import error_page, page
from api.web.session import SignedIn
from catalog.ledger.models import Task, UnknownModel, grant_id_of
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
    platform, principal = platform_of(request), session.principal
    try:
        entry = platform.models.entry(principal, model_id)
    except UnknownModel:
        audit.record(principal)
        return error_page(request, session, 404, "error.not_found")
    audit.record(principal, datasets=[grant_id_of(model_id)])
    return page(
        request,
        "model.html",
        session=session,
        m=entry,
        licence=LICENCES.get(entry.card.licence),
        json_href=f"/api/v1/models/{model_id}",
    )
