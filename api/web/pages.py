"""The catalog's pages: home, sectors, agencies, a dataset and search, as each viewer may see
them. Each has a JSON twin under `/api/v1/catalog/` and, like it, one audit record (`catalog`).
A dataset page carries the 이용 신청 form for viewers whose agency may not read it whole; the
form posts here (`POST /datasets/{id}/request`), so a refused request shows on the same page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.browse.audit import CatalogAudit
from api.browse.service import CatalogService
from api.deps import catalog_of, platform_of
from api.web.access_forms import MAX_FIELDS, AskForm, Problem, ask_form, ask_terms, ask_values
from api.web.charts import freshness_bar, lineage_graph, quality_chart
from api.web.render import error_page, page
from api.web.search_view import active_filters, facets, hit_view, marked_words, search_href
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.policy import may_see
from catalog.access.principal import Principal
from catalog.access.requests import RequestError, RequestState
from catalog.access.sessions import Session
from catalog.entries import DatasetEntry, Kind, SearchFilters, SnapshotEntry
from catalog.freshness import FreshnessState
from contracts.model import AccessLevel

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]
Item = TypeVar("Item")


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


def dataset_context(entry: DatasetEntry, ask: AskForm | None = None) -> dict[str, Any]:
    """What the dataset template draws besides the entry: chart, bar, graph, console links and
    the request form (`ask`, None when the viewer has nothing to ask)."""

    def as_of_href(snapshot: SnapshotEntry) -> str:
        return console_href(f"SELECT * FROM {snapshot.table} LIMIT 100", snapshot.snapshot_id)

    return {
        "d": entry,
        "chart": quality_chart(entry.quality),
        "bar": freshness_bar(entry.freshness),
        "graph": lineage_graph(entry.lineage),
        "query_href": console_href(f"SELECT * FROM {entry.table} LIMIT 100"),
        "as_of_href": as_of_href,
        "ask": ask,
    }


@dataclass(frozen=True)
class Viewed:
    """A page request: the viewer's session and the request's audit record."""

    request: Request
    session: Session
    audit: CatalogAudit

    @property
    def principal(self) -> Principal:
        """Who views."""
        return self.session.principal

    @property
    def catalog(self) -> CatalogService:
        """The app's catalog service."""
        return catalog_of(self.request)

    def render(
        self,
        template: str,
        *,
        audit_datasets: Iterable[str] = (),
        audit_rows: int | None = None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Audit the request like its JSON twin (`audit_…`: what it showed), then draw
        `template` with `context`."""
        self.audit.record(self.principal, datasets=audit_datasets, rows=audit_rows)
        return page(self.request, template, session=self.session, status=status, **context)

    def not_found(self) -> HTMLResponse:
        """Audit the request and show 404, the same for unknown and hidden."""
        self.audit.record(self.principal)
        return error_page(self.request, self.session, 404, "error.not_found")

    def pager(self, items: Sequence[Item], total: int, number: int) -> Pager:
        """`items` (page `number` of `total`) with links to its neighbours."""
        return pager(self.request, items, total, number)


def viewed(
    request: Request, session: SignedIn, audit: Annotated[CatalogAudit, Depends()]
) -> Viewed:
    """The request as the catalog's pages see it."""
    return Viewed(request, session, audit)


View = Annotated[Viewed, Depends(viewed)]


@router.get("/", response_class=HTMLResponse)
def home(view: View) -> HTMLResponse:
    """The five sectors, recent publications and quarantines."""
    return view.render(
        "home.html", home=view.catalog.home(view.principal), json_href="/api/v1/catalog"
    )


@router.get("/sectors", response_class=HTMLResponse)
def sectors(view: View) -> HTMLResponse:
    """Every sector with its secretariat, member agencies and dataset counts."""
    return view.render(
        "sectors.html",
        sectors=view.catalog.sectors(view.principal),
        json_href="/api/v1/catalog/sectors",
    )


@router.get("/sectors/{sector_id}", response_class=HTMLResponse)
def sector(view: View, sector_id: str, number: PageNumber = 1) -> HTMLResponse:
    """A sector: its secretariat, member agencies and the datasets the viewer can see in it."""
    found = view.catalog.sector(view.principal, sector_id)
    if found is None:
        return view.not_found()
    return view.render(
        "sector.html",
        sector=found.sector,
        datasets=view.pager(window(found.datasets, number), len(found.datasets), number),
        json_href=f"/api/v1/catalog/sectors/{sector_id}",
    )


@router.get("/agencies/{agency_id}", response_class=HTMLResponse)
def agency(view: View, agency_id: str, number: PageNumber = 1) -> HTMLResponse:
    """An agency: its data desk, sectors and the datasets the viewer can see from it."""
    found = view.catalog.agency(view.principal, agency_id)
    if found is None:
        return view.not_found()
    return view.render(
        "agency.html",
        agency=found.agency,
        sectors=found.sectors,
        datasets=view.pager(window(found.datasets, number), len(found.datasets), number),
        json_href=f"/api/v1/catalog/agencies/{agency_id}",
    )


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset(view: View, dataset_id: str) -> HTMLResponse:
    """Everything about one dataset; absent (404) for viewers who may not know it exists."""
    entry = view.catalog.dataset(view.principal, dataset_id)
    if entry is None:
        return view.not_found()
    return _dataset_page(view, entry)


def _dataset_page(
    view: Viewed,
    entry: DatasetEntry,
    *,
    values: dict[str, Any] | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A dataset's page; after a refused request, its form filled in again with why."""
    platform = platform_of(view.request)
    contract = platform.contracts.get(entry.summary.id)
    ask = ask_form(platform, view.principal, contract, entry) if contract else None
    if ask is not None and values is not None:
        ask.values, ask.problem = values, problem
    return view.render(
        "dataset.html",
        audit_datasets=[entry.summary.id],
        audit_rows=len(entry.sample.rows),
        status=status,
        json_href=f"/api/v1/catalog/datasets/{entry.summary.id}",
        **dataset_context(entry, ask),
    )


def _ask(view: Viewed, dataset_id: str, form: FormData) -> Response:
    """Make the viewer's agency's request from the dataset page's form (as the JSON API's
    `POST /api/v1/access-requests`), then show it; a refusal shows the form again."""
    platform = platform_of(view.request)
    contract = platform.contracts.get(dataset_id)
    if contract is None or not may_see(view.principal, contract, platform.registry):
        return view.not_found()
    values = ask_values(form)
    try:
        made = platform.requests.create(view.principal, contract, **ask_terms(values))
    except RequestError as exc:
        entry = view.catalog.dataset(view.principal, dataset_id)
        if entry is None:
            return view.not_found()
        return _dataset_page(view, entry, values=values, problem=Problem.of(exc), status=exc.status)
    view.audit.record(view.principal, datasets=[dataset_id])
    done = "auto_approved" if made.state == RequestState.approved else "created"
    target = f"/requests/{made.request_id}?{urlencode({'done': done})}"
    return RedirectResponse(target, status_code=303)


@router.post("/datasets/{dataset_id}/request", response_class=HTMLResponse)
async def ask(view: View, dataset_id: str) -> Response:
    """The 이용 신청 form of a dataset page, checked for the session's CSRF token."""
    form = await view.request.form(max_files=0, max_fields=MAX_FIELDS)
    try:
        check_csrf(view.session, form.get("csrf_token"))
    except PageError as refused:
        view.audit.record(view.principal)
        return error_page(view.request, view.session, refused.status, refused.key)
    return await run_in_threadpool(_ask, view, dataset_id, form)


def _json_query(q: str, filters: SearchFilters) -> dict[str, str]:
    """The search's twin parameters (the JSON API pages with limit and offset, not pages)."""
    chosen = filters.model_dump(exclude_none=True, exclude={"tag"}, mode="json")
    return {"q": q, **chosen}


def _choice(value: str | None, allowed: set[str]) -> str | None:
    """A filter value from the form: None when empty or not one of `allowed`."""
    return value if value in allowed else None


@router.get("/search", response_class=HTMLResponse)
def search(
    view: View,
    q: Annotated[str, Query(max_length=200)] = "",
    sector: str | None = None,
    agency: str | None = None,
    access: str | None = None,
    freshness: str | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    kind: str | None = None,
    number: PageNumber = 1,
) -> HTMLResponse:
    """Search names, descriptions, columns and tags, in Korean or English, with filters."""
    registry = platform_of(view.request).registry
    filters = SearchFilters(
        sector=_choice(sector, {s.id for s in registry.sectors}),
        agency=_choice(agency, {a.id for a in registry.agencies}),
        access=_choice(access, set(AccessLevel)),
        freshness=_choice(freshness, set(FreshnessState)),
        tag=tag or None,
        kind=_choice(kind, set(Kind)),
    )
    offset = (number - 1) * PAGE_SIZE
    result = view.catalog.search(view.principal, q.strip(), filters, PAGE_SIZE, offset)
    path, params = view.request.url.path, view.request.query_params.multi_items()
    words = marked_words(view.catalog.index().plan(q.strip()))
    fixed = result.suggestion
    hits = [
        hit_view(hit, words, console_href(hit.starter_sql) if hit.starter_sql else None)
        for hit in result.hits
    ]
    return view.render(
        "search.html",
        q=q,
        filters=filters,
        hits=view.pager(hits, result.total, number),
        suggestion=fixed,
        suggestion_href=search_href(path, params, q=fixed) if fixed else None,
        facets=facets(path, params, result.facets, filters),
        active=active_filters(path, params, filters),
        sectors=registry.sectors,
        agencies=sorted(registry.agencies, key=lambda a: a.name),
        access_levels=list(AccessLevel),
        freshness_states=list(FreshnessState),
        kinds=list(Kind),
        json_href=f"/api/v1/catalog/search?{urlencode(_json_query(q, filters))}",
    )
