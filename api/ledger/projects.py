"""`/api/v1/projects`: agencies' AI projects, registered, updated over time and listed.

Every signed-in caller sees every project (projects are metadata meant to be shared), except
one marked `public: false`, which only its member agencies, the secretariats of its sectors and
operators see: to anyone else it is unknown (404), as an unknown id is. A project is registered
and updated by its lead agency's stewards or secretariat officers (and operators); each update
is a new version with the fields it changed, and the history says who changed what when. The
body is a `ProjectSpec` (the same shape as a file under `sectors/projects/`). A refusal answers
with its status and why (403 not the lead, 404 unknown, 409 id taken, 422 not valid). Every
request is audited (`catalog`), naming the datasets the project links.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit
from api.deps import PlatformDep
from catalog.ledger.projects import (
    Project,
    ProjectError,
    ProjectSpec,
    ProjectStatus,
    ProjectVersion,
    check_datasets,
)

router = APIRouter(prefix="/api/v1/projects", tags=["AI ledger"], responses=AUTH_FAILURES)
Audit = Annotated[CatalogAudit, Depends()]
FAILURES: dict[int | str, dict[str, str]] = {
    403: {"description": "Not a steward or secretariat officer of the project's lead agency."},
    404: {"description": "Unknown, or a non-public project the caller may not see."},
    409: {"description": "The id is taken, or the project changed meanwhile."},
    422: {"description": "Not a valid project (unknown agency, sector or dataset; bad period)."},
}


class ProjectView(BaseModel):
    """A project's current version."""

    spec: ProjectSpec
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, project: Project) -> ProjectView:
        """The view of a ledger project."""
        return cls.model_validate(project.model_dump())


class ProjectHistory(ProjectView):
    """A project with every version it had, oldest first (what changed, when, by whom)."""

    history: list[ProjectVersion] = Field(description="Each version with the fields it changed.")


def _refused(exc: ProjectError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


def _answer(project: Project, status: int = 200) -> JSONResponse:
    return JSONResponse(ProjectView.of(project).model_dump(mode="json"), status_code=status)


@router.get("", response_model=list[ProjectView], summary="Projects (AI 사업 목록)")
def listing(
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Audit,
    sector: Annotated[str | None, Query(max_length=64, description="A sector id.")] = None,
    agency: Annotated[
        str | None, Query(max_length=64, description="A member agency (lead or partner).")
    ] = None,
    status: Annotated[ProjectStatus | None, Query(description="Where it stands.")] = None,
) -> Response:
    """The projects the caller may see, newest update first."""
    found = platform.projects.visible(principal, sector=sector, agency=agency, status=status)
    audit.record(principal, datasets=sorted({d for p in found for d in p.spec.datasets}))
    return JSONResponse([ProjectView.of(p).model_dump(mode="json") for p in found])


@router.post(
    "",
    status_code=201,
    response_model=ProjectView,
    responses=FAILURES,
    summary="Register a project (AI 사업 등록)",
)
def register(
    body: ProjectSpec, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Register a project of your agency (its lead) as version 1."""
    try:
        check_datasets(body, platform.contracts)
        project = platform.projects.register(principal, body)
    except ProjectError as exc:
        audit.record(principal)
        return _refused(exc)
    audit.record(principal, datasets=project.spec.datasets)
    return _answer(project, 201)


@router.get(
    "/{project_id}",
    response_model=ProjectHistory,
    responses=FAILURES,
    summary="A project and its history",
)
def one(
    project_id: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """A project's current version and every version before it, with what changed."""
    try:
        project = platform.projects.seen_by(principal, project_id)
    except ProjectError as exc:
        audit.record(principal)
        return _refused(exc)
    audit.record(principal, datasets=project.spec.datasets)
    view = ProjectHistory(
        **ProjectView.of(project).model_dump(), history=platform.projects.history(project_id)
    )
    return JSONResponse(view.model_dump(mode="json"))


@router.put(
    "/{project_id}",
    response_model=ProjectView,
    responses=FAILURES,
    summary="Update a project (a new version)",
)
def change(
    project_id: str,
    body: ProjectSpec,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Audit,
) -> Response:
    """Record a new version of your agency's project; the fields that changed are kept in its
    history. An earlier end or `stopped` ends the access the project holds."""
    try:
        platform.projects.seen_by(principal, project_id)
        if body.id != project_id:
            raise ProjectError(f"id: the body is project {body.id!r}, the address {project_id!r}")
        check_datasets(body, platform.contracts)
        project = platform.projects.update(principal, body)
    except ProjectError as exc:
        audit.record(principal)
        return _refused(exc)
    audit.record(principal, datasets=project.spec.datasets)
    return _answer(project)
