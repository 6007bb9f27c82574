"""Running one query on a DuckDB cursor under the sandbox's limits: time, memory, threads.

One watchdog thread interrupts queries past their deadline; the answer streams as Arrow
batches and the cursor is closed when the stream ends, fails or is abandoned.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from pydantic import BaseModel

BATCH_ROWS = 65_536


class Limits(BaseModel):
    """The sandbox's resource limits (from settings)."""

    memory: str = "1GB"
    threads: int = 2
    seconds: float = 30.0


class QueryTimeout(RuntimeError):
    """The query ran past its time limit and was cancelled."""


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


@dataclass
class Execution:
    """A running query: its Arrow schema and a stream of batches, cancelled at its deadline."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    close: Callable[[], None]


def run_on_cursor(cursor: duckdb.DuckDBPyConnection, sql: str, limits: Limits) -> Execution:
    """Start `sql` on `cursor`; the stream is cancelled past the time limit."""
    ticket = WATCHDOG.watch(limits.seconds, cursor.interrupt)
    started = time.monotonic()

    def finish() -> None:
        WATCHDOG.done(ticket)
        cursor.close()

    try:
        reader = cursor.execute(sql).to_arrow_reader(BATCH_ROWS)
    except duckdb.InterruptException:
        finish()
        raise QueryTimeout(f"query cancelled after {limits.seconds:g} s") from None
    except BaseException:
        finish()
        raise

    def stream() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        # An interrupt mid-stream surfaces through pyarrow's reader as an OSError.
        except (duckdb.InterruptException, pa.ArrowException, OSError) as exc:
            if time.monotonic() - started >= limits.seconds:
                raise QueryTimeout(f"query cancelled after {limits.seconds:g} s") from None
            raise exc
        finally:
            finish()

    return Execution(schema=reader.schema, batches=stream(), close=finish)
