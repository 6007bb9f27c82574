"""`GET /api/v1/datasets/{dataset_id}/download`: a whole published table as a file.

The answer is exactly the SQL API's to `SELECT * FROM <sector>.<dataset>` for the caller —
masked and row-filtered by the same sandbox — streamed as CSV, Parquet or Arrow IPC with a
file name; CKAN resources, DCAT distributions and the dataset page link here. A dataset the
caller may not read is answered exactly like an unknown id, by the same steps: the id is looked
up among the caller's own sandbox views only, so both are absent there alike (404, the same
record). A download is audited as a query is (kind `download`): opened before the first byte,
completed when the file has been sent.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.browse.audit import statement
from api.deps import Queries
from api.sql.answers import (
    EXTENSIONS,
    MEDIA,
    QUERY_FAILURES,
    Format,
    audit_query,
    error_answer,
    outcome_of,
    streamed,
)
from catalog.access.audit import AuditKind
from gongyu.query.query import QueryError

router = APIRouter(prefix="/api/v1", tags=["sql"], responses=AUTH_FAILURES)
# Every answer format but JSON, whose answers are built whole and cut at the row limit.
DownloadFormat = Literal["csv", "parquet", "arrow"]
NOT_FOUND = {"detail": "not found"}
BOM = "\ufeff".encode()


@router.get(
    "/datasets/{dataset_id}/download",
    responses={
        200: {"content": {MEDIA[f]: {} for f in EXTENSIONS}},
        400: {"description": "the query failed (e.g. its time limit)"},
        404: {"description": "unknown, or a dataset the caller may not read"},
        **QUERY_FAILURES,
    },
    summary="Download a dataset",
)
def download(
    dataset_id: str,
    request: Request,
    principal: CurrentPrincipal,
    queries: Queries,
    format: Annotated[DownloadFormat, Query(description="The file's format.")] = "csv",
    bom: Annotated[
        bool,
        Query(description="CSV only: begin with a UTF-8 byte order mark, so Excel reads Korean."),
    ] = False,
) -> Response:
    """The whole published table as the caller reads it (masked, row-filtered), as a file."""
    started = time.perf_counter()
    asked = statement(request)
    try:
        answer = queries.read_dataset(principal, dataset_id)
    except QueryError as exc:
        outcome = outcome_of(exc)
        audit_query(
            request,
            principal,
            asked,
            None,
            started,
            outcome,
            exc.message,
            AuditKind.download,
            datasets=exc.datasets,
        )
        return JSONResponse(NOT_FOUND, status_code=404) if exc.unknown_table else error_answer(exc)
    fmt = Format(format)
    headers = {"Content-Disposition": f'attachment; filename="{dataset_id}.{EXTENSIONS[fmt]}"'}
    prefix = BOM if bom and fmt == Format.csv else b""
    return streamed(
        request, principal, asked, answer, fmt, started, AuditKind.download, headers, prefix
    )
