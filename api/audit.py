"""`/api/v1/audit`: who read what. Operators see and export every record; a steward sees the
records that touched their agency's datasets, cut to what concerns them: a request that also
read other agencies' datasets is shown without its statement, error and hash and with only the
steward's datasets, and says so (`withheld`, in Korean and English). Reading the log is itself
audited (kind `audit`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.deps import platform_of
from catalog.access.audit import AuditKind, AuditLog, AuditRecord, Outcome
from catalog.access.principal import Principal, Role

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=AUTH_FAILURES)


WITHHELD = (
    "이 요청은 다른 기관의 데이터셋도 읽었으므로 문장, 오류와 그 데이터셋은 보이지 않습니다. "
    "The request also read other agencies' datasets: its statement, error and those datasets "
    "are withheld."
)


class ShownRecord(AuditRecord):
    """An audit record as its reader may see it: whole for operators; for a steward, without
    what concerns other agencies' datasets."""

    statement: str | None = Field(description="None when withheld.")  # type: ignore[assignment]
    # Withheld too: it would confirm a guessed statement.
    hash: str | None  # type: ignore[assignment]
    withheld: str | None = Field(
        None, description="Why parts of the record are not shown (Korean, then English)."
    )


class AuditPage(BaseModel):
    """Audit records, newest first."""

    records: list[ShownRecord]


def for_steward(record: AuditRecord, own: set[str]) -> ShownRecord:
    """The record as a steward owning the datasets `own` may see it."""
    mine = tuple(d for d in record.datasets if d in own)
    fields = record.model_dump()
    if len(mine) < len(record.datasets):
        withheld = {"statement": None, "error": None, "hash": None, "withheld": WITHHELD}
        fields |= {"datasets": mine, **withheld}
    return ShownRecord.model_validate(fields)


def _statement(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}"


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _deny(audit: AuditLog, principal: Principal, request: Request, started: float) -> NoReturn:
    message = "the audit log is open to operators and to stewards for their own datasets"
    audit.append(
        principal,
        AuditKind.audit,
        _statement(request),
        duration_ms=_elapsed_ms(started),
        outcome=Outcome.denied,
        error=message,
    )
    raise HTTPException(403, message)


@router.get("", response_model=AuditPage)
def audit_records(
    request: Request,
    principal: CurrentPrincipal,
    agency: Annotated[str | None, Query(description="Only requests by this agency.")] = None,
    dataset: Annotated[str | None, Query(description="Only requests touching it.")] = None,
    since: Annotated[datetime | None, Query(description="Only requests from then on.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """The newest audit records first: who read what, when, for what purpose, with what outcome.

    Operators see every record. A steward sees the records that touched their agency's datasets
    (who read their data); of a request that also read other agencies' datasets, only their own
    datasets, not its statement, error or hash (`withheld` says so). Other roles get 403.
    """
    started = time.perf_counter()
    platform = platform_of(request)
    own: set[str] | None = None
    if principal.role == Role.steward:
        own = {c.id for c in platform.contracts.values() if c.agency == principal.agency}
    elif principal.role != Role.operator:
        _deny(platform.audit, principal, request, started)
    scope = own
    if dataset:
        scope = {dataset} if own is None else own & {dataset}
    records = platform.audit.records(agency=agency, dataset_ids=scope, since=since, limit=limit)
    platform.audit.append(
        principal,
        AuditKind.audit,
        _statement(request),
        rows=len(records),
        duration_ms=_elapsed_ms(started),
    )
    if own is None:
        return AuditPage(records=[ShownRecord.model_validate(r.model_dump()) for r in records])
    return AuditPage(records=[for_steward(r, own) for r in records])


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def audit_export(request: Request, principal: CurrentPrincipal) -> StreamingResponse:
    """The whole audit log as JSON Lines, oldest first, streamed (operators only).

    Each line is a record's canonical JSON plus its `hash`: `gongyu audit verify --file` checks
    an exported file.
    """
    started = time.perf_counter()
    platform = platform_of(request)
    if principal.role != Role.operator:
        _deny(platform.audit, principal, request, started)
    return StreamingResponse(
        platform.audit.streamed_export(principal, _statement(request), started),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="gongyu-audit.jsonl"'},
    )
