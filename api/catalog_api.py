"""`/api/v1/catalog/…`: everything the catalog's pages show, as JSON (the models of
`catalog.entries`).

Another agency's private dataset is answered exactly like an unknown id (404), and is absent
from every list, count and search. Each request leaves one audit record (kind `catalog`).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, TypeAdapter

from api.auth import CurrentPrincipal
from api.catalog_audit import audit_later
from api.catalog_service import CatalogService
from catalog.entries import (
    AgencyCard,
    AgencyPage,
    DatasetEntry,
    DatasetSummary,
    Home,
    SearchFilters,
    SearchResult,
    SectorCard,
    SectorPage,
)
from catalog.freshness import FreshnessState
from contracts.model import AccessLevel

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
NOT_FOUND = {404: {"description": "unknown, or another agency's private dataset"}}


async def service(request: Request) -> CatalogService:
    """The app's catalog service."""
    return request.app.state.catalog


Catalog = Annotated[CatalogService, Depends(service)]


def _json(value: BaseModel | list, adapter: TypeAdapter | None = None) -> Response:
    """The model as JSON, serialised once (the route's `response_model` documents it)."""
    body = adapter.dump_json(value) if adapter else value.model_dump_json()  # type: ignore[union-attr]
    return Response(body, media_type="application/json")


def _not_found() -> JSONResponse:
    return JSONResponse({"detail": "not found"}, status_code=404)


_SECTORS = TypeAdapter(list[SectorCard])
_AGENCIES = TypeAdapter(list[AgencyCard])
_DATASETS = TypeAdapter(list[DatasetSummary])


@router.get("", response_model=Home, summary="The catalog's home")
def home(
    request: Request, principal: CurrentPrincipal, catalog: Catalog, background: BackgroundTasks
) -> Response:
    """The five sectors with their secretariat, agencies and dataset counts; recent
    publications and quarantines."""
    started = time.perf_counter()
    answer = catalog.home(principal)
    audit_later(background, request, principal, started)
    return _json(answer)


@router.get("/sectors", response_model=list[SectorCard], summary="Sectors")
def sectors(
    request: Request, principal: CurrentPrincipal, catalog: Catalog, background: BackgroundTasks
) -> Response:
    """Every sector leadership group with its secretariat, member agencies and dataset counts."""
    started = time.perf_counter()
    answer = catalog.sectors(principal)
    audit_later(background, request, principal, started)
    return _json(answer, _SECTORS)


@router.get("/sectors/{sector_id}", response_model=SectorPage, responses=NOT_FOUND)
def sector(
    sector_id: str,
    request: Request,
    principal: CurrentPrincipal,
    catalog: Catalog,
    background: BackgroundTasks,
) -> Response:
    """A sector and its datasets."""
    started = time.perf_counter()
    answer = catalog.sector(principal, sector_id)
    audit_later(background, request, principal, started)
    return _json(answer) if answer else _not_found()


@router.get("/agencies", response_model=list[AgencyCard], summary="Agencies")
def agencies(
    request: Request, principal: CurrentPrincipal, catalog: Catalog, background: BackgroundTasks
) -> Response:
    """Every agency with its contact, sectors and the number of its datasets."""
    started = time.perf_counter()
    answer = catalog.agencies(principal)
    audit_later(background, request, principal, started)
    return _json(answer, _AGENCIES)


@router.get("/agencies/{agency_id}", response_model=AgencyPage, responses=NOT_FOUND)
def agency(
    agency_id: str,
    request: Request,
    principal: CurrentPrincipal,
    catalog: Catalog,
    background: BackgroundTasks,
) -> Response:
    """An agency, its sectors and its datasets."""
    started = time.perf_counter()
    answer = catalog.agency(principal, agency_id)
    audit_later(background, request, principal, started)
    return _json(answer) if answer else _not_found()


@router.get("/datasets", response_model=list[DatasetSummary], summary="Datasets")
def datasets(
    request: Request, principal: CurrentPrincipal, catalog: Catalog, background: BackgroundTasks
) -> Response:
    """Every dataset the caller sees, by sector and title."""
    started = time.perf_counter()
    answer = catalog.datasets(principal)
    audit_later(background, request, principal, started)
    return _json(answer, _DATASETS)


@router.get("/datasets/{dataset_id}", response_model=DatasetEntry, responses=NOT_FOUND)
def dataset(
    dataset_id: str,
    request: Request,
    principal: CurrentPrincipal,
    catalog: Catalog,
    background: BackgroundTasks,
) -> Response:
    """A dataset's page: schema, contract versions and diffs, quality history, freshness,
    snapshots, lineage, usage and sample rows masked for the caller."""
    started = time.perf_counter()
    answer = catalog.dataset(principal, dataset_id)
    if answer is None:
        audit_later(background, request, principal, started)
        return _not_found()
    rows = len(answer.sample.rows)
    audit_later(background, request, principal, started, datasets=[dataset_id], rows=rows)
    return _json(answer)


@router.get(
    "/datasets/{dataset_id}/contract",
    responses={200: {"content": {"application/yaml": {}}}, **NOT_FOUND},
    summary="A dataset's contract (ODCS YAML)",
)
def contract(
    dataset_id: str,
    request: Request,
    principal: CurrentPrincipal,
    catalog: Catalog,
    background: BackgroundTasks,
) -> Response:
    """The dataset's current data contract as its steward wrote it (Open Data Contract
    Standard v3, YAML)."""
    started = time.perf_counter()
    found = catalog.contract(principal, dataset_id)
    audit_later(background, request, principal, started, datasets=[dataset_id] if found else [])
    if found is None:
        return _not_found()
    return Response(found.path.read_text(encoding="utf-8"), media_type="application/yaml")


@router.get("/search", response_model=SearchResult, summary="Search datasets")
def search(
    request: Request,
    principal: CurrentPrincipal,
    catalog: Catalog,
    background: BackgroundTasks,
    q: Annotated[str, Query(max_length=200, description="Words, Korean or English.")] = "",
    sector: str | None = None,
    agency: str | None = None,
    access: AccessLevel | None = None,
    freshness: FreshnessState | None = None,
    tag: Annotated[str | None, Query(description="Only datasets with this tag.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Datasets matching every word of `q` in names, titles, descriptions, columns, tags,
    agency and sector names (partial words match: 먼지, 대기, air qual), best first."""
    started = time.perf_counter()
    filters = SearchFilters(
        sector=sector,
        agency=agency,
        access=access,
        freshness=freshness.value if freshness else None,
        tag=tag,
    )
    answer = catalog.search(principal, q, filters, limit, offset)
    audit_later(background, request, principal, started)
    return _json(answer)
