"""The 공동 활용 page: the joint-use board (`catalog.access.joint_use`) for the viewer, with an
agency × agency heat map. Secretariats see their sector in full, operators every sector (a
sector filter narrows it), everyone else the counts-only board of the whole commons: no
dataset ids, no waiting requests, no reasons. Its JSON and CSV twin is `/api/v1/joint-use`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.browse.audit import CatalogAudit
from api.deps import platform_of
from api.web.access_forms import Datasets, requestables
from api.web.render import page
from api.web.session import SignedIn
from catalog.access.joint_use import Board, board, matrix, sectors_overseen
from sectors.registry import Registry, Sector

router = APIRouter(include_in_schema=False)
LEVELS = 5  # shades of the heat map, besides empty


@dataclass(frozen=True)
class Cell:
    """One providing × using agency pair: its count and its shade (0: none, 1..LEVELS)."""

    n: int
    level: int


@dataclass(frozen=True)
class HeatMap:
    """The board's uses as a table: providing agencies down, using agencies across."""

    owners: list[str]
    users: list[str]
    cells: dict[str, dict[str, Cell]]
    top: int


def heat_map(found: Board, registry: Registry) -> HeatMap:
    """Owner → user → uses (grants + queries + downloads), shaded against the largest."""
    counts = matrix(found)

    def korean(agency_id: str) -> str:
        agency = registry.agency(agency_id)
        return agency.name if agency else agency_id

    owners = sorted(counts, key=korean)
    users = sorted({u for row in counts.values() for u in row}, key=korean)
    top = max((n for row in counts.values() for n in row.values()), default=0)
    cells = {
        owner: {
            user: Cell(n, math.ceil(LEVELS * n / top) if n and top else 0)
            for user in users
            for n in [counts[owner].get(user, 0)]
        }
        for owner in owners
    }
    return HeatMap(owners=owners, users=users, cells=cells, top=top)


def _choices(registry: Registry, overseen: set[str] | None) -> list[Sector]:
    """The sectors the viewer may narrow the board to (none on the counts-only board)."""
    if overseen is None:
        return list(registry.sectors)
    return [s for s in registry.sectors if s.id in overseen] if len(overseen) > 1 else []


@router.get("/joint-use", response_class=HTMLResponse)
def joint_use(
    request: Request,
    session: SignedIn,
    audit: Annotated[CatalogAudit, Depends()],
    sector: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Who uses whose data, and how requests fare, as far as the viewer may see."""
    platform, principal = platform_of(request), session.principal
    platform.requests.sweep()
    overseen = sectors_overseen(principal, platform.registry)
    choices = _choices(platform.registry, overseen)
    chosen = sector if sector in {s.id for s in choices} else None
    contracts = requestables(platform)  # a model's requests and grants show beside datasets'
    if chosen:
        contracts = {k: c for k, c in contracts.items() if c.sector == chosen}
    found = board(
        principal,
        platform.registry,
        contracts,
        platform.engine,
        platform.requests.all(),
        platform.grants.list(),
    )
    audit.record(principal, datasets=sorted({d for u in found.uses for d in u.datasets}))
    scope = [] if overseen is None else [s for s in platform.registry.sectors if s.id in overseen]
    return page(
        request,
        "joint.html",
        session=session,
        board=found,
        heat=heat_map(found, platform.registry),
        levels=LEVELS,
        scope=scope,
        choices=choices,
        chosen=chosen,
        datasets=Datasets(requestables(platform)),
        in_days=lambda days: timedelta(days=days),
        json_href="/api/v1/joint-use",
        csv_href="/api/v1/joint-use?format=csv",
    )
