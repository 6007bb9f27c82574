"""One query for one caller: admit it, check it, cap the values it builds, run it in their
sandbox under the process's memory budget, stream it.

Shared by the SQL API, downloads, catalog samples and the Trino protocol, so all enforce the
same policy and limits.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from catalog.access.audit import AuditKind, AuditLog, AuditRecord, Outcome
from catalog.access.grants import KOREA
from catalog.access.principal import Principal
from catalog.access.statements import NotFound, Refused, check_query
from catalog.published import AsOf, Pins
from gongyu.platform import Platform
from gongyu.query.admission import Admission, Busy
from gongyu.query.memory_budget import MemoryBudget, machine_bytes, parse_size
from gongyu.query.running import Execution, Limits, QueryAborted, QueryClosed, QueryTimeout
from gongyu.query.sandbox import Sandbox, Sandboxes, quote
from gongyu.query.valuecaps import cap_values


class QueryError(ValueError):
    """A query that failed; `kind` says how: refused, sql, timeout, as_of, busy (no slot to
    run it: try again after `retry_after` seconds), memory (the process's memory budget),
    cancelled (closed by its caller) or unavailable (a dataset whose view could not be built)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        unknown_table: bool = False,
        datasets: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        # Datasets the failed query named, for its audit record (their owners see the attempt).
        self.datasets = datasets or []
        # A table that does not exist for the caller (hidden or misspelt): worded as DuckDB's
        # own error, so only this flag tells it apart from other SQL errors.
        self.unknown_table = unknown_table
        self.retry_after = retry_after


def unavailable(sandbox: Sandbox, tables: Iterable[tuple[str, str]]) -> None:
    """Raise for tables whose view could not be built (the reason names the grant to fix)."""
    if denied := [sandbox.denied[t] for t in sorted(tables) if t in sandbox.denied]:
        raise QueryError(
            "unavailable",
            " ".join(f"{d.dataset_id}: {d.reason}" for d in denied),
            datasets=[d.dataset_id for d in denied],
        )


def failure(exc: BaseException) -> QueryError:
    """The QueryError of a running query's failure (time limit, memory budget, DuckDB)."""
    if isinstance(exc, QueryTimeout):
        return QueryError("timeout", str(exc))
    if isinstance(exc, QueryAborted):
        return QueryError("memory", str(exc))
    if isinstance(exc, QueryClosed):
        return QueryError("cancelled", str(exc))
    return QueryError("sql", clean(str(exc)))


def parse_as_of(value: str | int | Pins | None) -> AsOf | Pins:
    """A snapshot id, an ISO timestamp (a time without zone is Korea's), pins, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            "as_of", f"as_of {value!r} is neither a snapshot id nor an ISO timestamp"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=KOREA)


@dataclass
class Answer:
    """A running query's schema and batches; counts rows and bytes as they are sent."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    datasets: list[str]
    close: Callable[[], None]
    rows: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.perf_counter)

    def stream(self) -> Iterator[pa.RecordBatch]:
        """The batches, counted; a time limit reached mid-stream raises QueryError."""
        try:
            for batch in self.batches:
                self.rows += batch.num_rows
                self.bytes += batch.nbytes
                yield batch
        except (QueryTimeout, QueryAborted, QueryClosed, duckdb.Error) as exc:
            raise failure(exc) from None


def outcome_of(exc: QueryError) -> Outcome:
    """The audit outcome of a failed query."""
    return {"refused": Outcome.denied, "unavailable": Outcome.denied}.get(
        exc.kind, Outcome.cancelled if exc.kind == "timeout" else Outcome.error
    )


def audit_query(
    audit: AuditLog,
    principal: Principal,
    statement: str,
    answer: Answer | None,
    started: float,
    outcome: Outcome = Outcome.ok,
    error: str | None = None,
    kind: AuditKind = AuditKind.sql,
    completes: AuditRecord | None = None,
    datasets: list[str] | None = None,
) -> AuditRecord:
    """The audit record of a query's end: who, what, which datasets, rows, bytes, time,
    outcome; `completes` is its opening record, when it had one."""
    return audit.append(
        principal,
        kind,
        statement,
        datasets=answer.datasets if answer else datasets or [],
        rows=answer.rows if answer else 0,
        bytes_out=answer.bytes if answer else 0,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=outcome,
        error=error,
        completes=completes.seq if completes else None,
    )


_PATHS = re.compile(r"(?:s3://|file://|/)[^\s'\"]*\.parquet")


def clean(message: str) -> str:
    """A DuckDB error without the lakehouse's file paths."""
    return _PATHS.sub("<data file>", message)


def caller(principal: Principal) -> str:
    """Who a query counts against: one API key, or one token's subject."""
    return f"{principal.via}:{principal.subject}"


class QueryService:
    """Runs callers' queries in their sandboxes, within the process's limits."""

    def __init__(self, platform: Platform, limits: Limits) -> None:
        self.platform = platform
        self.sandboxes = Sandboxes(platform, limits)
        settings = platform.settings
        budget = (
            parse_size(settings.sql_memory_budget)
            if settings.sql_memory_budget
            else machine_bytes() // 2
        )
        # Each running query may fill its sandbox's memory limit; one is kept for the server.
        running = settings.sql_max_running or max(1, budget // parse_size(limits.memory) - 1)
        self.admission = Admission(
            running,
            settings.sql_max_running_per_caller or max(1, running // 2),
            settings.sql_queue,
            settings.sql_queue_seconds,
        )
        self.budget = MemoryBudget(budget)
        self.max_value_bytes = settings.sql_max_value_bytes

    def run(
        self,
        principal: Principal,
        sql: str,
        as_of: str | int | Pins | None = None,
        running: Callable[[list[str]], object] | None = None,
    ) -> Answer:
        """Check and start `sql` (DuckDB dialect) for `principal`; raises QueryError.
        `running` is called with the datasets once DuckDB has the query, before its first rows
        are awaited: the opening audit record is written while DuckDB works."""
        moment = parse_as_of(as_of)
        return self._admitted(principal, lambda: self._start(principal, sql, moment), running)

    def read_dataset(self, principal: Principal, dataset_id: str) -> Answer:
        """The whole dataset as `principal` reads it (`SELECT *` of their view). A dataset
        they may not read is looked for in their sandbox exactly as an unknown id is, and
        fails the same way (QueryError, `unknown_table`)."""

        def start() -> tuple[Execution, list[str]]:
            sandbox = self.sandboxes.for_principal(principal)
            denied = [t for t, d in sandbox.denied.items() if d.dataset_id == dataset_id]
            unavailable(sandbox, denied)
            views = (t for t, p in sandbox.views.items() if p.dataset_id == dataset_id)
            found = next(views, None)
            if found is None:
                raise QueryError("sql", "not found", unknown_table=True)
            sql = f"SELECT * FROM {quote(found[0])}.{quote(found[1])}"
            return sandbox.execute(sql, [found]), [dataset_id]

        return self._admitted(principal, start)

    def _admitted(
        self,
        principal: Principal,
        start: Callable[[], tuple[Execution, list[str]]],
        running: Callable[[list[str]], object] | None = None,
    ) -> Answer:
        """Wait for a slot, `start` the query, and hold the slot until DuckDB lets go; call
        `running` with the datasets before the first rows are awaited."""
        try:
            release = self.admission.enter(caller(principal))
        except Busy as exc:
            raise QueryError("busy", exc.message, retry_after=exc.retry_after) from None
        try:
            execution, datasets = start()
        except BaseException:
            release()
            raise
        # The slot is given back when DuckDB lets go, not when the caller stops waiting.
        execution.on_end(release)
        self.budget.watch(execution)
        if running is not None:
            try:
                running(datasets)
            except BaseException:
                execution.close()
                raise
        try:
            schema = execution.schema
        except (QueryTimeout, QueryAborted, QueryClosed, duckdb.Error) as exc:
            raise failure(exc) from None
        return Answer(
            schema=schema,
            batches=execution.batches,
            datasets=datasets,
            close=execution.close,
        )

    def _start(
        self, principal: Principal, sql: str, moment: AsOf | Pins
    ) -> tuple[Execution, list[str]]:
        """The query checked, capped and started in the caller's sandbox."""
        try:
            sandbox = self.sandboxes.for_principal(principal, moment)
        except LookupError as exc:
            raise QueryError("as_of", str(exc)) from None
        try:
            checked = check_query(sql, sandbox.allowed | set(sandbox.denied))
        except NotFound as exc:
            raise QueryError("sql", str(exc), unknown_table=True) from None
        except Refused as exc:
            raise QueryError("refused", str(exc)) from None
        unavailable(sandbox, checked.tables)
        tree = cap_values(checked.tree, self.max_value_bytes)
        datasets = sorted(sandbox.views[t].dataset_id for t in checked.tables)
        return sandbox.execute(tree.sql(dialect="duckdb"), checked.tables), datasets
