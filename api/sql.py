"""`POST /api/v1/sql`: a caller's query as JSON, CSV, Arrow IPC or Parquet.

CSV and Arrow stream batch by batch, so an answer of any size never sits in memory; JSON and
Parquet are built whole and stop at the row limit (`truncated` says so). A query refused or
failed before it runs leaves one audit record; a query that runs leaves an opening record,
written before any of its data leaves, and a completing record once the answer has been sent
or has failed, so a request cut off by a crash is still on the chain. An answer that cannot be
written in the format asked for is a clean 400, a fault of the server a clean 500: both
recorded, neither with a traceback.
"""

from __future__ import annotations

import io
import itertools
import logging
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

from api.auth import AUTH_FAILURES, Refusal, current_principal
from api.principal import Principal
from api.query import Answer, QueryError, QueryService
from api.scrub import scrubbed
from catalog.audit import AuditKind, AuditRecord, Outcome

log = logging.getLogger(__name__)
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

    kind: str = Field(
        description="refused, sql, timeout, as_of, memory (the server's memory budget), "
        "format (the answer cannot be written in the format asked for), busy (429: too many "
        "queries at once), unavailable (a dataset whose grant no longer fits it) or internal "
        "(500)"
    )
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
    completes: AuditRecord | None = None,
    datasets: list[str] | None = None,
) -> AuditRecord:
    """The audit record of a query's end: who, what, which datasets, rows, bytes, time,
    outcome; `completes` is its opening record, when it had one."""
    return request.app.state.platform.audit.append(
        principal,
        kind,
        statement,
        datasets=answer.datasets if answer else datasets or [],
        rows=answer.rows if answer else 0,
        bytes_out=answer.bytes if answer else 0,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=Outcome(outcome),
        error=error,
        completes=completes.seq if completes else None,
    )


def open_query(
    request: Request,
    principal: Principal,
    statement: str,
    answer: Answer,
    started: float,
    kind: AuditKind = AuditKind.sql,
) -> AuditRecord:
    """The opening record of a query that runs, written before any of its data leaves."""
    return request.app.state.platform.audit.append(
        principal,
        kind,
        statement,
        datasets=answer.datasets,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=Outcome.opened,
    )


def outcome_of(exc: QueryError) -> str:
    """The audit outcome of a failed query."""
    return {"refused": "denied", "unavailable": "denied", "timeout": "cancelled"}.get(
        exc.kind, "error"
    )


STATUS = {"busy": 429, "internal": 500}
# The answers of a route that runs a query, besides 400 and authentication's own.
QUERY_FAILURES: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorAnswer | Refusal,
        "description": "Too many queries at once (kind `busy`), or too many failed "
        "authentications; try again after `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
    500: {"model": ErrorAnswer, "description": "A fault of the server, recorded."},
}


def error_answer(exc: QueryError) -> JSONResponse:
    """A failed query's answer: 400, 429 with Retry-After when there was no room, 500."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return JSONResponse(
        {"error": {"kind": exc.kind, "message": exc.message}},
        status_code=STATUS.get(exc.kind, 400),
        headers=headers,
    )


def unwritable(fmt: Format, exc: Exception) -> QueryError:
    """The error of an answer that cannot be written as `fmt` (a type the format lacks,
    bytes that are not text); the query itself ran."""
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return QueryError(
        "format",
        f"the answer cannot be written as {fmt.value}: {reason}. Cast the column (e.g. to "
        "VARCHAR), or ask for another format (arrow carries every type)",
    )


def internal(record: AuditRecord) -> QueryError:
    """What a caller learns of a fault of the server: where it is recorded."""
    return QueryError("internal", f"internal error, recorded as audit record {record.seq}")


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
            writer.write_batch(scrubbed(batch))  # IPC sends the bytes under nulls too
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
) -> Response:
    """The whole answer in `fmt` (CSV, Arrow or Parquet), batch by batch, between its opening
    and completing audit records. The first chunk is written before the status is sent, so a
    failure there (the time limit, a type the format lacks) is a clean error answer."""
    opened = open_query(request, principal, statement, answer, started, kind)
    chunks = WRITERS[fmt](answer.schema, answer.stream())
    try:
        first = next(chunks, b"")
    except Exception as exc:
        answer.close()
        error = exc if isinstance(exc, QueryError) else unwritable(fmt, exc)
        outcome = outcome_of(error)
        audit_query(
            request, principal, statement, answer, started, outcome, error.message, kind, opened
        )
        return error_answer(error)

    def audited() -> Iterator[bytes]:
        outcome, error = "ok", None
        try:
            yield from itertools.chain([first], chunks)
        except QueryError as exc:
            outcome, error = outcome_of(exc), exc.message
            # Headers are sent: aborting the transfer is the only way left to say the file is
            # incomplete (a CSV that simply ended would look whole).
            raise
        except BaseException as exc:  # client went away: still completed
            outcome, error = "cancelled", type(exc).__name__
            raise
        finally:
            answer.close()
            audit_query(
                request, principal, statement, answer, started, outcome, error, kind, opened
            )

    return StreamingResponse(audited(), media_type=MEDIA[fmt], headers=headers)


def _whole(answer: Answer, fmt: Format, limit: int) -> tuple[bytes, bool]:
    """The answer built whole as JSON or Parquet, cut at `limit` rows; and whether it was."""
    table, truncated = _limited(answer, limit)
    try:
        if fmt == Format.parquet:
            # Written as a download of the same rows is, so both are the same bytes.
            return b"".join(_parquet(table.schema, table.to_batches())), truncated
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
    opened: AuditRecord | None = None
    try:
        if body.format in (Format.csv, Format.arrow):
            return streamed(request, principal, body.sql, answer, body.format, started)
        opened = open_query(request, principal, body.sql, answer, started)
        content, truncated = _whole(answer, body.format, request.app.state.max_rows)
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
