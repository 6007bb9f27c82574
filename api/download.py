"""`GET /api/v1/datasets/{dataset_id}/download`: a whole published table as a file.

The answer is exactly the SQL API's to `SELECT * FROM <sector>.<dataset>` for the caller —
masked and row-filtered by the same sandbox — streamed as CSV, Parquet or Arrow IPC with a
file name; CKAN resources, DCAT distributions and the dataset page link here. A dataset the
caller may not read is answered exactly like an unknown id (404). Each download leaves one
audit record (kind `download`), written when the file has been sent.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import AUTH_FAILURES, CurrentPrincipal
from api.catalog_audit import statement
from api.query import QueryError, QueryService
from api.sandbox import quote
from api.sql import MEDIA, Format, audit_query, error_answer, outcome_of, service, streamed
from catalog.audit import AuditKind

router = APIRouter(prefix="/api/v1", tags=["sql"], responses=AUTH_FAILURES)
# Every answer format but JSON, whose answers are built whole and cut at the row limit.
DownloadFormat = Literal["csv", "parquet", "arrow"]
# `.arrows` is the extension of Arrow's IPC stream format (what is sent); `.arrow` is the file one.
EXTENSIONS = {Format.csv: "csv", Format.parquet: "parquet", Format.arrow: "arrows"}
NOT_FOUND = {"detail": "not found"}


def download_url(base: str, dataset_id: str, fmt: Format) -> str:
    """The address of a dataset's download in one format."""
    return f"{base}/api/v1/datasets/{dataset_id}/download?format={fmt.value}"


@router.get(
    "/datasets/{dataset_id}/download",
    responses={
        200: {"content": {MEDIA[f]: {} for f in EXTENSIONS}},
        400: {"description": "the query failed (e.g. its time limit)"},
        404: {"description": "unknown, or a dataset the caller may not read"},
    },
    summary="Download a dataset",
)
def download(
    dataset_id: str,
    request: Request,
    principal: CurrentPrincipal,
    queries: Annotated[QueryService, Depends(service)],
    format: Annotated[DownloadFormat, Query(description="The file's format.")] = "csv",
) -> Response:
    """The whole published table as the caller reads it (masked, row-filtered), as a file."""
    started = time.perf_counter()
    asked = statement(request)

    def failed(outcome: str, error: str) -> None:
        audit_query(request, principal, asked, None, started, outcome, error, AuditKind.download)

    contract = request.app.state.platform.contracts.get(dataset_id)
    if contract is None:
        failed("error", "not found")
        return JSONResponse(NOT_FOUND, status_code=404)
    sector, table = contract.table.split(".", 1)
    try:
        answer = queries.run(principal, f"SELECT * FROM {quote(sector)}.{quote(table)}")
    except QueryError as exc:
        failed(outcome_of(exc), exc.message)
        # The sandbox refuses a table the caller may not read exactly as an unknown one.
        if exc.unknown_table:
            return JSONResponse(NOT_FOUND, status_code=404)
        return error_answer(exc)
    fmt = Format(format)
    headers = {"Content-Disposition": f'attachment; filename="{contract.id}.{EXTENSIONS[fmt]}"'}
    return streamed(request, principal, asked, answer, fmt, started, AuditKind.download, headers)
