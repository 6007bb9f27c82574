"""`/api/v1/catalog/…`: everything the catalog's pages show, as JSON (the models of
`catalog.entries`).

Another agency's private dataset is answered exactly like an unknown id (404), and is absent
from every list, count and search. Each request leaves one audit record (kind `catalog`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, TypeAdapter

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import CatalogAudit
from api.browse.service import CatalogService
from api.deps import Catalog
from catalog.access.principal import Principal
from catalog.entries import (
    AgencyCard,
    AgencyPage,
    DatasetEntry,
    DatasetSummary,
    Home,
    Kind,
    SearchFilters,
    SearchResult,
    SectorCard,
    SectorPage,
)
from catalog.freshness import FreshnessState
from contracts.model import AccessLevel
from contracts.redact import without_raw_examples

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"], responses=AUTH_FAILURES)
NOT_FOUND = {404: {"description": "unknown, or another agency's private dataset"}}


@dataclass(frozen=True)
class Asked:
    """A catalog request: who asks, the catalog, and the request's audit record."""

    principal: Principal
    catalog: CatalogService
    audit: CatalogAudit

    def reply(
        self,
        answer: BaseModel | list | Response,
        adapter: TypeAdapter | None = None,
        *,
        datasets: Iterable[str] = (),
        rows: int | None = None,
    ) -> Response:
        """Audit the request and answer it: a model as JSON, serialised once (the route's
        `response_model` documents it), or a response made already."""
        self.audit.record(self.principal, datasets=datasets, rows=rows)
        if isinstance(answer, Response):
            return answer
        body = adapter.dump_json(answer) if adapter else answer.model_dump_json()  # type: ignore[union-attr]
        return Response(body, media_type="application/json")

    def not_found(self) -> JSONResponse:
        """Audit the request and answer 404, the same for unknown and hidden."""
        self.audit.record(self.principal)
        return JSONResponse({"detail": "not found"}, status_code=404)


def asked(
    principal: CurrentPrincipal,
    catalog: Catalog,
    audit: Annotated[CatalogAudit, Depends()],
) -> Asked:
    """The request as the catalog's routes see it."""
    return Asked(principal, catalog, audit)


Ask = Annotated[Asked, Depends(asked)]
_SECTORS = TypeAdapter(list[SectorCard])
_AGENCIES = TypeAdapter(list[AgencyCard])
_DATASETS = TypeAdapter(list[DatasetSummary])


@router.get("", response_model=Home, summary="The catalog's home")
def home(ask: Ask) -> Response:
    """The five sectors with their secretariat, agencies and dataset counts; recent
    publications and quarantines."""
    return ask.reply(ask.catalog.home(ask.principal))


@router.get("/sectors", response_model=list[SectorCard], summary="Sectors")
def sectors(ask: Ask) -> Response:
    """Every sector leadership group with its secretariat, member agencies and dataset counts."""
    return ask.reply(ask.catalog.sectors(ask.principal), _SECTORS)


@router.get("/sectors/{sector_id}", response_model=SectorPage, responses=NOT_FOUND)
def sector(sector_id: str, ask: Ask) -> Response:
    """A sector and its datasets."""
    answer = ask.catalog.sector(ask.principal, sector_id)
    return ask.reply(answer) if answer else ask.not_found()


@router.get("/agencies", response_model=list[AgencyCard], summary="Agencies")
def agencies(ask: Ask) -> Response:
    """Every agency with its contact, sectors and the number of its datasets."""
    return ask.reply(ask.catalog.agencies(ask.principal), _AGENCIES)


@router.get("/agencies/{agency_id}", response_model=AgencyPage, responses=NOT_FOUND)
def agency(agency_id: str, ask: Ask) -> Response:
    """An agency, its sectors and its datasets."""
    answer = ask.catalog.agency(ask.principal, agency_id)
    return ask.reply(answer) if answer else ask.not_found()


@router.get("/datasets", response_model=list[DatasetSummary], summary="Datasets")
def datasets(ask: Ask) -> Response:
    """Every dataset the caller sees, by sector and title."""
    return ask.reply(ask.catalog.datasets(ask.principal), _DATASETS)


@router.get("/datasets/{dataset_id}", response_model=DatasetEntry, responses=NOT_FOUND)
def dataset(dataset_id: str, ask: Ask) -> Response:
    """A dataset's page: schema, contract versions and diffs, quality history, freshness,
    snapshots, lineage, usage and sample rows masked for the caller, and the joint products
    that read it (`used_by`); for a joint product (`summary.kind` product) also its SQL, its
    inputs with their agencies and its builds (`product`)."""
    answer = ask.catalog.dataset(ask.principal, dataset_id)
    if answer is None:
        return ask.not_found()
    return ask.reply(answer, datasets=[dataset_id], rows=len(answer.sample.rows))


@router.get(
    "/datasets/{dataset_id}/contract",
    responses={200: {"content": {"application/yaml": {}}}, **NOT_FOUND},
    summary="A dataset's contract (ODCS YAML)",
)
def contract(dataset_id: str, ask: Ask) -> Response:
    """The dataset's current data contract as its steward wrote it (Open Data Contract
    Standard v3, YAML); outside the owning agency without the raw examples of personal
    columns."""
    found = ask.catalog.contract(ask.principal, dataset_id)
    if found is None:
        return ask.not_found()
    text = found.path.read_text(encoding="utf-8")
    if ask.principal.agency != found.agency:
        text = without_raw_examples(found, text)
    return ask.reply(Response(text, media_type="application/yaml"), datasets=[dataset_id])


@router.get("/search", response_model=SearchResult, summary="Search datasets")
def search(
    ask: Ask,
    q: Annotated[str, Query(max_length=200, description="Words, Korean or English.")] = "",
    sector: str | None = None,
    agency: str | None = None,
    access: AccessLevel | None = None,
    freshness: FreshnessState | None = None,
    tag: Annotated[str | None, Query(description="Only datasets with this tag.")] = None,
    kind: Annotated[
        Kind | None, Query(description="dataset or product (joint products only).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Datasets and joint products (`kind` in each hit) matching every word of `q` in names,
    titles, descriptions, columns, tags, agency and sector names (partial words match: 먼지,
    대기, air qual), best first; a product after the matching datasets it reads."""
    filters = SearchFilters(
        sector=sector,
        agency=agency,
        access=access,
        freshness=freshness.value if freshness else None,
        tag=tag,
        kind=kind,
    )
    return ask.reply(ask.catalog.search(ask.principal, q, filters, limit, offset))
