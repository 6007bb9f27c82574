"""`POST /api/v1/sql`: a caller's query as JSON, CSV, Arrow IPC or Parquet.

CSV and Arrow stream batch by batch, so an answer of any size never sits in memory; JSON and
Parquet are built whole and stop at the row limit (`truncated` says so). Every request leaves
one audit record, written when the answer has been sent.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.auth import AUTH_FAILURES, current_principal
from api.principal import Principal
from api.query import Answer, QueryError, QueryService
from catalog.audit import AuditKind, Outcome

router = APIRouter(prefix="/api/v1", tags=["sql"], responses=AUTH_FAILURES)


class Format(StrEnum):
    """Answer formats."""

    json = "json"
    csv = "csv"
    arrow = "arrow"
    parquet = "parquet"


MEDIA = {
    Format.json: "application/json",
    Format.csv: "text/csv; charset=utf-8",
    Format.arrow: "application/vnd.apache.arrow.stream",
    Format.parquet: "application/vnd.apache.parquet",
}


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


class ErrorBody(BaseModel):
    """Why a query was not answered."""

    kind: str = Field(description="refused, sql, timeout, as_of or unavailable")
    message: str


class ErrorAnswer(BaseModel):
    """An error answer."""

    error: ErrorBody


class BodyError(BaseModel):
    """A request body that is not JSON at all (FastAPI's own answer)."""

    detail: str


async def service(request: Request) -> QueryService:
    """The app's query service."""
    return request.app.state.queries


def audit_query(
    request: Request,
    principal: Principal,
    statement: str,
    answer: Answer | None,
    started: float,
    outcome: str,
    error: str | None = None,
    kind: AuditKind = AuditKind.sql,
    datasets: list[str] | None = None,
) -> None:
    """One audit record of a query: who, what, which datasets, rows, bytes, time, outcome."""
    request.app.state.platform.audit.append(
        principal,
        kind,
        statement,
        datasets=answer.datasets if answer else datasets or [],
        rows=answer.rows if answer else 0,
        bytes_out=answer.bytes if answer else 0,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=Outcome(outcome),
        error=error,
    )


def outcome_of(exc: QueryError) -> str:
    """The audit outcome of a failed query."""
    return {"refused": "denied", "unavailable": "denied", "timeout": "cancelled"}.get(
        exc.kind, "error"
    )


def error_answer(exc: QueryError) -> JSONResponse:
    """A failed query's 400 answer."""
    return JSONResponse({"error": {"kind": exc.kind, "message": exc.message}}, status_code=400)


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


def _csv(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    first = True
    for batch in batches:
        out = io.BytesIO()
        options = pacsv.WriteOptions(include_header=first)
        pacsv.write_csv(pa.Table.from_batches([batch]), out, write_options=options)
        first = False
        yield out.getvalue()
    if first:  # no rows: still the header
        out = io.BytesIO()
        pacsv.write_csv(schema.empty_table(), out)
        yield out.getvalue()


def _arrow(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()  # the end-of-stream marker


def _parquet(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """One row group per batch, sent as it is written; the footer (schema, row groups) last."""
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()


WRITERS = {Format.csv: _csv, Format.arrow: _arrow, Format.parquet: _parquet}


def streamed(
    request: Request,
    principal: Principal,
    statement: str,
    answer: Answer,
    fmt: Format,
    started: float,
    kind: AuditKind = AuditKind.sql,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """The whole answer in `fmt` (CSV, Arrow or Parquet), batch by batch; audited once sent."""
    chunks = WRITERS[fmt](answer.schema, answer.stream())

    def audited() -> Iterator[bytes]:
        outcome, error = "ok", None
        try:
            yield from chunks
        except QueryError as exc:
            outcome, error = outcome_of(exc), exc.message
            # Headers are sent: aborting the transfer is the only way left to say the file is
            # incomplete (a CSV that simply ended would look whole).
            raise
        except BaseException as exc:  # client went away: still one record
            outcome, error = "cancelled", type(exc).__name__
            raise
        finally:
            answer.close()
            audit_query(request, principal, statement, answer, started, outcome, error, kind)

    return StreamingResponse(audited(), media_type=MEDIA[fmt], headers=headers)


@router.post(
    "/sql",
    response_model=JsonAnswer,
    responses={
        200: {"content": {m: {} for m in MEDIA.values()}},
        400: {"model": ErrorAnswer | BodyError},
    },
    summary="Run one read-only query",
)
def run_sql(
    body: SqlRequest,
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    queries: Annotated[QueryService, Depends(service)],
) -> Response:
    """Run one read-only SQL query over the tables the caller may read, masked and filtered."""
    started = time.perf_counter()
    try:
        answer = queries.run(principal, body.sql, body.as_of)
    except QueryError as exc:
        outcome = outcome_of(exc)
        audit_query(
            request, principal, body.sql, None, started, outcome, exc.message, datasets=exc.datasets
        )
        return error_answer(exc)
    if body.format in (Format.csv, Format.arrow):
        return streamed(request, principal, body.sql, answer, body.format, started)
    limit = request.app.state.max_rows
    try:
        table, truncated = _limited(answer, limit)
    except QueryError as exc:
        audit_query(request, principal, body.sql, answer, started, outcome_of(exc), exc.message)
        return error_answer(exc)
    finally:
        answer.close()
    # Recorded once the answer is sent, as for the streamed formats (and off the critical
    # path: the append is a database commit); uvicorn finishes it before shutting down.
    audit = BackgroundTask(audit_query, request, principal, body.sql, answer, started, "ok")
    headers = {"X-Gongyu-Truncated": "true" if truncated else "false"}
    if body.format == Format.parquet:
        # Written as a download of the same rows is, so both are the same bytes.
        content = b"".join(_parquet(table.schema, table.to_batches()))
        return Response(
            content, media_type=MEDIA[Format.parquet], headers=headers, background=audit
        )
    payload = JsonAnswer(
        columns=[Column(name=f.name, type=str(f.type)) for f in table.schema],
        rows=[list(r.values()) for r in _jsonable(table).to_pylist()],
        row_count=table.num_rows,
        truncated=truncated,
    )
    # NaN and infinities become null: JSON has no spelling for them.
    return Response(
        payload.model_dump_json(), media_type=MEDIA[Format.json], headers=headers, background=audit
    )
