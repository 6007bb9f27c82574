"""`GET /api/v1/overlaps`: pairs of projects, or of published datasets, that look alike across
agencies, each with a score and the evidence (`catalog.ledger.overlaps`).

Projects the caller may not see (another agency's `public: false` one, unless the caller is of
its sectors' secretariats or an operator) and datasets whose catalog entry the caller may not
see (another agency's private one) are left out before pairs are formed. Audited as a catalog
read, naming the datasets the evidence names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit
from api.deps import PlatformDep
from catalog.ledger.overlaps import (
    ROWS_PER_COLUMN,
    DatasetOverlap,
    Overlap,
    dataset_overlaps,
    project_overlaps,
)

router = APIRouter(prefix="/api/v1/overlaps", tags=["AI ledger"], responses=AUTH_FAILURES)


class Overlaps(BaseModel):
    """Pairs that look alike, best first."""

    kind: Literal["projects", "datasets"]
    sector: str | None = Field(description="Pairs with at least one side in this sector.")
    pairs: list[Overlap] | list[DatasetOverlap]
    rows_per_column: int | None = Field(
        None, description="Datasets: the most rows read of a table for value overlap."
    )


@router.get(
    "",
    response_model=Overlaps,
    responses={404: {"description": "Unknown sector."}},
    summary="Overlapping projects or datasets (중복·유사 사업과 데이터)",
)
def overlaps(
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Annotated[CatalogAudit, Depends()],
    kind: Annotated[
        Literal["projects", "datasets"], Query(description="Pairs of projects or of datasets.")
    ] = "projects",
    sector: Annotated[str | None, Query(max_length=64, description="A sector id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Most pairs returned.")] = 50,
) -> Response:
    """Candidates for joint promotion: projects of different lead agencies scored by
    Korean-aware text similarity, shared datasets, models and sectors; or published datasets of
    different agencies scored by schema similarity and MinHash value overlap of identifier-like
    columns. Each pair carries its evidence."""
    if sector is not None and platform.registry.sector(sector) is None:
        audit.record(principal)
        return JSONResponse({"detail": f"unknown sector {sector!r}"}, status_code=404)
    if kind == "projects":
        projects = project_overlaps(platform, sector, limit, viewer=principal)
        named = {d for p in projects for d in p.shared_datasets}
        answer = Overlaps(kind=kind, sector=sector, pairs=projects)
    else:
        datasets = dataset_overlaps(platform, limit, sector=sector, viewer=principal)
        named = {d for p in datasets for d in (p.a.id, p.b.id)}
        answer = Overlaps(kind=kind, sector=sector, pairs=datasets, rows_per_column=ROWS_PER_COLUMN)
    audit.record(principal, datasets=sorted(named))
    return Response(answer.model_dump_json(), media_type="application/json")
