"""`/api/v1/models`: shared models registered with a card and an artifact, found, and downloaded
under the same policy and audit as data (`catalog.ledger.models`).

- `POST /api/v1/models` (multipart: `card`, the model card as JSON, and `file`, one artifact up to
  GONGYU_MAX_DELIVERY_BYTES) by a steward or secretariat officer of the owning agency: 201 with
  the version stored; the same id again is the next version. Audited as `upload`.
- `GET /api/v1/models` (filters `agency`, `sector`, `task`): every model the caller may see (all
  but other agencies' private ones), newest version each.
- `GET /api/v1/models/{id}`: card, versions with hash and size, lineage, the project, and
  whether the caller may download.
- `GET /api/v1/models/{id}/versions/{v}/artifact`: the file, for callers the model's access level
  and grants open it to. Audited as `download` naming `model:<id>`, opened before the first byte
  and completed when sent; a refusal is answered 404, exactly as an unknown id, and audited too.
- `POST /api/v1/models/{id}/grants` (`agency`, `purpose`, `until`) by the owner's steward: opens a
  `restricted` or `sector` model to another agency (a grant on `model:<id>`, on the audit chain).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit, audit_upload, statement
from api.deps import PlatformDep
from catalog.access.audit import AuditKind, Outcome
from catalog.access.grants import Grant
from catalog.access.principal import Principal
from catalog.deliveries import DeliveryTooLarge
from catalog.ledger.models import (
    ModelCard,
    ModelEntry,
    ModelError,
    ModelVersion,
    Task,
    UnknownModel,
    artifact_name,
    grant_id_of,
)
from gongyu.delivery.landing import uploaded
from gongyu.ground.settings import Settings
from gongyu.platform import Platform

router = APIRouter(prefix="/api/v1/models", tags=["AI ledger"], responses=AUTH_FAILURES)
Audit = Annotated[CatalogAudit, Depends()]
REGISTER = r"/api/v1/models"
# Multipart framing and the card around the file.
FORM_OVERHEAD = 256 * 1024
CHUNK = 1024 * 1024
NOT_FOUND = {"detail": "not found"}
FAILURES: dict[int | str, dict[str, str]] = {
    403: {"description": "Not a steward or secretariat officer of the owning agency."},
    404: {"description": "Unknown, or a model the caller may not see."},
    409: {"description": "The id belongs to another agency, or a version was taken meanwhile."},
    413: {"description": "The artifact is over GONGYU_MAX_DELIVERY_BYTES."},
    422: {"description": "Not a valid card (unknown agency, sector, project or dataset)."},
}


def body_limits(settings: Settings) -> dict[str, int]:
    """The largest body the registration reads: an artifact, its card and framing."""
    return {REGISTER: settings.max_delivery_bytes + FORM_OVERHEAD}


class ModelList(BaseModel):
    """The models the caller may see, newest version each."""

    models: list[ModelVersion]


class GrantAsked(BaseModel):
    """A model opened to another agency for a purpose until a day (inclusive, Korea)."""

    agency: str = Field(max_length=64)
    purpose: str = Field(min_length=1, max_length=2000)
    until: date


def _refused(exc: ModelError) -> JSONResponse:
    detail = NOT_FOUND["detail"] if isinstance(exc, UnknownModel) else str(exc)
    return JSONResponse({"detail": detail}, status_code=exc.status)


@router.post(
    "",
    status_code=201,
    response_model=ModelVersion,
    responses=FAILURES,
    summary="Register a model (모델 등록): a card and one artifact",
)
async def register(
    principal: CurrentPrincipal,
    platform: PlatformDep,
    card: Annotated[str, Form(description="The model card as JSON (`ModelCard`).")],
    file: Annotated[UploadFile, File(description="The artifact: ONNX, joblib, npz, JSON, zip…")],
) -> Response:
    """Store the artifact (hashed, immutable) and record the model's next version."""
    started = time.perf_counter()
    try:
        parsed = ModelCard.model_validate(json.loads(card))
    except (ValueError, ValidationError) as exc:
        detail = f"the card is not a valid model card: {exc}"
        audit_upload(platform, principal, "register a model", None, started, Outcome.denied, detail)
        return JSONResponse({"detail": detail}, status_code=422)
    asked, named = f"register model {parsed.id}", grant_id_of(parsed.id)
    try:
        made = await run_in_threadpool(_register, platform, principal, parsed, file)
    except (ModelError, DeliveryTooLarge) as exc:
        status = exc.status if isinstance(exc, ModelError) else 413
        audit_upload(platform, principal, asked, named, started, Outcome.denied, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=status)
    audit_upload(platform, principal, f"{asked} version {made.version}", named, started, Outcome.ok)
    return JSONResponse(made.model_dump(mode="json"), status_code=201)


def _register(
    platform: Platform, principal: Principal, card: ModelCard, file: UploadFile
) -> ModelVersion:
    """Copy the upload under the size limit, then register it."""
    name = artifact_name(file.filename)
    limit = platform.settings.max_delivery_bytes
    with uploaded(name, file.file, limit, "model artifact", "ask the operator to raise it") as path:
        return platform.models.register(principal, card, path, name)


@router.get("", response_model=ModelList, summary="Shared models (공유 모델 목록)")
def listing(
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Audit,
    agency: Annotated[str | None, Query(max_length=64, description="The owning agency.")] = None,
    sector: Annotated[str | None, Query(max_length=64, description="A sector id.")] = None,
    task: Annotated[Task | None, Query(description="What the models do.")] = None,
) -> Response:
    """Every model the caller may see (all but other agencies' private ones), newest first."""
    found = platform.models.list(principal, agency=agency, sector=sector, task=task)
    audit.record(principal, datasets=[grant_id_of(m.model_id) for m in found])
    body = ModelList(models=found)
    return JSONResponse(body.model_dump(mode="json"))


@router.get(
    "/{model_id}",
    response_model=ModelEntry,
    responses={404: FAILURES[404]},
    summary="A model: card, versions, lineage",
)
def model(
    model_id: str, principal: CurrentPrincipal, platform: PlatformDep, audit: Audit
) -> Response:
    """The model's newest card, every version with hash and size, the datasets it was trained
    on, the project that made it, and whether the caller may download it."""
    try:
        entry = platform.models.entry(principal, model_id)
    except UnknownModel:
        audit.record(principal)
        return JSONResponse(NOT_FOUND, status_code=404)
    audit.record(principal, datasets=[grant_id_of(model_id)])
    return JSONResponse(entry.model_dump(mode="json"))


@router.get(
    "/{model_id}/versions/{version}/artifact",
    responses={
        200: {"content": {"application/octet-stream": {}}},
        404: {"description": "Unknown, or a model the caller may not download."},
    },
    summary="Download a model version's artifact",
)
def artifact(
    model_id: str,
    version: int,
    request: Request,
    principal: CurrentPrincipal,
    platform: PlatformDep,
) -> Response:
    """The version's artifact file with its SHA-256 (`X-Gongyu-SHA256`, `ETag`); 404 for a
    caller the model is not open to, as for an unknown id."""
    started, asked = time.perf_counter(), statement(request)
    exists = bool(platform.models.versions(model_id))
    named = [grant_id_of(model_id)] if exists else []
    try:
        found = platform.models.downloadable(principal, model_id, version)
    except UnknownModel as exc:
        platform.audit.append(
            principal,
            AuditKind.download,
            asked,
            datasets=named,
            duration_ms=(time.perf_counter() - started) * 1000,
            outcome=Outcome.denied,
            error=str(exc),
        )
        return JSONResponse(NOT_FOUND, status_code=404)
    opened = platform.audit.append(
        principal, AuditKind.download, asked, datasets=named, outcome=Outcome.opened
    )
    size = found.artifact.size_bytes

    def sent() -> Iterator[bytes]:
        outcome, error = Outcome.ok, None
        try:
            with platform.models.artifact(found) as path, path.open("rb") as f:
                while block := f.read(CHUNK):
                    yield block
        except BaseException as exc:  # the client went away, or the store failed: still closed
            outcome, error = Outcome.cancelled, type(exc).__name__
            raise
        finally:
            platform.audit.append(
                principal,
                AuditKind.download,
                asked,
                datasets=named,
                bytes_out=size if outcome == Outcome.ok else None,
                duration_ms=(time.perf_counter() - started) * 1000,
                outcome=outcome,
                error=error,
                completes=opened.seq,
            )

    headers = {
        "Content-Disposition": f'attachment; filename="{found.artifact.filename}"',
        "Content-Length": str(size),
        "ETag": f'"{found.artifact.sha256}"',
        "X-Gongyu-SHA256": found.artifact.sha256,
    }
    return StreamingResponse(sent(), media_type="application/octet-stream", headers=headers)


@router.post(
    "/{model_id}/grants",
    status_code=201,
    response_model=Grant,
    responses=FAILURES,
    summary="Open a model to another agency (모델 이용 허가)",
)
def grant(
    model_id: str,
    asked: GrantAsked,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Audit,
) -> Response:
    """A grant on the model for an agency, purpose and period: the owner's steward only;
    recorded on the audit chain (`access`)."""
    try:
        made = platform.models.grant(principal, model_id, asked.agency, asked.purpose, asked.until)
    except ModelError as exc:
        audit.record(principal)
        return _refused(exc)
    return JSONResponse(made.model_dump(mode="json"), status_code=201)
