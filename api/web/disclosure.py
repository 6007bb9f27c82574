"""The public disclosure of AI use (`catalog.ledger.disclosure`): `/disclosure` (page),
`/disclosure.json` and `/disclosure.csv`.

Open to a request with no credential when `GONGYU_DISCLOSURE_PUBLIC` is on (the default), read
as an anonymous principal and audited like any catalog read; off, the page signs the viewer in
and the exports need a key, token or session like every route. A key or token that is presented
is checked as everywhere (a wrong one is 401); a session cookie that is no longer live is
ignored on the open disclosure, as the answer is the same for everyone.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import AUTH_FAILURES, ApiKey, Bearer, Purpose, current_principal
from api.browse.audit import CatalogAudit
from api.deps import PlatformDep, platform_of
from api.web.i18n import Lang, Translator
from api.web.render import page
from api.web.session import SignInRequired, current_session
from catalog.access.principal import Principal, anonymous
from catalog.ledger.disclosure import (
    DatasetsByAccess,
    Disclosure,
    Figures,
    ProjectsByStatus,
    disclosure,
)
from gongyu.platform import Platform

router = APIRouter(tags=["disclosure"])
BOM = "\ufeff"


class HeaderStyle(StrEnum):
    """The CSV's header row: Korean labels, or the JSON's field names."""

    ko = "ko"
    en = "en"


class Table(StrEnum):
    """Which table the CSV holds."""

    agencies = "agencies"
    projects = "projects"


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def reader(
    request: Request,
    bearer: Bearer,
    api_key: ApiKey,
    purpose: Purpose = None,
) -> Principal:
    """Who reads an export: the caller's credential as on every route, or, when the disclosure
    is public and none is presented, the signed-in viewer or an anonymous principal."""
    if platform_of(request).settings.disclosure_public and not (bearer or api_key):
        session = current_session(request)
        return session.principal if session else anonymous(_client(request))
    return await current_principal(request, bearer, api_key, purpose)


Reader = Annotated[Principal, Depends(reader)]


def figures_now(platform: Platform) -> Disclosure:
    """The disclosure as the settings shape it."""
    return disclosure(
        platform.engine,
        platform.registry,
        platform.contracts,
        list_projects=platform.settings.disclosure_projects,
    )


@router.get("/disclosure", response_class=HTMLResponse, include_in_schema=False)
def disclosure_page(request: Request, audit: Annotated[CatalogAudit, Depends()]) -> HTMLResponse:
    """AI projects, shared models, datasets shared and received and joint uses per agency,
    one table per sector (counts only)."""
    platform = platform_of(request)
    session = current_session(request)
    if session is None and not platform.settings.disclosure_public:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query)
    found = figures_now(platform)
    audit.record(session.principal if session else anonymous(_client(request)))
    return page(
        request,
        "disclosure.html",
        session=session,
        found=found,
        wide=True,
        json_href="/disclosure.json",
    )


@router.get("/disclosure.json", response_model=Disclosure, responses=AUTH_FAILURES)
def disclosure_json(
    principal: Reader, platform: PlatformDep, audit: Annotated[CatalogAudit, Depends()]
) -> Response:
    """The public disclosure of AI use: per sector, each agency's projects by status (and the
    titles of those marked `public`), shared models, published datasets by access level
    (counts), grants held, and other agencies' uses in the last 12 months (counts). Open
    without credentials unless `GONGYU_DISCLOSURE_PUBLIC` is off."""
    found = figures_now(platform)
    audit.record(principal)
    return Response(found.model_dump_json(), media_type="application/json")


@router.get(
    "/disclosure.csv",
    responses={200: {"content": {"text/csv": {}}}, **AUTH_FAILURES},
    summary="The public disclosure of AI use as CSV",
)
def disclosure_csv(
    principal: Reader,
    platform: PlatformDep,
    audit: Annotated[CatalogAudit, Depends()],
    table: Annotated[
        Table,
        Query(
            description="`agencies`: a row per agency and sector, with totals; `projects`: "
            "the listed projects."
        ),
    ] = Table.agencies,
    header: Annotated[
        HeaderStyle,
        Query(description="`ko`: Korean column labels; `en`: the JSON's field names."),
    ] = HeaderStyle.ko,
    bom: Annotated[
        bool, Query(description="Begin with a UTF-8 byte order mark, so Excel reads Korean.")
    ] = False,
) -> Response:
    """The disclosure's agency table (or its listed projects) as CSV, UTF-8."""
    found = figures_now(platform)
    audit.record(principal)
    text = agencies_csv(found, header) if table == Table.agencies else projects_csv(found, header)
    return Response(
        (BOM if bom else "") + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="disclosure-{table.value}.csv"'},
    )


FIGURE_COLUMNS = (
    *(f"projects_{s}" for s in ProjectsByStatus.model_fields),
    "projects_unlisted",
    "models_shared",
    *(f"datasets_{level}" for level in DatasetsByAccess.model_fields),
    "datasets_received",
    "joint_users",
    "joint_reads",
)
AGENCY_COLUMNS = (
    "row",
    "sector",
    "sector_name",
    "sector_name_en",
    "agency",
    "agency_name",
    "agency_name_en",
    *FIGURE_COLUMNS,
)
PROJECT_COLUMNS = (
    "sector",
    "agency",
    "project",
    "title",
    "title_en",
    "status",
    "start",
    "end",
    "budget",
    "partners",
)


def _header(columns: tuple[str, ...], style: HeaderStyle) -> list[str]:
    t = Translator(Lang.ko)
    return [t(f"disclosure.csv.{c}") if style == HeaderStyle.ko else c for c in columns]


def _figures(f: Figures) -> list[int]:
    by_status = list(f.projects.model_dump().values())
    by_access = list(f.datasets_shared.model_dump().values())
    return [
        *by_status,
        f.projects_unlisted,
        f.models_shared,
        *by_access,
        f.datasets_received,
        f.joint_users,
        f.joint_reads,
    ]


def _write(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def agencies_csv(found: Disclosure, style: HeaderStyle) -> str:
    """A row per agency and sector, a total row per sector, and the commons' total last
    (`row`: `agency`, `sector_total` or `total`)."""
    rows: list[list[object]] = []
    for table in found.sectors:
        sector = [table.sector, table.name, table.name_en]
        for a in table.agencies:
            rows.append(["agency", *sector, a.agency, a.name, a.name_en, *_figures(a)])
        rows.append(["sector_total", *sector, "", "", "", *_figures(table.total)])
    rows.append(["total", "", "", "", "", "", "", *_figures(found.total)])
    return _write(_header(AGENCY_COLUMNS, style), rows)


def projects_csv(found: Disclosure, style: HeaderStyle) -> str:
    """A row per listed project in each of its sectors (none when listing is off)."""
    rows: list[list[object]] = [
        [
            table.sector,
            a.agency,
            p.id,
            p.title,
            p.title_en or "",
            p.status.value,
            p.start.isoformat(),
            p.end.isoformat() if p.end else "",
            p.budget.value,
            " ".join(p.partners),
        ]
        for table in found.sectors
        for a in table.agencies
        for p in a.listed
    ]
    return _write(_header(PROJECT_COLUMNS, style), rows)
