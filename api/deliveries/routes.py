"""`POST /api/v1/datasets/{dataset}/deliveries` and `GET /api/v1/deliveries/{id}`: the steward's
upload as a client program makes it, landed exactly as `gongyu deliver` lands a file (its header
checked first), audited as `upload`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit, audit_upload
from api.deps import PlatformDep
from catalog.access.audit import Outcome
from catalog.access.policy import may_see, sees_deliveries
from catalog.access.principal import Role
from catalog.deliveries import BuiltNotDelivered, Delivery, DeliveryState, DeliveryTooLarge
from gongyu.delivery.landing import accept_upload, upload_name
from gongyu.delivery.report import reasons
from gongyu.ground.settings import Settings
from quality.header_check import HeaderMismatch
from quality.wording import Lang

router = APIRouter(prefix="/api/v1", tags=["deliveries"], responses=AUTH_FAILURES)
UPLOAD = r"/api/v1/datasets/[^/]+/deliveries"
# Multipart framing around the file.
FORM_OVERHEAD = 64 * 1024
NOT_FOUND = {"detail": "not found"}


def body_limits(settings: Settings) -> dict[str, int]:
    """The largest body the upload route reads: a delivery and its framing."""
    return {UPLOAD: settings.max_delivery_bytes + FORM_OVERHEAD}


class Received(BaseModel):
    """A file landed as a delivery (processing follows by itself under Dagster's daemon)."""

    delivery_id: str
    dataset: str
    state: DeliveryState
    new: bool


class DeliveryView(BaseModel):
    """Where a delivery stands."""

    delivery_id: str
    dataset: str
    filename: str
    state: DeliveryState
    rows: int | None
    reasons: list[str] = Field(description="Why it was quarantined, in the language asked for.")
    snapshot_id: str | None
    received_at: datetime
    updated_at: datetime


@router.post(
    "/datasets/{dataset}/deliveries",
    status_code=202,
    response_model=Received,
    responses={
        403: {"description": "Only a steward of the owning agency delivers its datasets."},
        404: {"description": "Unknown, or a dataset the caller may not see."},
        413: {"description": "Over the delivery size limit."},
        422: {"description": "The file's header does not match the contract (how many match)."},
    },
    summary="Deliver a file for a dataset",
)
async def deliver(
    dataset: str,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or CP949), XLSX, Parquet, JSONL.")],
) -> Response:
    """Land a file as a delivery of one of the caller's agency's datasets; 202 with its id. The
    gate runs under Dagster's daemon; follow it with `GET /api/v1/deliveries/{id}`."""
    started, asked = time.perf_counter(), f"upload to {dataset}"
    contract = platform.contracts.get(dataset)

    def refused(status: int, detail: str) -> JSONResponse:
        # A dataset the caller may not see is not named in its record, as for an unknown id.
        known = contract.id if contract and status != 404 else None
        audit_upload(platform, principal, asked, known, started, Outcome.denied, detail)
        return JSONResponse({"detail": detail}, status_code=status)

    if contract is None or not may_see(principal, contract, platform.registry):
        return refused(404, NOT_FOUND["detail"])
    if principal.role != Role.steward or principal.agency != contract.agency:
        return refused(403, "only a steward of the owning agency delivers its datasets")
    try:
        name = upload_name(file.filename)
        delivery, new = await run_in_threadpool(
            accept_upload, platform, contract.id, name, file.file
        )
    except BuiltNotDelivered as exc:
        return refused(409, str(exc))
    except (DeliveryTooLarge, HeaderMismatch) as exc:
        return refused(413 if isinstance(exc, DeliveryTooLarge) else 422, str(exc))
    audit_upload(
        platform,
        principal,
        f"{asked} as delivery {delivery.delivery_id}",
        contract.id,
        started,
        Outcome.ok,
    )
    body = Received(
        delivery_id=delivery.delivery_id, dataset=dataset, state=delivery.state, new=new
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=202)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryView,
    responses={404: {"description": "Unknown, or another agency's delivery."}},
    summary="A delivery's state",
)
def delivery(
    delivery_id: str,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Annotated[CatalogAudit, Depends()],
    lang: Annotated[Lang, Query(description="Language of the reasons: ko or en.")] = "ko",
) -> Response:
    """A delivery's state, rows and quarantine reasons (Korean, or English with `?lang=en`):
    for its agency and operators."""
    try:
        found: Delivery | None = platform.deliveries.get(delivery_id)
    except KeyError:
        found = None
    contract = platform.contracts.get(found.dataset_id) if found else None
    if found is None or contract is None or not sees_deliveries(principal, contract):
        audit.record(principal)
        return JSONResponse(NOT_FOUND, status_code=404)
    audit.record(principal, datasets=[contract.id])
    view = _view(found, reasons(platform, found, lang))
    return JSONResponse(view.model_dump(mode="json"), headers={"Content-Language": lang})


def _view(d: Delivery, reasons: list[str]) -> DeliveryView:
    return DeliveryView(
        delivery_id=d.delivery_id,
        dataset=d.dataset_id,
        filename=d.filename,
        state=d.state,
        rows=d.rows,
        reasons=reasons,
        snapshot_id=d.snapshot_id,
        received_at=d.received_at,
        updated_at=d.updated_at,
    )
