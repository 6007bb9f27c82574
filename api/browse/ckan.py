"""CKAN's action API (a read-only subset) at `/api/3/action/…` and `/api/action/…`, so CKAN
harvesters and the `ckanapi` client work unchanged.

Actions: `package_list`, `package_show`, `package_search` (q, fq with `organization:`,
`groups:`, `tags:`, `access_level:`; rows, start), `organization_list`, `organization_show`,
`group_list`, `group_show`. Agencies are organizations, sectors are groups. GET with query
parameters or POST with a JSON body; answers in CKAN's envelope and errors in CKAN's shapes.
`ckanapi` sends a key as a bare `Authorization: <key>` (and `X-CKAN-API-Key`): both are
accepted here, as is `Bearer`. Without valid credentials every action answers CKAN's 403
"Access denied", whatever the reason; an address blocked for too many failures gets 429 with
`Retry-After`, in the same envelope.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import Refused, authenticate_request, declared_purpose
from api.browse.audit import audit_later
from api.browse.ckan_model import group, organization, package
from api.browse.service import CatalogService
from api.deps import catalog_of
from api.ratelimit import RATE_LIMITED
from catalog.access.audit import Outcome
from catalog.access.principal import Principal
from catalog.entries import DatasetSummary, SearchFilters
from contracts.model import AccessLevel

# Refusals come in CKAN's envelope (`success: false`), as CKAN's clients expect them.
router = APIRouter(
    tags=["ckan"],
    responses={
        401: {"description": "No valid API key or token (CKAN's `Authorization Error`)."},
        429: RATE_LIMITED | {"description": f"{RATE_LIMITED['description']} (CKAN envelope)"},
    },
)
MAX_ROWS = 1000
_FQ = re.compile(r'\s*\+?(\w+):("[^"]*"|[^\s"]+)\s*')
_FQ_FIELDS = {"organization": "agency", "groups": "sector", "tags": "tag", "access_level": "access"}
_TRUE = {"true", "yes", "on", "1", "y", "t"}


class CkanError(Exception):
    """An action's failure as CKAN reports it: HTTP status, `__type`, and message or fields."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str = "",
        headers: dict[str, str] | None = None,
        **fields: list[str],
    ) -> None:
        super().__init__(message or kind)
        self.status, self.kind, self.message, self.fields = status, kind, message, fields
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The `error` object of CKAN's envelope."""
        detail = {"message": self.message} if self.message else self.fields
        return {"__type": self.kind, **detail}


def not_found() -> CkanError:
    """CKAN's 404: unknown, and another agency's private dataset alike."""
    return CkanError(404, "Not Found Error", "Not found")


def missing(name: str) -> CkanError:
    """CKAN's 409 for a required parameter left out."""
    return CkanError(409, "Validation Error", **{name: ["Missing value"]})


def _flag(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE


def _number(params: dict[str, Any], name: str, default: int, maximum: int | None = None) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        raise CkanError(409, "Validation Error", **{name: ["Invalid integer"]}) from None
    if value < 0:
        raise CkanError(409, "Validation Error", **{name: ["Must be a natural number"]})
    return min(value, maximum) if maximum is not None else value


def filters_of(fq: str) -> SearchFilters:
    """CKAN's filter query as search filters: `+field:value` terms, ANDed."""
    found: dict[str, str] = {}
    fq, at = fq.strip(), 0
    while at < len(fq):
        match = _FQ.match(fq, at)
        if match is None or match.group(1) not in _FQ_FIELDS:
            known = ", ".join(f"{f}:" for f in _FQ_FIELDS)
            raise CkanError(
                409, "Search Query Error", f"Search Query is invalid: fq supports {known}"
            )
        field, value = _FQ_FIELDS[match.group(1)], match.group(2).strip('"')
        if found.setdefault(field, value) != value:
            raise CkanError(
                409, "Search Query Error", f"Search Query is invalid: two {match.group(1)}: values"
            )
        at = match.end()
    if "access" in found and found["access"] not in set(AccessLevel):
        raise CkanError(409, "Search Query Error", "Search Query is invalid: unknown access_level")
    return SearchFilters.model_validate(found)


class Actions:
    """The supported actions for one caller."""

    def __init__(self, catalog: CatalogService, viewer: Principal, base: str) -> None:
        self.catalog = catalog
        self.viewer = viewer
        self.base = base
        self.registry = catalog.platform.registry
        self.touched: list[str] = []

    def run(self, action: str, params: dict[str, Any]) -> Any:
        """Run an action by name; CkanError for an unknown one."""
        if action not in ACTIONS:
            raise CkanError(400, "Bad Request", f"Bad request - Action name not known: {action}")
        return getattr(self, action)(params)

    def _packages(self, summaries: list[DatasetSummary]) -> list[dict[str, Any]]:
        out = []
        for summary in summaries:
            contract = self.catalog.contract(self.viewer, summary.id)
            if contract is not None:
                out.append(package(contract, summary, self.registry, self.base))
        return out

    def package_list(self, params: dict[str, Any]) -> list[str]:
        """Ids of every dataset the caller sees, sorted."""
        ids = sorted(c.id for c in self.catalog.visible(self.viewer))
        offset = _number(params, "offset", 0)
        limit = _number(params, "limit", len(ids))
        return ids[offset : offset + limit]

    def package_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One dataset as a package."""
        dataset_id = params.get("id") or params.get("name_or_id")
        if not dataset_id:
            raise missing("name_or_id")
        summary = self.catalog.summary(self.viewer, str(dataset_id))
        if summary is None:
            raise not_found()
        self.touched.append(summary.id)
        return self._packages([summary])[0]

    def package_search(self, params: dict[str, Any]) -> dict[str, Any]:
        """Datasets matching `q` and `fq`, a page of `rows` from `start`."""
        q = str(params.get("q") or "").strip()
        filters = filters_of(str(params.get("fq") or ""))
        rows = _number(params, "rows", 10, MAX_ROWS)
        start = _number(params, "start", 0)
        found = self.catalog.search(self.viewer, "" if q == "*:*" else q, filters, rows, start)
        return {
            "count": found.total,
            "sort": "score desc, metadata_modified desc",
            "facets": {},
            "search_facets": {},
            "results": self._packages([h.dataset for h in found.hits]),
        }

    def organization_list(self, params: dict[str, Any]) -> list[Any]:
        """Every agency: names, or whole organizations with `all_fields`."""
        cards = {c.id: c.datasets for c in self.catalog.agencies(self.viewer)}
        agencies = sorted(self.registry.agencies, key=lambda a: a.id)
        if not _flag(params, "all_fields"):
            return [a.id for a in agencies]
        return [organization(a, self.base, cards.get(a.id, 0)) for a in agencies]

    def organization_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One agency, with its datasets when `include_datasets`."""
        agency_id = params.get("id")
        if not agency_id:
            raise missing("id")
        page = self.catalog.agency(self.viewer, str(agency_id))
        agency = self.registry.agency(str(agency_id))
        if page is None or agency is None:
            raise not_found()
        found = organization(agency, self.base, page.agency.datasets)
        packages = self._packages(page.datasets) if _flag(params, "include_datasets") else []
        return {**found, "packages": packages, "users": [], "groups": [], "tags": []}

    def group_list(self, params: dict[str, Any]) -> list[Any]:
        """Every sector: names, or whole groups with `all_fields`."""
        cards = self.catalog.sectors(self.viewer)
        if not _flag(params, "all_fields"):
            return sorted(c.id for c in cards)
        sectors = {s.id: s for s in self.registry.sectors}
        return [
            group(sectors[c.id], self.base, c.datasets) for c in sorted(cards, key=lambda c: c.id)
        ]

    def group_show(self, params: dict[str, Any]) -> dict[str, Any]:
        """One sector, with its datasets when `include_datasets`."""
        sector_id = params.get("id")
        if not sector_id:
            raise missing("id")
        page = self.catalog.sector(self.viewer, str(sector_id))
        sector = self.registry.sector(str(sector_id))
        if page is None or sector is None:
            raise not_found()
        found = group(sector, self.base, page.sector.datasets)
        packages = self._packages(page.datasets) if _flag(params, "include_datasets") else []
        return {**found, "packages": packages, "users": [], "groups": [], "tags": []}


ACTIONS = frozenset(
    {
        "package_list",
        "package_show",
        "package_search",
        "organization_list",
        "organization_show",
        "group_list",
        "group_show",
    }
)


def ckan_principal(request: Request) -> Principal:
    """The caller of a CKAN request: one key or token, sent bare or as `Bearer` in
    `Authorization`, or in `X-CKAN-API-Key` or `X-API-Key` (the same one in several is fine).

    CkanError 403 "Access denied" without valid credentials, whatever the reason; 429 (with
    `Retry-After`) for a failure past the limit (`api.ratelimit`)."""
    denied = CkanError(403, "Authorization Error", "Access denied")
    sent = set()
    if header := request.headers.get("Authorization", "").strip():
        scheme, _, rest = header.partition(" ")
        sent.add(rest.strip() if scheme.lower() == "bearer" else header)
    for name in ("X-CKAN-API-Key", "X-API-Key"):
        if value := request.headers.get(name, "").strip():
            sent.add(value)
    if len(sent) != 1:
        raise denied  # none, or different ones: never guess which one was meant
    try:
        found = authenticate_request(request, sent.pop(), None)
    except Refused as refused:
        if refused.retry_after is None:
            raise denied from None
        headers = {"Retry-After": str(refused.retry_after)}
        raise CkanError(429, "Rate Limit Error", "Too many requests", headers=headers) from None
    purpose = declared_purpose(request.headers.get("X-Gongyu-Purpose"))
    return found.principal.model_copy(update={"purpose": purpose})


def _answer(
    help_url: str, status: int, payload: dict[str, Any], tasks: BackgroundTasks | None = None
) -> Response:
    body = json.dumps({"help": help_url, **payload}, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json", background=tasks)


def _failure(help_url: str, exc: CkanError, tasks: BackgroundTasks | None = None) -> Response:
    """An error in CKAN's envelope, with the error's headers."""
    answer = _answer(help_url, exc.status, {"success": False, "error": exc.body()}, tasks)
    answer.headers.update(exc.headers or {})
    return answer


async def _params(request: Request) -> dict[str, Any]:
    """Query parameters, and for POST the JSON body's fields on top."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST" and (raw := await request.body()):
        try:
            body = json.loads(raw)
        except ValueError:
            raise CkanError(
                400, "Bad Request", "Bad request - JSON Error: could not parse"
            ) from None
        if not isinstance(body, dict):
            raise CkanError(400, "Bad Request", "Bad request - JSON Error: not an object")
        params.update(body)
    return params


@router.get(
    "/api/3/action/{action}",
    summary="CKAN action (query parameters)",
    operation_id="ckan_action_get",
)
@router.post(
    "/api/3/action/{action}", summary="CKAN action (JSON body)", operation_id="ckan_action_post"
)
@router.api_route("/api/action/{action}", methods=["GET", "POST"], include_in_schema=False)
async def ckan_action(action: str, request: Request) -> Response:
    """A CKAN action (`package_list`, `package_show`, `package_search`, `organization_list`,
    `organization_show`, `group_list`, `group_show`) in CKAN's envelope."""
    started = time.perf_counter()
    help_url = f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"
    try:
        principal = ckan_principal(request)
    except CkanError as exc:
        return _failure(help_url, exc)
    actions = Actions(catalog_of(request), principal, str(request.base_url).rstrip("/"))
    tasks = BackgroundTasks()
    asked = None  # a POST's parameters, for the audit record (a GET's are in its URL)
    try:
        params = await _params(request)
        if request.method == "POST":
            asked = json.dumps(params, ensure_ascii=False, sort_keys=True, default=str)
        result = await run_in_threadpool(actions.run, action, params)
    except CkanError as exc:
        error = exc.message or exc.kind
        audit_later(
            tasks, request, principal, started, outcome=Outcome.error, error=error, body=asked
        )
        return _failure(help_url, exc, tasks)
    audit_later(tasks, request, principal, started, datasets=actions.touched, body=asked)
    return _answer(help_url, 200, {"success": True, "result": result}, tasks)
