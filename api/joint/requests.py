"""`/api/v1/access-requests`: ask for another agency's dataset or shared model, decide,
withdraw, revoke.

Every step is recorded by the domain (`catalog.access.requests`) in the audit chain; a dataset
the caller cannot see answers 404 as everywhere else, a step the caller may not take 403, a
request no longer in a state for it 409, each with a message saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, model_validator

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit
from api.deps import PlatformDep
from catalog.access.policy import may_see
from catalog.access.principal import Principal
from catalog.access.requestable import Requestable
from catalog.access.requests import (
    AccessRequest,
    Decision,
    LegalBasis,
    RequestError,
    RequestState,
)
from catalog.ledger.models import GRANT_PREFIX, ModelError
from gongyu.platform import Platform

router = APIRouter(prefix="/api/v1/access-requests", tags=["joint use"], responses=AUTH_FAILURES)
Audit = Annotated[CatalogAudit, Depends()]
FAILURES: dict[int | str, dict[str, str]] = {
    400: {"description": "A request or step that cannot be made as asked (the message says why)."},
    403: {"description": "The caller may not take this step (wrong role or agency)."},
    404: {"description": "Unknown, or a dataset or request the caller may not see."},
    409: {"description": "The request is not in a state for this step."},
}


class NewRequest(BaseModel):
    """What an agency asks for."""

    dataset: str | None = Field(None, description="The dataset id (or name a `model`).")
    model: str | None = Field(
        None,
        max_length=80,
        description="A shared model's id (`/api/v1/models`) instead of a dataset: granted whole, "
        "decided by its card's approval policy.",
    )
    purpose: str = Field(
        "",
        max_length=2000,
        description="What the data is for (required, unless a project is named: its purpose).",
    )
    legal_basis: LegalBasis
    legal_basis_detail: str | None = Field(
        None,
        max_length=500,
        description="The statute and article (required for `statute`, `other`).",
    )
    columns: list[str] | None = Field(
        None, description="The columns needed (sensitive ones are opened only if named)."
    )
    row_filter: str | None = Field(
        None,
        max_length=2000,
        description="Iceberg filter over the published columns, e.g. `sido = '부산'`.",
    )
    until: date | None = Field(None, description="Last day (Korea); default: the longest allowed.")
    project_id: str | None = Field(
        None,
        max_length=128,
        description="An AI project of your agency's (`/api/v1/projects`): approval grants every "
        "member agency, and the access ends with the project (no later than its end).",
    )

    @model_validator(mode="after")
    def _one(self) -> NewRequest:
        if (self.dataset is None) == (self.model is None):
            raise ValueError("name either a `dataset` or a `model`")
        return self


class Approval(BaseModel):
    """An approval, optionally narrowing what was asked."""

    columns: list[str] | None = Field(None, description="A subset of the columns asked for.")
    row_filter: str | None = Field(None, max_length=2000, description="Added to the request's.")
    until: date | None = Field(None, description="An earlier last day.")
    note: str | None = Field(None, max_length=2000)


class Reason(BaseModel):
    """Why a request is denied or a grant revoked."""

    reason: str = Field(min_length=1, max_length=2000)


class RequestView(BaseModel):
    """A request as its parties see it."""

    id: str
    dataset: str = Field(description="The dataset id, or `model:<id>` for a model.")
    model: str | None = Field(None, description="The model's id when a model is asked for.")
    owner_agency: str
    sector: str
    requester_agency: str
    state: RequestState
    waiting_for: list[str]
    for_you: bool = Field(description="True when it waits for the caller's decision.")
    purpose: str
    legal_basis: LegalBasis
    legal_basis_detail: str | None
    columns: list[str] | None
    row_filter: str | None
    until: date
    policy: str
    reason: str | None
    grant_id: str | None
    renewal_of: str | None
    project_id: str | None = Field(description="The AI project the access is held by.")
    decisions: list[Decision]
    created_at: datetime
    updated_at: datetime


def view(platform: Platform, principal: Principal, r: AccessRequest) -> RequestView:
    """The request as the caller sees it."""
    return RequestView(
        id=r.request_id,
        dataset=r.dataset_id,
        model=r.dataset_id.removeprefix(GRANT_PREFIX)
        if r.dataset_id.startswith(GRANT_PREFIX)
        else None,
        owner_agency=r.owner_agency,
        sector=r.sector,
        requester_agency=r.requester_agency,
        state=r.state,
        waiting_for=[s.value for s in r.waiting_for],
        for_you=platform.requests.step_for(principal, r) is not None,
        purpose=r.purpose,
        legal_basis=r.legal_basis,
        legal_basis_detail=r.legal_basis_detail,
        columns=list(r.columns) if r.columns is not None else None,
        row_filter=r.row_filter,
        until=r.until,
        policy=r.policy.value,
        reason=r.reason,
        grant_id=r.grant_id,
        renewal_of=r.renewal_of,
        project_id=r.project_id,
        decisions=r.decisions,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def refused(exc: RequestError) -> JSONResponse:
    """A step that cannot be taken, with its status and why."""
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


@router.post(
    "",
    status_code=201,
    response_model=RequestView,
    responses=FAILURES,
    summary="Ask for a dataset or a model (이용 신청)",
)
def create(
    body: NewRequest, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Ask for another agency's dataset (or shared model) for a purpose, under a legal basis,
    until a date. Routed by the dataset's contract (`automatic` approves sector members at
    once) or the model card's approval policy."""
    contract: Requestable | None
    if body.model is not None:
        try:
            contract = platform.models.requestable(principal, body.model)
        except ModelError as exc:
            audit.record(principal)
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
    else:
        contract = platform.contracts.get(body.dataset or "")
        if contract is None or not may_see(principal, contract, platform.registry):
            audit.record(principal)
            return JSONResponse({"detail": "not found"}, status_code=404)
    return _step(
        platform,
        principal,
        audit,
        lambda: platform.requests.create(
            principal,
            contract,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            legal_basis_detail=body.legal_basis_detail,
            columns=tuple(body.columns) if body.columns is not None else None,
            row_filter=body.row_filter,
            until=body.until,
            project_id=body.project_id,
        ),
        status=201,
        datasets=(contract.id,),
    )


@router.get("", response_model=list[RequestView], summary="Requests: yours and your inbox")
def listing(principal: CurrentPrincipal, platform: PlatformDep, audit: Audit) -> Response:
    """Your agency's requests and those waiting for your decision (oldest first among those),
    then the others you oversee, newest first."""
    found = [view(platform, principal, r) for r in platform.requests.listed(principal)]
    audit.record(principal, datasets=sorted({r.dataset for r in found}))
    return JSONResponse([f.model_dump(mode="json") for f in found])


@router.get("/{request_id}", response_model=RequestView, responses=FAILURES, summary="One request")
def one(
    request_id: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """A request you made, decide or oversee."""
    return _step(
        platform, principal, audit, lambda: platform.requests.seen_by(principal, request_id)
    )


def _step(
    platform: Platform,
    principal: Principal,
    audit: CatalogAudit,
    take: Callable[[], AccessRequest],
    status: int = 200,
    datasets: tuple[str, ...] = (),
) -> Response:
    """Take one step on a request and answer with the request as it now stands (a refusal
    with its status and why); audited either way."""
    try:
        done = take()
    except RequestError as exc:
        audit.record(principal, datasets=datasets)
        return refused(exc)
    audit.record(principal, datasets=[done.dataset_id])
    return JSONResponse(view(platform, principal, done).model_dump(mode="json"), status_code=status)


@router.post(
    "/{request_id}/approve",
    response_model=RequestView,
    responses=FAILURES,
    summary="Approve your step, narrowing if needed",
)
def approve(
    request_id: str,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Audit,
    body: Approval | None = None,
) -> Response:
    """Approve the step waiting for you (the owning agency's steward, or the sector's
    secretariat); the last approval creates the grant with the approved terms."""
    body = body or Approval()
    return _step(
        platform,
        principal,
        audit,
        lambda: platform.requests.approve(
            principal,
            request_id,
            columns=tuple(body.columns) if body.columns is not None else None,
            row_filter=body.row_filter,
            until=body.until,
            note=body.note,
        ),
    )


@router.post(
    "/{request_id}/deny",
    response_model=RequestView,
    responses=FAILURES,
    summary="Deny, with a reason",
)
def deny(
    request_id: str, body: Reason, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Deny the request at your step; the reason goes to the requester."""
    return _step(
        platform,
        principal,
        audit,
        lambda: platform.requests.deny(principal, request_id, body.reason),
    )


@router.post(
    "/{request_id}/withdraw", response_model=RequestView, responses=FAILURES, summary="Withdraw"
)
def withdraw(
    request_id: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Withdraw your agency's pending request."""
    return _step(
        platform, principal, audit, lambda: platform.requests.withdraw(principal, request_id)
    )


@router.post(
    "/{request_id}/revoke",
    response_model=RequestView,
    responses=FAILURES,
    summary="Revoke the grant an approval made",
)
def revoke(
    request_id: str, body: Reason, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Revoke the request's grant (owning steward, the sector's secretariat, operators)."""
    return _step(
        platform,
        principal,
        audit,
        lambda: platform.requests.revoke(principal, request_id, body.reason),
    )


@router.post(
    "/{request_id}/renew",
    status_code=201,
    response_model=RequestView,
    responses=FAILURES,
    summary="Ask again, pre-filled from this request",
)
def renew(
    request_id: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """A new request with this one's purpose, basis, columns and filter, for the longest
    period allowed from today."""
    return _step(
        platform, principal, audit, lambda: platform.requests.renew(principal, request_id), 201
    )
