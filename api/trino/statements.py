"""Live Trino statements: pages produced ahead on a thread per query, read by token, audited.

A query runs on a thread of its own that turns the answer's Arrow batches into pages of about
1 MB, at most two ahead of the client and within the process's page buffer
(`trino_buffer_bytes`), so a result of any size is never held whole. A caller may hold
`trino_max_statements_per_caller` live statements and the process `trino_max_statements`;
past either, a statement fails at once with Trino's QUERY_QUEUE_FULL. A statement whose client
asks for nothing for `trino_client_timeout_seconds` (Trino's `query.client.timeout`) is
abandoned. A statement is audited as a query is: an opening record before its first rows
leave, a completing record when it finishes, fails, is cancelled, abandoned, killed, or the
server shuts down; one that returns no rows leaves the completing record alone.

`system.runtime.queries` lists the caller's own statements: the live ones and the last
`HISTORY` of the process (each caller sees only theirs). `CALL system.runtime.kill_query` fails
one of the caller's live statements with Trino's ADMINISTRATIVELY_KILLED; anyone else's is
"not found", exactly as an id that never existed.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.trino.buffer import PageBuffer
from api.trino.dialect import Session
from api.trino.errors import CODES, TrinoError, from_query_error
from api.trino.metadata import Catalogs
from api.trino.plan import Done, Kill, plan
from api.trino.types import BOOLEAN, TrinoType, column, hints_of, result_types, rows_json
from catalog.access.audit import AuditKind, AuditLog, AuditRecord, Outcome
from catalog.access.principal import Principal
from gongyu.query.query import Answer, QueryError, QueryService, caller

log = logging.getLogger(__name__)

PAGE_BYTES = 1 << 20  # Arrow bytes per page: about the 1 MB Trino itself aims for
PAGES_AHEAD = 2  # pages produced before the client asks for them
WAIT_SECONDS = 1.0  # how long a page request waits for rows before answering "running"
HISTORY = 1000  # finished statements system.runtime.queries remembers, for the whole process
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
    "EXCEEDED_GLOBAL_MEMORY_LIMIT": Outcome.cancelled,
    "ADMINISTRATIVELY_KILLED": Outcome.cancelled,
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

    @property
    def size(self) -> int:
        """What the page holds of the process's page buffer."""
        return len(self.data)


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

    def __init__(
        self,
        principal: Principal,
        sql: str,
        started: float,
        timeout: float,
        source: str | None = None,
    ) -> None:
        self.id = _query_id()
        self.slug = secrets.token_urlsafe(18)  # the page URIs are capabilities
        self.principal = principal
        self.sql = sql
        self.source = source
        self.created = datetime.now(UTC)
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
        self.opened: AuditRecord | None = None  # written before the first rows leave
        self.cancelled = False
        self.killed: TrinoError | None = None  # by CALL system.runtime.kill_query
        self._stop_query: Callable[[], None] | None = None
        self._items: deque[_Item] = deque()
        self._ready = threading.Condition()

    def idle(self) -> bool:
        """True when no client request came for longer than the client timeout."""
        return not self.polling and time.monotonic() - self.touched > self.timeout

    def cancel(self, buffer: PageBuffer) -> None:
        """Stop producing pages, stop the query, drop the pages nobody will fetch."""
        self._halt(buffer, None)

    def kill(self, error: TrinoError, buffer: PageBuffer) -> None:
        """Stop the query and drop its pages: the client's next page request gets `error`."""
        self._halt(buffer, error)

    def _halt(self, buffer: PageBuffer, error: TrinoError | None) -> None:
        """Cancelled (no error) or killed with `error`: pages dropped, the query stopped."""
        with self._ready:
            if error is not None:
                if self.killed is not None or self.cancelled:
                    return
                self.killed = error
            else:
                self.cancelled = True
            dropped = [item for item in self._items if isinstance(item, _Page)]
            self._items.clear()
            stop = self._stop_query
            self._ready.notify_all()
        for page in dropped:
            buffer.release(page.size)
        if stop is not None:
            stop()

    def owned_by(self, principal: Principal) -> bool:
        """Whether `principal` is the caller who started the statement."""
        return (self.principal.subject, self.principal.via) == (principal.subject, principal.via)

    def produce(
        self,
        start: Callable[[], Answer],
        buffer: PageBuffer,
        hints: tuple[TrinoType | None, ...] = (),
    ) -> None:
        """Run on the statement's thread: start the query, page its batches, then the end."""
        answer: Answer | None = None
        try:
            answer = start()
            types = result_types(answer.schema, hints)  # the translation's, where it knows
            with self._ready:
                self.columns = [
                    column(f.name, t) for f, t in zip(answer.schema, types, strict=True)
                ]
                self.datasets = answer.datasets
                self._stop_query = answer.close
                if self.cancelled or self.killed is not None:
                    return
            for batch in answer.stream():
                for page in _pages(batch):
                    if not self._put(_Page(rows_json(page, types), page.num_rows), buffer):
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
        self._put(end, buffer)

    def _put(self, item: _Item, buffer: PageBuffer) -> bool:
        """Queue an item once there is room, here and in the process's page buffer; False
        when the statement was cancelled (finished, abandoned, shut down) meanwhile."""
        if isinstance(item, _Page) and not buffer.reserve(item.size, lambda: self.cancelled):
            if self.cancelled:
                return False
            item = _Failed(too_large(self.id, buffer))
        with self._ready:
            while not self.cancelled and not self.killed and len(self._items) >= PAGES_AHEAD:
                self._ready.wait(WAIT_SECONDS)
            if self.cancelled or self.killed:
                if isinstance(item, _Page):
                    buffer.release(item.size)
                return False
            self._items.append(item)
            self._ready.notify_all()
            return isinstance(item, _Page)

    def take(self, buffer: PageBuffer) -> tuple[_Page | None, _End | _Failed | None]:
        """The next page and/or the end, waiting up to WAIT_SECONDS; (None, None): not yet.
        A last page comes with the end, so the client needs no extra round trip."""
        page: _Page | None = None
        end: _End | _Failed | None = None
        with self._ready:
            self._ready.wait_for(lambda: bool(self._items) or bool(self.killed), WAIT_SECONDS)
            if self.killed is not None:
                return None, _Failed(self.killed)
            if self._items and isinstance(self._items[0], _Page):
                page = self._items.popleft()
            if self._items and isinstance(self._items[0], _End | _Failed):
                end = self._items.popleft()
            self._ready.notify_all()
        if page is not None:
            buffer.release(page.size)
        return page, end


def too_large(query_id: str, buffer: PageBuffer) -> TrinoError:
    """A page that could never fit the process's page buffer: its rows are too wide."""
    return TrinoError(
        "EXCEEDED_LOCAL_MEMORY_LIMIT",
        f"query {query_id}: one page of its rows is larger than the server's page buffer of "
        f"{buffer.limit:,} bytes (GONGYU_TRINO_BUFFER_BYTES); select fewer or narrower columns",
    )


class Statements:
    """The live statements of one app, their limits, and the audit records each leaves."""

    def __init__(self, queries: QueryService, audit: AuditLog) -> None:
        settings = queries.platform.settings
        self.queries = queries
        self.audit = audit
        self.client_timeout = settings.trino_client_timeout_seconds
        self.max_statements = settings.trino_max_statements
        self.per_caller = settings.trino_max_statements_per_caller
        self.buffer = PageBuffer(settings.trino_buffer_bytes)
        self.catalogs = Catalogs(queries)
        self._live: dict[str, Statement] = {}
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def get(self, query_id: str, principal: Principal, slug: str | None = None) -> Statement:
        """A live statement of this caller; 404 for anyone else's, as for an unknown one."""
        with self._lock:
            statement = self._live.get(query_id)
        if (
            statement is None
            or (slug is not None and not secrets.compare_digest(statement.slug, slug))
            or not statement.owned_by(principal)
        ):
            raise HTTPException(404, "Query not found")
        return statement

    def start(self, principal: Principal, sql: str, session: Session, request: Request) -> Response:
        """Plan a statement; answer a session statement or an error at once, else start the
        query and answer with its first `nextUri`."""
        started = time.perf_counter()
        source = request.headers.get("X-Trino-Source")
        statement = Statement(principal, sql, started, self.client_timeout, source)
        try:
            catalog = self.catalogs.for_principal(principal)
            catalog = replace(catalog, queries=tuple(self._queries_of(statement)))
            planned = plan(sql, session, catalog)
        except TrinoError as error:
            return self._refuse(statement, request, error)
        except Exception:
            log.exception("trino statement %s could not be planned", statement.id)
            return self._refuse(statement, request, internal_error(statement.id))
        if isinstance(planned, Kill):
            return self._kill(statement, planned, request)
        if isinstance(planned, Done):
            return self._done(statement, planned, request)
        if full := self._admit(statement):
            return self._refuse(statement, request, full)
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
                self.buffer,
                hints_of(duckdb_sql),
            ),
            name=f"trino-{statement.id}",
            daemon=True,
        )
        thread.start()
        return Response(body, media_type=MEDIA)

    def _admit(self, statement: Statement) -> TrinoError | None:
        """Make `statement` live, or Trino's QUERY_QUEUE_FULL when its caller or the process
        holds as many live statements as allowed."""
        who = caller(statement.principal)
        with self._lock:
            mine = sum(1 for s in self._live.values() if caller(s.principal) == who)
            if mine >= self.per_caller:
                return TrinoError(
                    "QUERY_QUEUE_FULL",
                    f'Too many queued queries for "{statement.principal.subject}": '
                    f"{mine} statements of yours are live (GONGYU_TRINO_MAX_STATEMENTS_PER_CALLER)"
                    "; read them to the end or cancel them, then try again",
                )
            if len(self._live) >= self.max_statements:
                return TrinoError(
                    "QUERY_QUEUE_FULL",
                    f'Too many queued queries for "gongyu": the server holds {len(self._live)} '
                    "live statements (GONGYU_TRINO_MAX_STATEMENTS); try again shortly",
                )
            self._live[statement.id] = statement
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="trino-reaper", daemon=True)
                self._reaper.start()
        return None

    def _reap(self) -> None:
        """Abandon statements whose client stopped asking, even while their query is stuck."""
        while True:
            time.sleep(WAIT_SECONDS)
            with self._lock:
                idle = [s for s in self._live.values() if s.idle()]
            for statement in idle:
                if statement.killed is not None:
                    killed = statement.killed
                    self.finish(statement, Outcome.cancelled, killed.message, killed.name)
                else:
                    self.finish(
                        statement, Outcome.cancelled, "abandoned by the client", "ABANDONED_QUERY"
                    )

    def _kill(self, statement: Statement, kill: Kill, request: Request) -> Response:
        """`CALL system.runtime.kill_query`: only the caller's own live statement is killed;
        anyone else's is not found, as an id that never was."""
        key = caller(statement.principal)
        with self._lock:
            target = self._live.get(kill.query_id)
            ended = any(
                r["query_id"] == kill.query_id and r["caller"] == key for r in self._history
            )
        if target is None or not target.owned_by(statement.principal):
            if ended:
                error = TrinoError("NOT_SUPPORTED", f"Target query is not running: {kill.query_id}")
            else:
                error = TrinoError("NOT_FOUND", f"Target query not found: {kill.query_id}")
            return self._refuse(statement, request, error)
        said = f"Message: {kill.message}" if kill.message else "No message provided."
        target.kill(TrinoError("ADMINISTRATIVELY_KILLED", f"Query killed. {said}"), self.buffer)
        return self._done(statement, Done("CALL"), request)

    def _queries_of(self, statement: Statement) -> list[dict[str, Any]]:
        """`system.runtime.queries` for the statement's caller: their live statements (this one
        included, running), then the finished ones the process remembers."""
        key = caller(statement.principal)
        with self._lock:
            live = [s for s in self._live.values() if caller(s.principal) == key]
            finished = [r for r in self._history if r["caller"] == key]
        rows = [_query_row(s, "FAILED" if s.killed else "RUNNING") for s in [*live, statement]]
        return rows + finished

    def _refuse(self, statement: Statement, request: Request, error: TrinoError) -> Response:
        results = QueryResults(
            id=statement.id,
            info_uri=_info_uri(request, statement),
            stats=StatementStats(state="FAILED"),
            error=error.body(),
        )
        body = _body(results)
        self._record(statement, _OUTCOMES.get(error.name, Outcome.error), error.message, body)
        self._remember(statement, error.name)
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
        self._remember(statement, None)
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
                page, end = statement.take(self.buffer)
            finally:
                statement.polling, statement.touched = False, time.monotonic()
            if page is not None and statement.opened is None:
                # On the chain before the first rows leave, whatever happens next.
                statement.opened = self._open(statement)
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
            outcome = _OUTCOMES.get(error.name, Outcome.error)
            self.finish(statement, outcome, error.message, error.name)
        elif end:
            self.finish(statement, Outcome.ok, None)
        return Response(body, media_type=MEDIA)

    def finish(
        self, statement: Statement, outcome: Outcome, error: str | None, code: str | None = None
    ) -> None:
        """End a statement once: stop its query, forget it, write its completing record;
        `code` is the Trino error it ended with (for system.runtime.queries)."""
        with self._lock:
            if self._live.pop(statement.id, None) is None:
                return  # already finished, cancelled or abandoned
        statement.cancel(self.buffer)
        self._record(statement, outcome, error)
        self._remember(statement, code)

    def close(self) -> None:
        """The server shuts down: end every live statement, each with its record."""
        with self._lock:
            live = list(self._live.values())
        for statement in live:
            self.finish(
                statement, Outcome.cancelled, "the server shut down", "SERVER_SHUTTING_DOWN"
            )

    def _remember(self, statement: Statement, code: str | None) -> None:
        """Keep the finished statement for its caller's system.runtime.queries."""
        row = _query_row(statement, "FAILED" if code else "FINISHED", code)
        row["end"] = _timestamp(datetime.now(UTC))
        with self._lock:
            self._history.append(row)

    def _open(self, statement: Statement) -> AuditRecord:
        return self.audit.append(
            statement.principal,
            AuditKind.trino,
            statement.sql,
            datasets=statement.datasets,
            duration_ms=(time.perf_counter() - statement.started) * 1000,
            outcome=Outcome.opened,
        )

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
            completes=statement.opened.seq if statement.opened else None,
        )


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="milliseconds")


def _query_row(statement: Statement, state: str, code: str | None = None) -> dict[str, Any]:
    """A row of system.runtime.queries (and whose it is, in `caller`, never shown)."""
    created = _timestamp(statement.created)
    code = code or (statement.killed.name if statement.killed else None)
    kind = CODES[code][1] if code in CODES else ("INTERNAL_ERROR" if code else None)
    return {
        "caller": caller(statement.principal),
        "query_id": statement.id,
        "state": state,
        "user": statement.principal.subject,
        "source": statement.source,
        "query": statement.sql,
        "resource_group_id": ["global"],
        "queued_time_ms": 0,
        "analysis_time_ms": 0,
        "planning_time_ms": 0,
        "created": created,
        "started": created,
        "last_heartbeat": _timestamp(datetime.now(UTC)),
        "end": None,
        "error_type": kind,
        "error_code": code,
    }


def _next_uri(request: Request, statement: Statement, token: int) -> str:
    return str(
        request.url_for("trino_page", query_id=statement.id, slug=statement.slug, token=str(token))
    )


def _info_uri(request: Request, statement: Statement) -> str:
    return str(request.url_for("trino_query", query_id=statement.id))
