"""`POST /api/v1/sql`: a caller's query as JSON, CSV, Arrow IPC or Parquet.

CSV and Arrow stream batch by batch, so an answer of any size never sits in memory; JSON and
Parquet are built whole and stop at the row limit (`truncated` says so). A query refused or
failed before it runs leaves one audit record; a query that runs leaves an opening record,
written while DuckDB works and before any of its data leaves, and a completing record once the
answer has been sent or has failed (in DuckDB too), so a request cut off by a crash is still on
the chain. An answer that cannot be
written in the format asked for is a clean 400, a fault of the server a clean 500: both
recorded, neither with a traceback.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.auth import AUTH_FAILURES, current_principal
from api.deps import PlatformDep, Queries
from api.sql.answers import (
    MEDIA,
    QUERY_FAILURES,
    ErrorAnswer,
    Format,
    audit_query,
    error_answer,
    internal,
    open_query,
    outcome_of,
    streamed,
    unwritable,
    write_parquet,
)
from catalog.access.audit import AuditRecord
from catalog.access.principal import Principal
from gongyu.query.query import Answer, QueryError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["sql"], responses=AUTH_FAILURES)


class SqlRequest(BaseModel):
    """A query: DuckDB SQL over `<sector>.<dataset>` tables."""

    sql: str = Field(
        min_length=1,
        examples=[
            "SELECT sido, count(*) FROM welfare_safety.koroad_fatal_traffic_accidents GROUP BY 1"
        ],
    )
    format: Format = Format.json
    as_of: str | int | None = Field(
        None, description="A snapshot id or an ISO timestamp (no zone: Korea's): query the past."
    )


class Column(BaseModel):
    """A result column: name and DuckDB/Arrow type."""

    name: str
    type: str


class JsonAnswer(BaseModel):
    """A JSON answer: columns, rows (lists in column order) and whether the row limit cut it."""

    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


class BodyError(BaseModel):
    """A request body that is not JSON at all (FastAPI's own answer)."""

    detail: str


def _limited(answer: Answer, limit: int) -> tuple[pa.Table, bool]:
    """Up to `limit` rows of the answer, and whether more were left."""
    taken, batches = 0, []
    for batch in answer.stream():
        if taken + batch.num_rows > limit:
            batches.append(batch.slice(0, limit - taken))
            answer.close()
            return pa.Table.from_batches(batches, schema=answer.schema), True
        batches.append(batch)
        taken += batch.num_rows
    return pa.Table.from_batches(batches, schema=answer.schema), False


def _jsonable(table: pa.Table) -> pa.Table:
    """Decimals as JSON can carry them exactly: whole ones as integers, others as strings.

    DuckDB sums integers into 128-bit decimals; `sum(n)` should still read as a number.
    """
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):
            column = table.column(i)
            try:
                column = column.cast(pa.int64()) if f.type.scale == 0 else column.cast(pa.string())
            except pa.ArrowInvalid:  # beyond 64 bits
                column = column.cast(pa.string())
            table = table.set_column(i, f.name, column)
    return table


def _whole(answer: Answer, fmt: Format, limit: int) -> tuple[bytes, bool]:
    """The answer built whole as JSON or Parquet, cut at `limit` rows; and whether it was."""
    table, truncated = _limited(answer, limit)
    try:
        if fmt == Format.parquet:
            # Written as a download of the same rows is, so both are the same bytes.
            return b"".join(write_parquet(table.schema, table.to_batches())), truncated
        payload = JsonAnswer(
            columns=[Column(name=f.name, type=str(f.type)) for f in table.schema],
            rows=[list(r.values()) for r in _jsonable(table).to_pylist()],
            row_count=table.num_rows,
            truncated=truncated,
        )
        # NaN and infinities become null: JSON has no spelling for them.
        return payload.model_dump_json().encode("utf-8"), truncated
    except Exception as exc:  # the rows are read: what failed is writing them
        raise unwritable(fmt, exc) from None


@router.post(
    "/sql",
    response_model=JsonAnswer,
    responses={
        200: {"content": {m: {} for m in MEDIA.values()}},
        400: {"model": ErrorAnswer | BodyError},
        **QUERY_FAILURES,
    },
    summary="Run one read-only query",
)
def run_sql(
    body: SqlRequest,
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    queries: Queries,
    platform: PlatformDep,
) -> Response:
    """Run one read-only SQL query over the tables the caller may read, masked and filtered."""
    started = time.perf_counter()
    opening: list[AuditRecord] = []

    def running(datasets: list[str]) -> None:
        # Written while DuckDB runs the query (off the critical path), before any row is read.
        opening.append(open_query(request, principal, body.sql, datasets, started))

    try:
        answer = queries.run(principal, body.sql, body.as_of, running)
    except QueryError as exc:
        outcome = outcome_of(exc)
        # A query that failed in DuckDB ran: its record completes the opening one.
        ran = opening[0] if opening else None
        datasets = list(ran.datasets) if ran else exc.datasets
        audit_query(
            request,
            principal,
            body.sql,
            None,
            started,
            outcome,
            exc.message,
            completes=ran,
            datasets=datasets,
        )
        return error_answer(exc)
    [opened] = opening
    try:
        if body.format in (Format.csv, Format.arrow):
            return streamed(
                request, principal, body.sql, answer, body.format, started, opened=opened
            )
        content, truncated = _whole(answer, body.format, platform.settings.sql_max_rows)
    except Exception as exc:
        failed = exc if isinstance(exc, QueryError) else None
        if failed is None:
            log.exception("SQL request failed")
        outcome, error = (outcome_of(failed), failed.message) if failed else ("error", repr(exc))
        record = audit_query(
            request, principal, body.sql, answer, started, outcome, error, completes=opened
        )
        return error_answer(failed or internal(record))
    finally:
        if body.format not in (Format.csv, Format.arrow):
            answer.close()
    # Completed once the answer is sent, as for the streamed formats (and off the critical
    # path: the append is a database commit); uvicorn finishes it before shutting down.
    audit = BackgroundTask(
        audit_query, request, principal, body.sql, answer, started, "ok", completes=opened
    )
    headers = {"X-Gongyu-Truncated": "true" if truncated else "false"}
    return Response(content, media_type=MEDIA[body.format], headers=headers, background=audit)
