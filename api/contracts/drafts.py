"""`POST /api/v1/contracts/drafts`: a draft ODCS contract from a sample file (`quality.drafting`);
`POST /api/v1/contracts/drafts/product`: a joint product's, from its SQL.

A steward uploads a sample of a new dataset (multipart: `file`, `agency`, `dataset`, optional
`sector` and `cadence`) and gets the YAML of a draft contract to review, as
`gongyu contracts draft` prints it. Only a steward of `agency`, or an operator, may draft for it:
the draft shows what the file holds. The caller is authenticated before a byte of the body is
read; the upload is copied to a temporary file in blocks, bounded by `GONGYU_MAX_DELIVERY_BYTES`
(a sample is never larger than a delivery), and removed once the draft is written. Every request
is audited (`catalog`), refusals and unreadable files included.

A secretariat or a steward drafts a joint product of their own agency from its SQL (JSON): the
query runs as them through the SQL API's service and is audited as an SQL query
(`gongyu.products.draft`); a refused query answers 422 and a table they cannot see 404, in the
SQL API's words.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData, UploadFile

from api.auth import AUTH_FAILURES, CurrentPrincipal, Refusal
from api.browse.audit import CatalogAudit, audit_later
from api.deps import PlatformDep, Queries
from catalog.access.audit import Outcome
from catalog.access.principal import Principal, Role
from catalog.deliveries import DeliveryTooLarge
from contracts.model import AccessLevel, Aggregate
from gongyu.delivery.landing import draft_upload, upload_name
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from gongyu.products.draft import DRAFTERS, ProductDraft, draft_product
from gongyu.query.query import QueryError, QueryService
from quality.drafting import CADENCES

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"], responses=AUTH_FAILURES)
DRAFTS = "/drafts"
PRODUCT = "/drafts/product"
MAX_SQL_CHARS = 64 * 1024
# A failed product query's status: a table the caller cannot see is 404 (as unknown), no room
# to run it 429, anything else the caller can fix 422.
QUERY_STATUS = {"busy": 429}
DENIED = ("refused", "unavailable")  # query kinds audited as denied, as the SQL API does
FORM_OVERHEAD = 64 * 1024  # multipart framing and the small fields around the file
FIELDS = ("agency", "dataset", "sector", "cadence")
MAX_FIELD_CHARS = 200
YAML = "application/yaml"
YAML_UTF8 = f"{YAML}; charset=utf-8"


class Problem(BaseModel):
    """Why no draft was made."""

    detail: str


class QueryProblem(Problem):
    """Why a product's query gave no draft, in the SQL API's words and kind."""

    kind: str


class ProductRequest(BaseModel):
    """A joint product of the caller's agency to draft: its id, home sector and SQL."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=MAX_FIELD_CHARS, description="The product's id.")
    sql: str = Field(
        min_length=1,
        max_length=MAX_SQL_CHARS,
        description="One SELECT over `<sector>.<dataset>` tables (DuckDB dialect), as for "
        "`POST /api/v1/sql`.",
        examples=[
            "SELECT sido, count(*) AS fatal_accidents "
            "FROM welfare_safety.koroad_fatal_traffic_accidents GROUP BY 1"
        ],
    )
    sector: str | None = Field(
        None, max_length=MAX_FIELD_CHARS, description="Its home sector (default: the agency's)."
    )
    title: str | None = Field(None, max_length=300, description="Its title (Korean).")
    access: AccessLevel | None = Field(
        None, description="Its access level (default: the widest its inputs allow)."
    )
    aggregate: Aggregate | None = Field(
        None, description="Publish counts only: `countColumn` held to 0 or at least `k`."
    )


REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "agency", "dataset"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The sample: CSV/TSV (UTF-8, CP949, UTF-16), XLSX, "
                        "Parquet or JSON Lines.",
                    },
                    "agency": {"type": "string", "description": "The owning agency's id."},
                    "dataset": {"type": "string", "description": "The new dataset's id."},
                    "sector": {
                        "type": "string",
                        "description": "Its sector (default: the agency's first).",
                    },
                    "cadence": {"type": "string", "enum": list(CADENCES)},
                },
            }
        }
    },
}


def body_limits(settings: Settings) -> dict[str, int]:
    """The largest body the draft route reads (`api.middleware.bodylimit`): a sample file, no
    larger than a delivery, and its form."""
    return {router.prefix + DRAFTS: settings.max_delivery_bytes + FORM_OVERHEAD}


class _Refused(Exception):
    """A request answered with `status` and `detail` (and a failed query's `kind`) instead of
    a draft."""

    def __init__(
        self,
        status: int,
        detail: str,
        outcome: Outcome = Outcome.error,
        kind: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.outcome = status, detail, outcome
        self.kind, self.retry_after = kind, retry_after

    def answer(self) -> JSONResponse:
        """The refusal as the caller reads it."""
        body = {"detail": self.detail} | ({"kind": self.kind} if self.kind else {})
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def _fields(form: FormData) -> dict[str, str | None]:
    """The form's text fields; a missing required one, or one not text, is a 422."""
    found: dict[str, str | None] = {}
    for name in FIELDS:
        value = form.get(name)
        if value is not None and not isinstance(value, str):
            raise _Refused(422, f"{name} must be a text field, not a file")
        value = (value or "").strip() or None
        if value is not None and len(value) > MAX_FIELD_CHARS:
            raise _Refused(422, f"{name} is longer than {MAX_FIELD_CHARS} characters")
        found[name] = value
    for name in ("agency", "dataset"):
        if not found[name]:
            raise _Refused(422, f"the form needs a {name} field")
    return found


def _may_draft(principal: Principal, agency: str) -> None:
    """Only the agency's own stewards (and operators) see what a draft says of its file."""
    if principal.role == Role.operator:
        return
    if principal.role != Role.steward or principal.agency != agency:
        raise _Refused(
            403, f"only a steward of {agency!r} (or an operator) may draft its contracts",
            Outcome.denied,
        )  # fmt: skip


def _draft(platform: Platform, upload: UploadFile, fields: dict[str, str | None]) -> str:
    """The draft of the uploaded sample; a refusal for a file over the limit or not draftable."""
    try:
        return draft_upload(
            platform,
            upload_name(upload.filename),
            upload.file,
            agency=fields["agency"] or "",
            dataset=fields["dataset"] or "",
            sector=fields["sector"],
            cadence=fields["cadence"],
        )
    except DeliveryTooLarge as exc:
        raise _Refused(413, str(exc)) from None
    except ValueError as exc:
        raise _Refused(422, str(exc)) from None


@router.post(
    DRAFTS,
    summary="Draft a contract from a sample file",
    response_class=Response,
    responses={
        200: {
            "content": {YAML: {"schema": {"type": "string"}}},
            "description": "The draft contract (ODCS YAML) to review: `# suggested:` comments "
            "mark the privacy classifications to check.",
        },
        400: {"model": Problem, "description": "Not a multipart form."},
        403: {"model": Problem, "description": "Not a steward of the agency, nor an operator."},
        413: {"model": Problem, "description": "The file is over the delivery size limit."},
        422: {
            "model": Problem,
            "description": "A missing field, an unknown agency or sector, a bad dataset id or "
            "cadence, or a file the gate cannot read.",
        },
    },
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def draft(
    request: Request,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    audit: Annotated[CatalogAudit, Depends()],
) -> Response:
    """The YAML of a draft contract for the uploaded sample (`gongyu contracts draft`):
    names, types, keys, code sets, ranges, and the privacy detectors' suggested classification.
    """
    what = "draft"
    try:
        if principal.role not in (Role.steward, Role.operator):  # refused before the body is read
            raise _Refused(403, "only stewards and operators draft contracts", Outcome.denied)
        form = await request.form(max_files=1, max_fields=len(FIELDS))
        try:
            fields = _fields(form)
            upload = form.get("file")
            what = f"draft {fields['agency']}/{fields['dataset']}"
            _may_draft(principal, fields["agency"] or "")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise _Refused(422, "the form needs a file field holding the sample file")
            what += f" from {upload_name(upload.filename)}"
            text = await run_in_threadpool(_draft, platform, upload, fields)
        finally:
            await form.close()
    except _Refused as refused:
        audit_later(
            audit.background,
            request,
            principal,
            audit.started,
            outcome=refused.outcome,
            error=refused.detail,
            body=what,
        )
        return refused.answer()
    audit_later(audit.background, request, principal, audit.started, body=what)
    return Response(text, media_type=YAML_UTF8)


def _product_draft(
    platform: Platform, queries: QueryService, principal: Principal, body: ProductRequest
) -> ProductDraft:
    """The product's draft; a refusal for a caller who defines no products, a query refused
    or failed (in the SQL API's words), or a request the drafter cannot follow."""
    if principal.role not in DRAFTERS:
        raise _Refused(
            403, "only a steward or a secretariat defines its agency's products", Outcome.denied
        )
    try:
        return draft_product(
            platform,
            queries,
            principal,
            dataset=body.dataset,
            sql=body.sql,
            sector=body.sector,
            title=body.title,
            access=body.access,
            aggregate=body.aggregate,
        )
    except QueryError as exc:
        status = 404 if exc.unknown_table else QUERY_STATUS.get(exc.kind, 422)
        outcome = Outcome.denied if exc.kind in DENIED else Outcome.error
        raise _Refused(status, exc.message, outcome, exc.kind, exc.retry_after) from None
    except ValueError as exc:
        raise _Refused(422, str(exc)) from None


@router.post(
    PRODUCT,
    summary="Draft a joint product's contract from its SQL",
    response_class=Response,
    responses={
        200: {
            "content": {YAML: {"schema": {"type": "string"}}},
            "description": "The draft contract (ODCS YAML) with `customProperties.product` "
            "(the SQL inline, an aggregate if asked) and the suggested access level.",
        },
        403: {"model": Problem, "description": "Not a steward or a secretariat."},
        404: {"model": QueryProblem, "description": "A table the caller cannot see."},
        # No model: a body that breaks the schema gets FastAPI's own validation answer.
        422: {
            "description": "A refused or failed query (`detail` and `kind` as the SQL API's), a "
            "bad dataset id or sector, an empty result, or a countColumn the result lacks "
            "(`detail`); or a body that breaks the schema.",
        },
        429: {
            "model": QueryProblem | Refusal,
            "description": "Too many queries at once (kind `busy`), or too many failed "
            "authentications; try again after `Retry-After` seconds.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
)
def draft_from_sql(
    body: ProductRequest,
    request: Request,
    principal: CurrentPrincipal,
    platform: PlatformDep,
    queries: Queries,
    audit: Annotated[CatalogAudit, Depends()],
) -> Response:
    """The YAML of a draft contract for a joint product of your agency: the query runs as you
    (audited as an SQL query) and a sample of its result is drafted as a sample file is."""
    what = f"draft product {principal.agency}/{body.dataset}"
    try:
        drafted = _product_draft(platform, queries, principal, body)
    except _Refused as refused:
        audit_later(
            audit.background, request, principal, audit.started,
            outcome=refused.outcome, error=refused.detail, body=what,
        )  # fmt: skip
        return refused.answer()
    audit_later(
        audit.background, request, principal, audit.started, datasets=drafted.inputs, body=what
    )
    return Response(drafted.yaml, media_type=YAML_UTF8)
