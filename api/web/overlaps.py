"""The 공동 추진 후보 page: projects of different agencies that look alike, and published datasets
of different agencies that hold the same things, in the viewer's sectors, each pair with its
evidence (`catalog.ledger.overlaps`). Secretariats see the sectors they lead, operators every
sector, anyone else the sectors of their agency; a sector filter narrows it. Projects and
datasets the viewer may not see are left out. Its JSON twin is `/api/v1/overlaps`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.browse.audit import CatalogAudit
from api.deps import platform_of
from api.web.render import page
from api.web.session import SignedIn
from catalog.access.joint_use import sectors_overseen
from catalog.access.principal import Principal
from catalog.ledger.overlaps import ROWS_PER_COLUMN, dataset_overlaps, project_overlaps
from sectors.registry import Registry, Sector

router = APIRouter(include_in_schema=False)
SHOWN = 30  # pairs of each kind on the page; the API gives more


def scope(principal: Principal, registry: Registry) -> list[Sector]:
    """The sectors whose candidates the viewer is shown."""
    overseen = sectors_overseen(principal, registry)
    if overseen is None:
        return list(registry.sectors)
    if overseen:
        return [s for s in registry.sectors if s.id in overseen]
    return registry.sectors_of(principal.agency)


@router.get("/overlaps", response_class=HTMLResponse)
def overlaps(
    request: Request,
    session: SignedIn,
    audit: Annotated[CatalogAudit, Depends()],
    sector: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Candidates for joint promotion in the viewer's sectors, with the evidence."""
    platform, principal = platform_of(request), session.principal
    sectors = scope(principal, platform.registry)
    ids = {s.id for s in sectors}
    chosen = sector if sector in ids else (next(iter(ids)) if len(ids) == 1 else None)
    wanted = {chosen} if chosen else ids

    # Everything the viewer may see, then the pairs touching the sectors in view: a pair across
    # two sectors shows in both.
    projects = [
        p
        for p in project_overlaps(platform, chosen, limit=500, viewer=principal)
        if wanted & {*p.a.sectors, *p.b.sectors}
    ][:SHOWN]
    datasets = [
        d
        for d in dataset_overlaps(platform, limit=500, sector=chosen, viewer=principal)
        if wanted & {d.a.sector, d.b.sector}
    ][:SHOWN]
    named = {x for p in projects for x in p.shared_datasets} | {
        x for d in datasets for x in (d.a.id, d.b.id)
    }
    audit.record(principal, datasets=sorted(named))
    query = f"&sector={chosen}" if chosen else ""
    return page(
        request,
        "overlaps.html",
        session=session,
        scope=sectors,
        chosen=chosen,
        projects=projects,
        datasets=datasets,
        rows_per_column=ROWS_PER_COLUMN,
        projects_href=f"/api/v1/overlaps?kind=projects{query}",
        datasets_href=f"/api/v1/overlaps?kind=datasets{query}",
    )
