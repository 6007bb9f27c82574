"""The AI project pages (AI 사업): the list with filters, a project with its history (what
changed when, by whom) and the datasets and models it links, and the forms that register a
project and update it.

The rules are the domain's (`catalog.ledger.projects`), as for the JSON twin
(`/api/v1/projects`): every signed-in viewer sees every project but those not public, which
only their member agencies, their sectors' secretariats and operators see; a project is
registered and updated by its lead agency's stewards or secretariat officers, and operators.
The forms work without JavaScript: "preview" is a server round-trip that checks the project and
shows similar existing ones before anything is saved. Each form posts with the session's CSRF
token; every page request and form post is a `catalog` audit record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.browse.audit import CatalogAudit
from api.deps import platform_of
from api.web.render import error_page, page
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.principal import Principal, Role
from catalog.access.sessions import Session
from catalog.ledger.overlaps import Overlap, similar_projects
from catalog.ledger.projects import (
    BudgetBand,
    Figure,
    Project,
    ProjectError,
    ProjectRefused,
    ProjectSpec,
    ProjectStatus,
    check_datasets,
)
from gongyu.platform import Platform

router = APIRouter(prefix="/projects", include_in_schema=False)
Audit = Annotated[CatalogAudit, Depends()]
MAX_FIELDS = 300
MAX_TEXT = 5000
WRITERS = (Role.steward, Role.secretariat, Role.operator)
# What a redirect after a step may say it did (`?done=`); anything else is not shown.
DONE = frozenset({"registered", "updated"})
SIMILAR = 5  # similar existing projects shown before a new one is saved
LISTS = ("sectors", "partners", "datasets")  # checkbox groups: one value a box
TEXTS = ("id", "title", "title_en", "purpose", "lead", "start", "end", "status", "budget")


def _choices(platform: Platform) -> dict[str, Any]:
    """What the forms offer: sectors, agencies, datasets (by title), statuses, budget bands."""
    contracts = sorted(platform.contracts.values(), key=lambda c: (c.sector, c.id))
    return {
        "sectors": platform.registry.sectors,
        "agencies": platform.registry.agencies,
        "datasets": [(c.id, c.title, c.sector) for c in contracts],
        "statuses": [s.value for s in ProjectStatus],
        "budgets": [b.value for b in BudgetBand],
    }


def _text(form: FormData, name: str, limit: int = MAX_TEXT) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _names(text: str) -> list[str]:
    """Ids written one per line or separated by commas."""
    return [n.strip() for n in text.replace("\n", ",").split(",") if n.strip()]


def _figure(line: str) -> dict[str, Any]:
    """One outcome line, `지표 | 값 | 단위 | 비고`; a value that reads as a number is one."""
    parts = [p.strip() for p in line.split("|")] + ["", "", ""]
    metric, value, unit, note = parts[:4]
    number: float | str = value
    with contextlib.suppress(ValueError):
        number = float(value.replace(",", ""))
    return {"metric": metric, "value": number, "unit": unit or None, "note": note or None}


def figure_line(f: Figure) -> str:
    """An outcome as the form writes it."""
    value = f"{f.value:g}" if isinstance(f.value, float) else f.value
    return " | ".join([f.metric, value, f.unit or "", f.note or ""]).rstrip(" |")


def form_values(form: FormData) -> dict[str, Any]:
    """The form as it was posted, to show it again."""
    values: dict[str, Any] = {name: _text(form, name) for name in TEXTS}
    for name in LISTS:
        values[name] = [v for v in form.getlist(name) if isinstance(v, str)]
    for name in ("models_used", "models_made", "outputs", "outcomes", "problems"):
        values[name] = _text(form, name)
    values["public"] = form.get("public") == "on"
    return values


def spec_values(spec: ProjectSpec) -> dict[str, Any]:
    """A stored project as the form shows it."""
    return {
        **{name: str(getattr(spec, name) or "") for name in TEXTS},
        "status": spec.status.value,
        "budget": spec.budget.value,
        "sectors": spec.sectors,
        "partners": spec.partners,
        "datasets": spec.datasets,
        "models_used": ", ".join(spec.models_used),
        "models_made": ", ".join(spec.models_made),
        "outputs": spec.outputs or "",
        "outcomes": "\n".join(figure_line(f) for f in spec.outcomes),
        "problems": spec.problems or "",
        "public": spec.public,
    }


def to_spec(values: Mapping[str, Any]) -> ProjectSpec:
    """The project the form states; ProjectError with every `field: message` when invalid."""
    data: dict[str, Any] = {
        "id": values["id"],
        "title": values["title"],
        "title_en": values["title_en"] or None,
        "purpose": values["purpose"],
        "sectors": values["sectors"],
        "lead": values["lead"],
        "partners": [p for p in values["partners"] if p != values["lead"]],
        "start": values["start"] or None,
        "end": values["end"] or None,
        "status": values["status"] or ProjectStatus.planned.value,
        "datasets": values["datasets"],
        "models_used": _names(values["models_used"]),
        "models_made": _names(values["models_made"]),
        "outputs": values["outputs"] or None,
        "outcomes": [_figure(line) for line in values["outcomes"].splitlines() if line.strip()],
        "problems": values["problems"] or None,
        "budget": values["budget"] or BudgetBand.undisclosed.value,
        "public": values["public"],
    }
    try:
        return ProjectSpec.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in e['loc']) or 'project'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise ProjectError("\n".join(lines)) from None


def _blank(principal: Principal) -> dict[str, Any]:
    return {
        **dict.fromkeys(TEXTS, ""),
        "lead": principal.agency,
        "start": date.today().isoformat(),
        "status": ProjectStatus.planned.value,
        "budget": BudgetBand.undisclosed.value,
        "sectors": [],
        "partners": [],
        "datasets": [],
        **dict.fromkeys(("models_used", "models_made", "outputs", "outcomes", "problems"), ""),
        "public": True,
    }


def _may_write(principal: Principal) -> bool:
    return principal.role in WRITERS


@router.get("", response_class=HTMLResponse)
def listing(
    request: Request,
    session: SignedIn,
    audit: Audit,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """The projects the viewer may see, filtered by sector, member agency and status."""
    platform, principal = platform_of(request), session.principal
    chosen = ProjectStatus(status) if status in ProjectStatus.__members__ else None
    found = platform.projects.visible(
        principal, sector=sector or None, agency=agency or None, status=chosen
    )
    audit.record(principal, datasets=sorted({d for p in found for d in p.spec.datasets}))
    return page(
        request,
        "projects.html",
        session=session,
        projects=found,
        filters={"sector": sector or "", "agency": agency or "", "status": status or ""},
        may_register=_may_write(principal),
        json_href="/api/v1/projects?" + urlencode({k: v for k, v in request.query_params.items()}),
        **_choices(platform),
    )


def _form_page(
    request: Request,
    session: Session,
    *,
    values: Mapping[str, Any],
    editing: Project | None = None,
    problem: str | None = None,
    checked: bool = False,
    similar: list[Overlap] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The register or edit form, with what the last round-trip found."""
    platform, principal = platform_of(request), session.principal
    return page(
        request,
        "project_form.html",
        session=session,
        status=status,
        values=values,
        editing=editing,
        problem=problem,
        checked=checked,
        similar=similar,
        lead_fixed=principal.role != Role.operator,
        **_choices(platform),
    )


@router.get("/new", response_class=HTMLResponse)
def new(request: Request, session: SignedIn, audit: Audit) -> HTMLResponse:
    """The form that registers a project of the viewer's agency."""
    principal = session.principal
    audit.record(principal)
    if not _may_write(principal):
        raise PageError(403, "projects.may_not_register")
    return _form_page(request, session, values=_blank(principal))


def _submit(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    form: FormData,
    editing: Project | None,
) -> Response:
    """Check the posted project and show it again (preview), or save it and go to its page."""
    platform, principal = platform_of(request), session.principal
    values = form_values(form)
    if editing is not None:
        values["id"] = editing.id  # the address names the project, not the form
    if principal.role != Role.operator:
        values["lead"] = editing.spec.lead if editing else principal.agency
    saving = form.get("action") == "save"
    try:
        spec = to_spec(values)
        check_datasets(spec, platform.contracts)
        platform.projects.check(spec)
        if saving:
            ledger = platform.projects
            saved = ledger.update(principal, spec) if editing else ledger.register(principal, spec)
    except ProjectError as exc:
        audit.record(principal, datasets=values["datasets"])
        return _form_page(
            request, session, values=values, editing=editing, problem=str(exc), status=exc.status
        )
    audit.record(principal, datasets=spec.datasets)
    if not saving:
        # Before a new project is saved, the existing ones like it (that the viewer may see).
        similar = None if editing else similar_projects(platform, spec, SIMILAR, viewer=principal)
        return _form_page(
            request, session, values=values, editing=editing, checked=True, similar=similar
        )
    done = "updated" if editing else "registered"
    return RedirectResponse(f"/projects/{saved.id}?{urlencode({'done': done})}", status_code=303)


async def _posted(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    editing: Callable[[], Project | None],
) -> Response:
    """A project form: its CSRF token checked as every form's, then the work in a thread."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    try:
        check_csrf(session, form.get("csrf_token"))
    except PageError as refused:
        audit.record(session.principal)
        return error_page(request, session, refused.status, refused.key)

    def work() -> Response:
        try:
            project = editing()
        except ProjectError as exc:
            audit.record(session.principal)
            return error_page(request, session, exc.status, _error_key(exc.status))
        return _submit(request, session, audit, form, project)

    return await run_in_threadpool(work)


def _error_key(status: int) -> str:
    return "error.not_found" if status == 404 else "projects.may_not_edit"


@router.post("/new", response_class=HTMLResponse)
async def register(request: Request, session: SignedIn, audit: Audit) -> Response:
    """Preview (checks and similar projects) or save a new project."""
    if not _may_write(session.principal):
        audit.record(session.principal)
        return error_page(request, session, 403, "projects.may_not_register")
    return await _posted(request, session, audit, lambda: None)


def _editable(platform: Platform, principal: Principal, project_id: str) -> Project:
    """A project the viewer may see and update; ProjectError (404, 403) otherwise."""
    project = platform.projects.seen_by(principal, project_id)
    if not platform.projects.may_write(principal, project.spec):
        raise ProjectRefused("only the lead agency's stewards or secretariat edit a project")
    return project


@router.get("/{project_id}", response_class=HTMLResponse)
def detail(
    request: Request,
    session: SignedIn,
    audit: Audit,
    project_id: str,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """A project, the datasets and models it links, and its history; 404 when not seen."""
    platform, principal = platform_of(request), session.principal
    try:
        project = platform.projects.seen_by(principal, project_id)
    except ProjectError:
        audit.record(principal)
        return error_page(request, session, 404, "error.not_found")
    audit.record(principal, datasets=project.spec.datasets)
    titles = {c.id: c.title for c in platform.contracts.values()}
    return page(
        request,
        "project.html",
        session=session,
        p=project,
        history=platform.projects.history(project_id)[::-1],
        titles=titles,
        may_edit=platform.projects.may_write(principal, project.spec),
        done=done if done in DONE else None,
        figure_line=figure_line,
        json_href=f"/api/v1/projects/{project_id}",
    )


@router.get("/{project_id}/edit", response_class=HTMLResponse)
def edit(request: Request, session: SignedIn, audit: Audit, project_id: str) -> HTMLResponse:
    """The form that updates a project, filled with its current version (its lead agency)."""
    platform, principal = platform_of(request), session.principal
    try:
        project = _editable(platform, principal, project_id)
    except ProjectError as exc:
        audit.record(principal)
        return error_page(request, session, exc.status, _error_key(exc.status))
    audit.record(principal, datasets=project.spec.datasets)
    return _form_page(request, session, values=spec_values(project.spec), editing=project)


@router.post("/{project_id}/edit", response_class=HTMLResponse)
async def change(request: Request, session: SignedIn, audit: Audit, project_id: str) -> Response:
    """Preview or save a new version of the project."""
    platform, principal = platform_of(request), session.principal
    return await _posted(
        request, session, audit, lambda: _editable(platform, principal, project_id)
    )
