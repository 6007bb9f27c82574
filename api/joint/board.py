"""`GET /api/v1/joint-use`: who uses whose data, and how requests fare
(`catalog.access.joint_use`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit
from api.deps import PlatformDep
from catalog.access.joint_use import Board, board, board_csv

router = APIRouter(prefix="/api/v1/joint-use", tags=["joint use"], responses=AUTH_FAILURES)


@router.get(
    "",
    response_model=Board,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The joint-use board",
)
def joint_use(
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Annotated[CatalogAudit, Depends()],
    format: Annotated[Literal["json", "csv"], Query(description="JSON or CSV.")] = "json",
) -> Response:
    """Which agency uses which agency's datasets (grants, queries, rows, downloads), pending
    requests and their wait, time to decision and denials: a sector's in full for its
    secretariat, every sector for operators, counts only for every other member."""
    platform.requests.sweep()
    found = board(
        principal,
        platform.registry,
        {**platform.contracts, **platform.models.all_terms()},  # models' requests and grants too
        platform.engine,
        platform.requests.all(),
        platform.grants.list(),
    )
    audit.record(principal, datasets=sorted({d for u in found.uses for d in u.datasets}))
    if format == "csv":
        return Response(board_csv(found), media_type="text/csv; charset=utf-8")
    return Response(found.model_dump_json(), media_type="application/json")
