"""Live Trino statements: pages produced ahead on a thread per query, read by token, audited.

A query runs on a thread of its own that turns the answer's Arrow batches into pages of about
1 MB, at most two ahead of the client, so a result of any size is never held whole. Each
statement leaves one audit record when it finishes, fails, is cancelled or is abandoned (no
client request for `CLIENT_TIMEOUT_SECONDS`, as Trino's `query.client.timeout`).
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.principal import Principal
from api.query import Answer, QueryError, QueryService
from api.trino_errors import TrinoError, from_query_error
from api.trino_metadata import Catalogs
from api.trino_plan import Done, plan
from api.trino_sql import Session
from api.trino_types import BOOLEAN, column, rows_json, trino_type
from catalog.audit import AuditKind, AuditLog, Outcome

log = logging.getLogger(__name__)

PAGE_BYTES = 1 << 20  # Arrow bytes per page: about the 1 MB Trino itself aims for
PAGES_AHEAD = 2  # pages produced before the client asks for them
WAIT_SECONDS = 1.0  # how long a page request waits for rows before answering "running"
CLIENT_TIMEOUT_SECONDS = 300.0  # as Trino's query.client.timeout: then the query is abandoned
MEDIA = "application/json"
_serial = itertools.count(1)
# Refusals and not-found are "denied" (a hidden table fails as a missing one: both are
# attempts to read what the caller may not); the time limit is "cancelled".
_OUTCOMES = {
    "PERMISSION_DENIED": Outcome.denied,
    "CATALOG_NOT_FOUND": Outcome.denied,
    "SCHEMA_NOT_FOUND": Outcome.denied,
    "TABLE_NOT_FOUND": Outcome.denied,
    "EXCEEDED_TIME_LIMIT": Outcome.cancelled,
}


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class StatementStats(_Wire):
    """A statement's progress, as Trino reports it (one node, no splits)."""

    state: str
    queued: bool = False
    scheduled: bool = True
    nodes: int = 1
    total_splits: int = 0
    queued_splits: int = 0
    running_splits: int = 0
    completed_splits: int = 0
    cpu_time_millis: int = 0
    wall_time_millis: int = 0
    queued_time_millis: int = 0
    elapsed_time_millis: int = 0
    processed_rows: int = 0
    processed_bytes: int = 0
    physical_input_bytes: int = 0
    peak_memory_bytes: int = 0
    spilled_bytes: int = 0


class QueryResults(_Wire):
    """One response of the protocol; `data` is spliced in as JSON text (see `_body`)."""

    id: str
    info_uri: str
    next_uri: str | None = None
    columns: list[dict[str, Any]] | None = None
    stats: StatementStats
    error: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    update_type: str | None = None


def _body(results: QueryResults, data: str | None = None) -> bytes:
    """The response JSON; page rows are already JSON (`rows_json`), so they are not parsed
    and serialised again."""
    text = results.model_dump_json(by_alias=True, exclude_none=True)
    if data is not None:
        text = f'{text[:-1]},"data":{data}}}'
    return text.encode("utf-8")


def _query_id() -> str:
    """An id in Trino's form: `20240101_050000_00001_abcde`."""
    letters = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5))
    return f"{datetime.now(UTC):%Y%m%d_%H%M%S}_{next(_serial) % 100_000:05d}_{letters}"


@dataclass(frozen=True)
class _Page:
    data: str
    rows: int


@dataclass(frozen=True)
class _End:
    pass


@dataclass(frozen=True)
class _Failed:
    error: TrinoError


_Item = _Page | _End | _Failed


def internal_error(query_id: str) -> TrinoError:
    """What the client learns of a server fault: which query (the log has the rest)."""
    return TrinoError("GENERIC_INTERNAL_ERROR", f"internal error in query {query_id}")


def _pages(batch: pa.RecordBatch) -> list[pa.RecordBatch]:
    """A batch cut into pages of about PAGE_BYTES."""
    if batch.num_rows == 0:
        return []
    size = max(1, PAGE_BYTES * batch.num_rows // max(batch.nbytes, 1))
    return [batch.slice(at, size) for at in range(0, batch.num_rows, size)]


class Statement:
    """One running query of one caller: pages produced ahead on a thread, read by token."""

    def __init__(self, principal: Principal, sql: str, started: float, timeout: float) -> None:
        self.id = _query_id()
        self.slug = secrets.token_urlsafe(18)  # the page URIs are capabilities
        self.principal = principal
        self.sql = sql
        self.started = started
        self.timeout = timeout
        self.touched = time.monotonic()
        self.polling = False  # a page request is waiting: the client is there
        self.columns: list[dict[str, Any]] | None = None
        self.datasets: list[str] = []
        self.rows_sent = 0
        self.bytes_sent = 0
        self.token = 0  # the token the client asks for next
        self.last: tuple[int, bytes] | None = None  # the last answer, for a client's retry
        self.request_lock = threading.Lock()  # one page request at a time
        self.cancelled = False
        self._items: deque[_Item] = deque()
        self._ready = threading.Condition()

    def idle(self) -> bool:
        """True when no client request came for longer than the client timeout."""
        return not self.polling and time.monotonic() - self.touched > self.timeout

    def cancel(self) -> None:
        """Stop producing pages; the producer closes the answer."""
        with self._ready:
            self.cancelled = True
            self._ready.notify_all()

    def produce(self, start: Callable[[], Answer], abandon: Callable[[], None]) -> None:
        """Run on the statement's thread: start the query, page its batches, then the end."""
        answer: Answer | None = None
        try:
            answer = start()
            types = [trino_type(f.type) for f in answer.schema]
            with self._ready:
                self.columns = [
                    column(f.name, t) for f, t in zip(answer.schema, types, strict=True)
                ]
                self.datasets = answer.datasets
            for batch in answer.stream():
                for page in _pages(batch):
                    if not self._put(_Page(rows_json(page, types), page.num_rows), abandon):
                        return
            end: _Item = _End()
        except QueryError as exc:
            end = _Failed(from_query_error(exc))
        except Exception:
            log.exception("trino statement %s failed", self.id)
            end = _Failed(internal_error(self.id))
        finally:
            if answer is not None:
                answer.close()
        self._put(end, abandon)

    def _put(self, item: _Item, abandon: Callable[[], None]) -> bool:
        """Queue an item once there is room (or, for the last one, wait until it is read);
        False when the statement was cancelled or its client went away."""
        last = not isinstance(item, _Page)
        with self._ready:
            while not self.cancelled and len(self._items) >= PAGES_AHEAD:
                if self.idle():
                    break
                self._ready.wait(WAIT_SECONDS)
            if not self.cancelled and not self.idle():
                self._items.append(item)
                self._ready.notify_all()
                while last and self._items and not self.cancelled and not self.idle():
                    self._ready.wait(WAIT_SECONDS)
            gone = self.cancelled or self.idle()
        if gone:
            abandon()
        return not gone

    def take(self) -> tuple[_Page | None, _End | _Failed | None]:
        """The next page and/or the end, waiting up to WAIT_SECONDS; (None, None): not yet.
        A last page comes with the end, so the client needs no extra round trip."""
        page: _Page | None = None
        end: _End | _Failed | None = None
        with self._ready:
            self._ready.wait_for(lambda: bool(self._items), WAIT_SECONDS)
            if self._items and isinstance(self._items[0], _Page):
                page = self._items.popleft()
            if self._items and isinstance(self._items[0], _End | _Failed):
                end = self._items.popleft()
            self._ready.notify_all()
        return page, end


class Statements:
    """The live statements of one app, and the audit record each one leaves."""

    def __init__(
        self,
        queries: QueryService,
        audit: AuditLog,
        client_timeout: float = CLIENT_TIMEOUT_SECONDS,
    ) -> None:
        self.queries = queries
        self.audit = audit
        self.client_timeout = client_timeout
        self.catalogs = Catalogs(queries)
        self._live: dict[str, Statement] = {}
        self._lock = threading.Lock()

    def get(self, query_id: str, principal: Principal, slug: str | None = None) -> Statement:
        """A live statement of this caller; 404 for anyone else's, as for an unknown one."""
        with self._lock:
            statement = self._live.get(query_id)
        if (
            statement is None
            or (slug is not None and not secrets.compare_digest(statement.slug, slug))
            or (statement.principal.subject, statement.principal.via)
            != (principal.subject, principal.via)
        ):
            raise HTTPException(404, "Query not found")
        return statement

    def start(self, principal: Principal, sql: str, session: Session, request: Request) -> Response:
        """Plan a statement; answer a session statement or an error at once, else start the
        query and answer with its first `nextUri`."""
        started = time.perf_counter()
        statement = Statement(principal, sql, started, self.client_timeout)
        try:
            planned = plan(sql, session, self.catalogs.for_principal(principal))
        except TrinoError as error:
            return self._refuse(statement, request, error)
        except Exception:
            log.exception("trino statement %s could not be planned", statement.id)
            return self._refuse(statement, request, internal_error(statement.id))
        if isinstance(planned, Done):
            return self._done(statement, planned, request)
        with self._lock:
            self._live[statement.id] = statement
        body = _body(
            QueryResults(
                id=statement.id,
                info_uri=_info_uri(request, statement),
                next_uri=_next_uri(request, statement, 0),
                stats=StatementStats(state="QUEUED", queued=True, scheduled=False),
            )
        )
        statement.bytes_sent += len(body)
        duckdb_sql = planned.sql
        thread = threading.Thread(
            target=statement.produce,
            args=(
                lambda: self.queries.run(principal, duckdb_sql),
                lambda: self.finish(statement, Outcome.cancelled, "abandoned by the client"),
            ),
            name=f"trino-{statement.id}",
            daemon=True,
        )
        thread.start()
        return Response(body, media_type=MEDIA)

    def _refuse(self, statement: Statement, request: Request, error: TrinoError) -> Response:
        results = QueryResults(
            id=statement.id,
            info_uri=_info_uri(request, statement),
            stats=StatementStats(state="FAILED"),
            error=error.body(),
        )
        body = _body(results)
        self._record(statement, _OUTCOMES.get(error.name, Outcome.error), error.message, body)
        return Response(body, media_type=MEDIA)

    def _done(self, statement: Statement, done: Done, request: Request) -> Response:
        results = QueryResults(
            id=statement.id,
            info_uri=_info_uri(request, statement),
            columns=[column("result", BOOLEAN)],
            stats=StatementStats(state="FINISHED"),
            update_type=done.update_type,
        )
        body = _body(results, "[[true]]")
        self._record(statement, Outcome.ok, None, body)
        return Response(body, media_type=MEDIA, headers=done.headers)

    def page(self, statement: Statement, token: int, request: Request) -> Response:
        """The answer to `GET nextUri`: the next page, a "running" answer or the end."""
        with statement.request_lock:
            if statement.last and statement.last[0] == token:
                return Response(statement.last[1], media_type=MEDIA)
            if token != statement.token:
                raise HTTPException(410, "Page token no longer available")
            statement.polling = True
            try:
                page, end = statement.take()
            finally:
                statement.polling, statement.touched = False, time.monotonic()
            rows = page.rows if page else 0
            stats = StatementStats(
                state="FAILED" if isinstance(end, _Failed) else "FINISHED" if end else "RUNNING",
                elapsed_time_millis=int((time.perf_counter() - statement.started) * 1000),
                processed_rows=statement.rows_sent + rows,
                processed_bytes=statement.bytes_sent,
            )
            results = QueryResults(
                id=statement.id,
                info_uri=_info_uri(request, statement),
                next_uri=None if end else _next_uri(request, statement, token + 1),
                columns=statement.columns,
                stats=stats,
                error=end.error.body() if isinstance(end, _Failed) else None,
            )
            body = _body(results, page.data if page else None)
            statement.token, statement.last = token + 1, (token, body)
            statement.rows_sent += rows
            statement.bytes_sent += len(body)
        if isinstance(end, _Failed):
            error = end.error
            self.finish(statement, _OUTCOMES.get(error.name, Outcome.error), error.message)
        elif end:
            self.finish(statement, Outcome.ok, None)
        return Response(body, media_type=MEDIA)

    def finish(self, statement: Statement, outcome: Outcome, error: str | None) -> None:
        """End a statement once: stop its producer, forget it, write its audit record."""
        with self._lock:
            if self._live.pop(statement.id, None) is None:
                return  # already finished, cancelled or abandoned
        statement.cancel()
        self._record(statement, outcome, error)

    def _record(
        self, statement: Statement, outcome: Outcome, error: str | None, body: bytes = b""
    ) -> None:
        self.audit.append(
            statement.principal,
            AuditKind.trino,
            statement.sql,
            datasets=statement.datasets,
            rows=statement.rows_sent,
            bytes_out=statement.bytes_sent + len(body),
            duration_ms=(time.perf_counter() - statement.started) * 1000,
            outcome=outcome,
            error=error,
        )


def _next_uri(request: Request, statement: Statement, token: int) -> str:
    return str(
        request.url_for("trino_page", query_id=statement.id, slug=statement.slug, token=str(token))
    )


def _info_uri(request: Request, statement: Statement) -> str:
    return str(request.url_for("trino_query", query_id=statement.id))
