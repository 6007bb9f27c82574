"""`/api/v1/contracts`: submit a contract, see its versions, and review it as the secretariat.

`POST /api/v1/contracts/preview` lints a contract and shows its diff with the dataset's current
version before anything is stored; `POST /api/v1/contracts` stores it in review (or as a draft);
the owning sector's secretariat approves or rejects each version, and an approved one is live at
once (deliveries, catalog, search, CKAN, DCAT, Dagster). A dataset or version the caller may not
see answers 404, a step the caller may not take 403, a version not in a state for it 409, a
contract that does not lint or may not follow the current version 422 with `file:field: message`
lines. A joint product (`customProperties.product`) is also checked as a definition: its
agency may read every input, and its access level is no wider than theirs unless it declares an
aggregate (`catalog.products.definition_refusals`); a refusal is one of those lines, naming the
input and what to do. Every request is audited (`catalog`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit
from api.deps import PlatformDep
from catalog.access.policy import may_see
from catalog.access.principal import Principal
from catalog.contract_reviews import (
    LintFailed,
    ReviewError,
    ReviewState,
    Submission,
    from_catalog,
)
from contracts.diff import Change
from gongyu.platform import Platform

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"], responses=AUTH_FAILURES)
Audit = Annotated[CatalogAudit, Depends()]
MAX_YAML_CHARS = 512 * 1024
FAILURES: dict[int | str, dict[str, str]] = {
    400: {"description": "A step that cannot be taken as asked (the message says why)."},
    403: {"description": "The caller may not take this step (wrong role or agency)."},
    404: {"description": "Unknown, or a dataset or version the caller may not see."},
    409: {"description": "The version is not in a state for this step."},
    422: {"description": "The contract does not lint or may not follow the current version."},
}


class ContractText(BaseModel):
    """A contract to check or submit."""

    yaml: str = Field(min_length=1, max_length=MAX_YAML_CHARS, description="ODCS v3 YAML.")
    submit: bool = Field(True, description="Send for review now; false keeps it as a draft.")


class Rejection(BaseModel):
    """Why a version is rejected: the steward reads it."""

    reason: str = Field(min_length=1, max_length=2000)


class Submitted(BaseModel):
    """A stored contract version."""

    dataset: str
    version: str
    state: ReviewState


class PreviewView(BaseModel):
    """What a submission would meet: lint errors, and the diff with the current version."""

    dataset: str | None
    version: str | None
    follows: str | None = Field(description="The dataset's current version, if it exists.")
    changes: list[Change]
    errors: list[str] = Field(description="`file:field: message`; empty when it may be submitted.")
    warnings: list[str]
    product_refusals: list[str] = Field(
        default_factory=list,
        description="Why a joint product may not be defined as it is (also among `errors`, as "
        "`contract.yaml:customProperties.product: …`): an input its agency may not read (request "
        "access first), an access level wider than its inputs without an aggregate, SQL refused.",
    )


class VersionView(BaseModel):
    """One version of a dataset's contract and where it stands."""

    version: str
    state: ReviewState
    source: Literal["file", "catalog"]
    current: bool = Field(description="The version deliveries and readers use now.")
    follows: str | None = None
    changes: list[Change] = Field(default_factory=list)
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class VersionDetail(VersionView):
    """A version with its text (for the submitting agency, its secretariat and operators)."""

    yaml: str


class Versions(BaseModel):
    """Every version of a dataset's contract the caller may see."""

    dataset: str
    current: str | None
    versions: list[VersionView]


NOT_FOUND = {"detail": "not found"}


def _view(s: Submission, current: str | None, cls: type[VersionView] = VersionView) -> VersionView:
    extra = {"yaml": s.yaml} if cls is VersionDetail else {}
    return cls(
        version=s.version,
        state=s.state,
        source="catalog",
        current=s.state == ReviewState.active and s.version == current,
        follows=s.follows,
        changes=s.changes,
        submitted_by=s.submitted_by,
        submitted_at=s.submitted_at,
        decided_by=s.decided_by,
        decided_at=s.decided_at,
        reason=s.reason,
        **extra,
    )


def _versions(platform: Platform, principal: Principal, dataset: str) -> Versions | None:
    """The versions the caller may see; None when the dataset does not exist for them."""
    reviews = platform.contract_reviews
    contract = platform.contracts.get(dataset)
    readable = contract is not None and may_see(principal, contract, platform.registry)
    submitted = [s for s in reviews.versions(dataset) if reviews.may_see(principal, s)]
    if not readable and not submitted:
        return None
    current = contract.version if readable and contract else None
    shown = [_view(s, current) for s in submitted]
    if contract and readable and not any(v.current for v in shown):
        source: Literal["file", "catalog"] = "catalog" if from_catalog(contract) else "file"
        shown.append(
            VersionView(
                version=contract.version, state=ReviewState.active, source=source, current=True
            )
        )
    return Versions(dataset=dataset, current=current, versions=shown)


def _refused(exc: ReviewError) -> JSONResponse:
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, LintFailed):
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status)


def _step(
    principal: Principal,
    audit: CatalogAudit,
    take: Callable[[], Submission],
    status: int = 200,
) -> Response:
    """Take one step and answer with the version as it now stands; audited either way."""
    try:
        done = take()
    except ReviewError as exc:
        audit.record(principal)
        return _refused(exc)
    audit.record(principal, datasets=[done.dataset_id])
    body = Submitted(dataset=done.dataset_id, version=done.version, state=done.state)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@router.post("/preview", response_model=PreviewView, summary="Lint and diff before submitting")
def preview(
    body: ContractText, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """The lint errors and the breaking/compatible changes a submission of this text would
    meet; nothing is stored."""
    found = platform.contract_reviews.preview(principal, body.yaml)
    contract = found.contract
    view = PreviewView(
        dataset=contract.id if contract else None,
        version=contract.version if contract else None,
        follows=found.follows,
        changes=found.changes,
        errors=found.errors,
        warnings=[str(i) for i in found.issues if i.severity == "warning"],
        product_refusals=found.product_refusals,
    )
    audit.record(principal)
    return JSONResponse(view.model_dump(mode="json"))


@router.post(
    "",
    status_code=201,
    response_model=Submitted,
    responses=FAILURES,
    summary="Submit a contract (a new dataset or a new version)",
)
def submit(
    body: ContractText, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Store a contract of your agency in review (`submit: false` keeps a draft); the sector's
    secretariat decides. Refused with every lint error, or when it may not follow the current
    version (a breaking change needs a new major version)."""
    reviews = platform.contract_reviews
    return _step(
        principal,
        audit,
        lambda: reviews.submit(principal, body.yaml, for_review=body.submit),
        status=201,
    )


@router.get(
    "/{dataset}", response_model=Versions, responses=FAILURES, summary="A dataset's versions"
)
def versions(
    dataset: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """The dataset's contract versions and their states (submissions are shown to the owning
    agency, its sector's secretariat and operators)."""
    found = _versions(platform, principal, dataset)
    if found is None:
        audit.record(principal)
        return JSONResponse(NOT_FOUND, status_code=404)
    audit.record(principal, datasets=[dataset])
    return JSONResponse(found.model_dump(mode="json"))


@router.get(
    "/{dataset}/versions/{version}",
    response_model=VersionDetail,
    responses=FAILURES,
    summary="One submitted version with its text",
)
def version(
    dataset: str, version: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """A submitted version, its diff and its YAML: for the owning agency, its sector's
    secretariat and operators."""
    reviews = platform.contract_reviews
    try:
        found = reviews.get(dataset, version)
    except ReviewError:
        found = None
    if found is None or not reviews.may_see(principal, found):
        audit.record(principal)
        return JSONResponse(NOT_FOUND, status_code=404)
    audit.record(principal, datasets=[dataset])
    current = platform.contracts.get(dataset)
    view = _view(found, current.version if current else None, VersionDetail)
    return JSONResponse(view.model_dump(mode="json"))


@router.post(
    "/{dataset}/versions/{version}/submit",
    response_model=Submitted,
    responses=FAILURES,
    summary="Send a draft for review",
)
def send(
    dataset: str, version: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Send your agency's draft to the sector's secretariat."""
    reviews = platform.contract_reviews
    return _step(principal, audit, lambda: reviews.send_for_review(principal, dataset, version))


@router.post(
    "/{dataset}/versions/{version}/approve",
    response_model=Submitted,
    responses=FAILURES,
    summary="Approve a version (secretariat)",
)
def approve(
    dataset: str, version: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """Make a version in review active: deliveries are accepted under it at once."""
    reviews = platform.contract_reviews

    def take() -> Submission:
        done = reviews.approve(principal, dataset, version)
        platform.reload_contracts()  # live in this process before the answer is sent
        return done

    return _step(principal, audit, take)


@router.post(
    "/{dataset}/versions/{version}/reject",
    response_model=Submitted,
    responses=FAILURES,
    summary="Reject a version (secretariat)",
)
def reject(
    dataset: str,
    version: str,
    body: Rejection,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Audit,
) -> Response:
    """Reject a version in review with a reason the steward can act on."""
    reviews = platform.contract_reviews
    return _step(principal, audit, lambda: reviews.reject(principal, dataset, version, body.reason))
