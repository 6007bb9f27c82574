"""Running one query on a DuckDB cursor under the sandbox's limits: time, memory, threads.

DuckDB runs the query on a thread of its own and hands the answer's Arrow batches over one at
a time; the caller waits for them with the deadline in hand. So the time limit, or an abort
from outside (the process's memory budget), is answered at once even while DuckDB is stuck in
one long call: the call is interrupted and ends on its own. `on_end` hooks run only when DuckDB
has let go of the query, when its memory is free again: admission slots are given back then.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from gongyu.ground.settings import Settings

BATCH_ROWS = 65_536
_serial = itertools.count(1)


class Limits(BaseModel):
    """The sandbox's resource limits (from settings)."""

    memory: str = "1GB"
    threads: int = 2
    seconds: float = 30.0

    @classmethod
    def of(cls, settings: Settings, seconds: float | None = None) -> Limits:
        """The SQL API's limits from settings (`seconds`: another time limit, e.g. a build's)."""
        return cls(
            memory=settings.sql_memory_limit,
            threads=settings.sql_threads,
            seconds=seconds or settings.sql_timeout_seconds,
        )


class QueryTimeout(RuntimeError):
    """The query ran past its time limit and was cancelled."""


class QueryAborted(RuntimeError):
    """The query was stopped from outside (the process's memory budget); the message says why."""


class QueryClosed(RuntimeError):
    """The query was closed (its caller went away or cancelled it) and was read on."""


def timeout_message(seconds: float) -> str:
    """What a caller reads when the time limit cancels their query: the limit and the fix."""
    return (
        f"query cancelled after {seconds:g} s, the time limit of one query "
        "(GONGYU_SQL_TIMEOUT_SECONDS): filter or aggregate more so it ends sooner, or ask the "
        "operator for a longer limit"
    )


class Watchdog:
    """One thread that interrupts queries past their deadline (a thread per query costs ~1 ms)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int]] = []
        self._live: dict[int, Callable[[], None]] = {}  # done() drops the cursor at once
        self._next = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, cancel: Callable[[], None]) -> int:
        """Call `cancel` in `seconds` unless `done` is called first; returns the ticket."""
        deadline = time.monotonic() + seconds
        with self._wake:
            self._next += 1
            ticket = self._next
            earliest = not self._due or deadline < self._due[0][0]
            heapq.heappush(self._due, (deadline, ticket))
            self._live[ticket] = cancel
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sql-watchdog", daemon=True)
                self._thread.start()
            if earliest:  # otherwise the thread already wakes up in time
                self._wake.notify()
        return ticket

    def done(self, ticket: int) -> None:
        """The query finished: no interrupt."""
        with self._wake:
            self._live.pop(ticket, None)

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0][1] not in self._live:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                deadline, ticket = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
                cancel = self._live.pop(ticket)
                with suppress(Exception):  # the query may have ended this very moment
                    cancel()


WATCHDOG = Watchdog()


class Workers:
    """Daemon threads that run queries, kept for the next one rather than started for each
    (a thread's start and DuckDB's per-thread caches cost CPU on every query). As many exist
    as ever ran at once, which admission bounds."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def run(self, job: Callable[[], None]) -> None:
        """Run `job` on an idle thread, or on a new one when none is idle."""
        with self._lock:
            spawn = not self._idle
            if not spawn:
                self._idle -= 1
        if spawn:
            name = f"sql-run-{next(_serial)}"
            threading.Thread(target=self._serve, name=name, daemon=True).start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1


WORKERS = Workers()


class Execution:
    """A query running on its own thread: its schema, its batches, and ways to stop it.

    `schema` and `batches` wait at most until the deadline; past it they raise QueryTimeout,
    after an abort the abort's error, whether or not DuckDB has returned yet.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, sql: str, limits: Limits) -> None:
        self.started = time.monotonic()
        self.seconds = limits.seconds
        self.deadline = self.started + limits.seconds
        self._cursor = cursor
        self._sql = sql
        self._ready = threading.Condition()
        self._schema: pa.Schema | None = None
        self._batches: deque[pa.RecordBatch] = deque()  # handed over, unread: one (two at the end)
        self._failed: BaseException | None = None
        self._exhausted = False
        self._stopped: BaseException | None = None  # why the caller no longer waits
        self._ended = False  # DuckDB has let go of the query
        self._hooks: list[Callable[[], None]] = []
        self._ticket = WATCHDOG.watch(limits.seconds, cursor.interrupt)
        self.batches = self._stream()
        WORKERS.run(self._work)

    @property
    def schema(self) -> pa.Schema:
        """The answer's schema, once DuckDB has handed over its first rows (or all of them);
        raises what stopped it."""
        with self._ready:
            self._wait(lambda: self._schema is not None or self._failed is not None)
            if self._schema is None:
                raise self._failure()
            return self._schema

    def on_end(self, hook: Callable[[], None]) -> None:
        """Call `hook` once DuckDB has let go of the query (at once if it already has)."""
        with self._ready:
            if not self._ended:
                self._hooks.append(hook)
                return
        hook()

    def close(self) -> None:
        """The caller needs no more batches: interrupt the query if it still runs."""
        self._stop(None)

    def abort(self, error: BaseException) -> None:
        """Stop the query from outside: the caller gets `error` at once."""
        self._stop(error)

    def _stop(self, error: BaseException | None) -> None:
        with self._ready:
            if self._stopped is not None or self._ended:
                return
            self._stopped = error or QueryClosed("the query was closed")
            self._ready.notify_all()
        with suppress(Exception):  # it may have ended this very moment
            self._cursor.interrupt()

    def _wait(self, done: Callable[[], bool]) -> None:
        """Wait (holding the lock) until `done()`, a stop, or the deadline; raise for the last
        two. A stop wins over what DuckDB handed over meanwhile."""
        while True:
            if self._stopped is not None:
                raise self._stopped
            if done():
                return
            left = self.deadline - time.monotonic()
            if left <= 0:
                self._stopped = QueryTimeout(timeout_message(self.seconds))
                with suppress(Exception):
                    self._cursor.interrupt()
                raise self._stopped
            self._ready.wait(left)

    def _failure(self) -> BaseException:
        """The error to raise for DuckDB's failure: an interrupt past the deadline is the
        time limit (mid-stream it surfaces through pyarrow as an OSError)."""
        if self._stopped is not None:  # the interrupt DuckDB reports is the stop's own
            return self._stopped
        failed = self._failed
        interrupt = (duckdb.InterruptException, pa.ArrowException, OSError)
        if isinstance(failed, interrupt) and time.monotonic() >= self.deadline:
            return QueryTimeout(timeout_message(self.seconds))
        assert failed is not None
        return failed

    def _stream(self) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                with self._ready:
                    self._wait(lambda: bool(self._batches) or self._exhausted or bool(self._failed))
                    if self._batches:
                        batch = self._batches.popleft()
                        self._ready.notify_all()
                    elif self._failed is not None:
                        raise self._failure()
                    else:
                        return
                yield batch
        finally:
            self.close()

    def _work(self) -> None:
        """The query's thread: run it and hand its batches over one at a time, each once the
        next is read (so a small answer, schema, rows and end, is handed over in one go); then
        let go of the cursor."""
        try:
            reader = self._cursor.execute(self._sql).to_arrow_reader(BATCH_ROWS)
            ahead: pa.RecordBatch | None = None
            for batch in reader:
                if ahead is not None and not self._hand(reader.schema, ahead):
                    return
                ahead = batch
            with self._ready:
                self._schema = reader.schema
                if ahead is not None:
                    self._batches.append(ahead)
                self._exhausted = True
        except BaseException as exc:  # DuckDB's error, or its interrupt: the caller's to raise
            with self._ready:
                self._failed = exc
        finally:
            WATCHDOG.done(self._ticket)
            with suppress(Exception):
                self._cursor.close()
            with self._ready:
                self._ended = True
                if self._stopped is not None:
                    self._batches.clear()  # nobody will read them
                hooks, self._hooks = self._hooks, []
                self._ready.notify_all()
            for hook in hooks:
                hook()

    def _hand(self, schema: pa.Schema, batch: pa.RecordBatch) -> bool:
        """Hand `batch` over once the caller took the last one; False once it stopped (or
        stopped reading past the deadline: the limit holds all the same)."""
        with self._ready:
            while self._batches and self._stopped is None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    self._stopped = QueryTimeout(timeout_message(self.seconds))
                    break
                self._ready.wait(left)
            if self._stopped is not None:
                return False
            self._schema = schema
            self._batches.append(batch)
            self._ready.notify_all()
            return True


def run_on_cursor(cursor: duckdb.DuckDBPyConnection, sql: str, limits: Limits) -> Execution:
    """Start `sql` on `cursor` on a thread of its own; it is cancelled past the time limit."""
    return Execution(cursor, sql, limits)
