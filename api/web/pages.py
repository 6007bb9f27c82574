"""The catalog's pages: home, sectors, agencies, a dataset and search, as each viewer may see
them. Each has a JSON twin under `/api/v1/catalog/` and, like it, one audit record (`catalog`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import HTMLResponse

from api.catalog_audit import audit_later
from api.catalog_service import CatalogService
from api.web.charts import freshness_bar, lineage_graph, quality_chart
from api.web.render import error_page, page
from api.web.session import SignedIn
from catalog.entries import DatasetEntry, SearchFilters, SnapshotEntry
from catalog.freshness import FreshnessState
from contracts.model import AccessLevel

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]
Item = TypeVar("Item")


def catalog(request: Request) -> CatalogService:
    """The app's catalog service."""
    return request.app.state.catalog


@dataclass(frozen=True)
class Pager:
    """One page of a longer list, and links to its neighbours."""

    items: Sequence[object]
    total: int
    number: int
    previous: str | None
    next: str | None


def pager(request: Request, items: Sequence[Item], total: int, number: int) -> Pager:
    """`items` (page `number` of `total`) with links that keep the other query parameters."""

    def href(to: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        return f"{request.url.path}?{urlencode([*params, ('page', to)])}"

    more = (number - 1) * PAGE_SIZE + len(items) < total
    return Pager(
        items=items,
        total=total,
        number=number,
        previous=href(number - 1) if number > 1 else None,
        next=href(number + 1) if more else None,
    )


def window(items: Sequence[Item], number: int) -> Sequence[Item]:
    """Page `number` of a list held whole."""
    return items[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]


def console_href(sql: str, as_of: int | str | None = None) -> str:
    """A link that opens the SQL console with a query (and `as_of`) filled in."""
    params = {"sql": sql, **({"as_of": str(as_of)} if as_of is not None else {})}
    return f"/console?{urlencode(params)}"


def dataset_context(entry: DatasetEntry) -> dict[str, Any]:
    """What the dataset template draws besides the entry: chart, bar, graph and console links."""

    def as_of_href(snapshot: SnapshotEntry) -> str:
        return console_href(f"SELECT * FROM {snapshot.table} LIMIT 100", snapshot.snapshot_id)

    return {
        "d": entry,
        "chart": quality_chart(entry.quality),
        "bar": freshness_bar(entry.freshness),
        "graph": lineage_graph(entry.lineage),
        "query_href": console_href(f"SELECT * FROM {entry.table} LIMIT 100"),
        "as_of_href": as_of_href,
    }


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SignedIn, background: BackgroundTasks) -> HTMLResponse:
    """The five sectors, recent publications and quarantines."""
    started = time.perf_counter()
    entry = catalog(request).home(session.principal)
    audit_later(background, request, session.principal, started)
    return page(
        request,
        "home.html",
        session=session,
        home=entry,
        json_href="/api/v1/catalog",
    )


@router.get("/sectors", response_class=HTMLResponse)
def sectors(request: Request, session: SignedIn, background: BackgroundTasks) -> HTMLResponse:
    """Every sector with its secretariat, member agencies and dataset counts."""
    started = time.perf_counter()
    cards = catalog(request).sectors(session.principal)
    audit_later(background, request, session.principal, started)
    return page(
        request,
        "sectors.html",
        session=session,
        sectors=cards,
        json_href="/api/v1/catalog/sectors",
    )


@router.get("/sectors/{sector_id}", response_class=HTMLResponse)
def sector(
    request: Request,
    session: SignedIn,
    background: BackgroundTasks,
    sector_id: str,
    number: PageNumber = 1,
) -> HTMLResponse:
    """A sector: its secretariat, member agencies and the datasets the viewer can see in it."""
    started = time.perf_counter()
    found = catalog(request).sector(session.principal, sector_id)
    audit_later(background, request, session.principal, started)
    if found is None:
        return error_page(request, session, 404, "error.not_found")
    datasets = pager(request, window(found.datasets, number), len(found.datasets), number)
    return page(
        request,
        "sector.html",
        session=session,
        sector=found.sector,
        datasets=datasets,
        json_href=f"/api/v1/catalog/sectors/{sector_id}",
    )


@router.get("/agencies/{agency_id}", response_class=HTMLResponse)
def agency(
    request: Request,
    session: SignedIn,
    background: BackgroundTasks,
    agency_id: str,
    number: PageNumber = 1,
) -> HTMLResponse:
    """An agency: its data desk, sectors and the datasets the viewer can see from it."""
    started = time.perf_counter()
    found = catalog(request).agency(session.principal, agency_id)
    audit_later(background, request, session.principal, started)
    if found is None:
        return error_page(request, session, 404, "error.not_found")
    datasets = pager(request, window(found.datasets, number), len(found.datasets), number)
    return page(
        request,
        "agency.html",
        session=session,
        agency=found.agency,
        sectors=found.sectors,
        datasets=datasets,
        json_href=f"/api/v1/catalog/agencies/{agency_id}",
    )


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset(
    request: Request, session: SignedIn, background: BackgroundTasks, dataset_id: str
) -> HTMLResponse:
    """Everything about one dataset; absent (404) for viewers who may not know it exists."""
    started = time.perf_counter()
    entry = catalog(request).dataset(session.principal, dataset_id)
    if entry is None:
        audit_later(background, request, session.principal, started)
        return error_page(request, session, 404, "error.not_found")
    audit_later(
        background,
        request,
        session.principal,
        started,
        datasets=[dataset_id],
        rows=len(entry.sample.rows),
    )

    return page(
        request,
        "dataset.html",
        session=session,
        json_href=f"/api/v1/catalog/datasets/{dataset_id}",
        **dataset_context(entry),
    )


def _json_query(q: str, filters: SearchFilters) -> dict[str, str]:
    """The search's twin parameters (the JSON API pages with limit and offset, not pages)."""
    chosen = filters.model_dump(exclude_none=True, exclude={"tag"}, mode="json")
    return {"q": q, **chosen}


def _choice(value: str | None, allowed: set[str]) -> str | None:
    """A filter value from the form: None when empty or not one of `allowed`."""
    return value if value in allowed else None


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request,
    session: SignedIn,
    background: BackgroundTasks,
    q: Annotated[str, Query(max_length=200)] = "",
    sector: str | None = None,
    agency: str | None = None,
    access: str | None = None,
    freshness: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    number: PageNumber = 1,
) -> HTMLResponse:
    """Search names, descriptions, columns and tags, in Korean or English, with filters."""
    started = time.perf_counter()
    registry = request.app.state.platform.registry
    filters = SearchFilters(
        sector=_choice(sector, {s.id for s in registry.sectors}),
        agency=_choice(agency, {a.id for a in registry.agencies}),
        access=_choice(access, set(AccessLevel)),
        freshness=_choice(freshness, set(FreshnessState)),
        tag=tag or None,
    )
    offset = (number - 1) * PAGE_SIZE
    result = catalog(request).search(session.principal, q.strip(), filters, PAGE_SIZE, offset)
    audit_later(background, request, session.principal, started)
    return page(
        request,
        "search.html",
        session=session,
        q=q,
        filters=filters,
        hits=pager(request, result.hits, result.total, number),
        sectors=registry.sectors,
        agencies=sorted(registry.agencies, key=lambda a: a.name),
        access_levels=list(AccessLevel),
        freshness_states=list(FreshnessState),
        json_href=f"/api/v1/catalog/search?{urlencode(_json_query(q, filters))}",
    )
