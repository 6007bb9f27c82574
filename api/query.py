"""One query for one caller: check it, run it in their sandbox, stream it, audit it.

Shared by the SQL API and the Trino protocol, so both enforce the same policy and leave the
same trace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from api.principal import Principal
from api.running import Limits, QueryTimeout
from api.sandbox import Sandboxes
from api.sqlcheck import NotFound, Refused, check_query
from catalog.grants import KOREA
from catalog.published import AsOf
from gongyu.platform import Platform


class QueryError(ValueError):
    """A query that failed: refused, invalid SQL, or cancelled; `kind` says which."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        unknown_table: bool = False,
        datasets: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        # Datasets the failed query named, for its audit record (their owners see the attempt).
        self.datasets = datasets or []
        # A table that does not exist for the caller (hidden or misspelt): worded as DuckDB's
        # own error, so only this flag tells it apart from other SQL errors.
        self.unknown_table = unknown_table


def parse_as_of(value: str | int | None) -> AsOf:
    """A snapshot id, or an ISO timestamp (a time without zone is Korea's), or None."""
    if value is None or value == "":
        return None
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
        except QueryTimeout as exc:
            raise QueryError("timeout", str(exc)) from None
        except duckdb.Error as exc:
            raise QueryError("sql", clean(str(exc))) from None


_PATHS = re.compile(r"(?:s3://|file://|/)[^\s'\"]*\.parquet")


def clean(message: str) -> str:
    """A DuckDB error without the lakehouse's file paths."""
    return _PATHS.sub("<data file>", message)


class QueryService:
    """Runs callers' queries in their sandboxes."""

    def __init__(self, platform: Platform, limits: Limits) -> None:
        self.platform = platform
        self.sandboxes = Sandboxes(platform, limits)

    def run(self, principal: Principal, sql: str, as_of: str | int | None = None) -> Answer:
        """Check and start `sql` (DuckDB dialect) for `principal`; raises QueryError."""
        moment = parse_as_of(as_of)
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
        if denied := [sandbox.denied[t] for t in sorted(checked.tables) if t in sandbox.denied]:
            raise QueryError(
                "unavailable",
                " ".join(f"{d.dataset_id}: {d.reason}" for d in denied),
                datasets=[d.dataset_id for d in denied],
            )
        try:
            execution = sandbox.execute(checked.tree.sql(dialect="duckdb"), checked.tables)
        except QueryTimeout as exc:
            raise QueryError("timeout", str(exc)) from None
        except duckdb.Error as exc:
            raise QueryError("sql", clean(str(exc))) from None
        datasets = sorted(sandbox.views[t].dataset_id for t in checked.tables)
        return Answer(
            schema=execution.schema,
            batches=execution.batches,
            datasets=datasets,
            close=execution.close,
        )
