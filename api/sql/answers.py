"""What every query route answers with: formats, error answers, audit records, streamed files."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from api.auth import Refusal
from api.deps import platform_of
from api.sql.scrub import scrubbed
from catalog.access.audit import AuditKind, AuditRecord, Outcome
from catalog.access.principal import Principal
from gongyu.query.query import Answer, QueryError
from gongyu.query.query import audit_query as audited
from gongyu.query.query import outcome_of as failed_outcome


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


# `.arrows` is the extension of Arrow's IPC stream format (what is sent); `.arrow` is the file one.
EXTENSIONS = {Format.csv: "csv", Format.parquet: "parquet", Format.arrow: "arrows"}


def download_url(base: str, dataset_id: str, fmt: Format) -> str:
    """The address of a dataset's download in one format."""
    return f"{base}/api/v1/datasets/{dataset_id}/download?format={fmt.value}"


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
    """The audit record of a query's end (`gongyu.query.query.audit_query`) in the app's log."""
    return audited(
        platform_of(request).audit,
        principal,
        statement,
        answer,
        started,
        Outcome(outcome),
        error,
        kind,
        completes,
        datasets,
    )


def open_query(
    request: Request,
    principal: Principal,
    statement: str,
    datasets: list[str],
    started: float,
    kind: AuditKind = AuditKind.sql,
) -> AuditRecord:
    """The opening record of a query that runs, written before any of its data leaves."""
    return platform_of(request).audit.append(
        principal,
        kind,
        statement,
        datasets=datasets,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=Outcome.opened,
    )


def outcome_of(exc: QueryError) -> str:
    """The audit outcome of a failed query."""
    return failed_outcome(exc).value


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


def iso_timestamps(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamps as ISO 8601 text without trailing zeros (`2020-01-01T09:30:00`, `…:00.5`,
    `+09:00` where the type has a zone): Arrow writes `2020-01-01 09:30:00.000000`."""
    columns = [
        _iso(column) if pa.types.is_timestamp(column.type) else column for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _iso(column: pa.Array) -> pa.Array:
    text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    text = pc.replace_substring_regex(text, pattern=r"(\.\d*?)0+$", replacement=r"\1")
    text = pc.replace_substring_regex(text, pattern=r"\.$", replacement="")
    if not column.type.tz:
        return text
    offset = pc.strftime(column, format="%z")  # +0900
    offset = pc.replace_substring_regex(offset, pattern=r"(\d\d)$", replacement=r":\1")
    return pc.binary_join_element_wise(text, offset, "")


def write_csv(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """CSV, the header with the first batch (alone when there are no rows)."""
    first = True
    for batch in batches:
        out = io.BytesIO()
        options = pacsv.WriteOptions(include_header=first)
        pacsv.write_csv(pa.Table.from_batches([iso_timestamps(batch)]), out, write_options=options)
        first = False
        yield out.getvalue()
    if first:  # no rows: still the header
        out = io.BytesIO()
        pacsv.write_csv(schema.empty_table(), out)
        yield out.getvalue()


def write_arrow(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Arrow IPC stream, a message per batch, the bytes under nulls zeroed."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(scrubbed(batch))  # IPC sends the bytes under nulls too
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()  # the end-of-stream marker


def write_parquet(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """One row group per batch, sent as it is written; the footer (schema, row groups) last."""
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()


WRITERS = {Format.csv: write_csv, Format.arrow: write_arrow, Format.parquet: write_parquet}


def streamed(
    request: Request,
    principal: Principal,
    statement: str,
    answer: Answer,
    fmt: Format,
    started: float,
    kind: AuditKind = AuditKind.sql,
    headers: dict[str, str] | None = None,
    prefix: bytes = b"",
    opened: AuditRecord | None = None,
) -> Response:
    """The whole answer in `fmt` (CSV, Arrow or Parquet), batch by batch, between its opening
    audit record (`opened`, when the caller wrote it already) and its completing one. The first
    chunk is written before the status is sent, so a failure there (the time limit, a type the
    format lacks) is a clean error answer."""
    if opened is None:
        opened = open_query(request, principal, statement, answer.datasets, started, kind)
    chunks = WRITERS[fmt](answer.schema, answer.stream())
    try:
        first = prefix + next(chunks, b"")
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
