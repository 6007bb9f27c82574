"""The serving process's memory budget: no caller's queries may take the server past it.

Every caller's sandbox is a DuckDB database of its own with its own `memory_limit`, and some
of what a query builds is counted by none of them. So the process's resident memory is read
from `/proc` every `INTERVAL` while queries run, and from `MARGIN` below the budget on the
oldest running query is aborted (a query growing at 1 GB/s adds 50 MB between two readings, so
the peak stays under the budget itself). While an aborted query's memory is handed back, the
next one is aborted only if the budget itself is passed.
"""

from __future__ import annotations

import os
import threading
import time

from pydantic import ByteSize, TypeAdapter, ValidationError

from gongyu.query.running import Execution, QueryAborted

INTERVAL = 0.05
MARGIN = 0.05  # of the budget: what the process may grow by between two readings
# DuckDB writes sizes as pydantic reads them: KB, MB, GB in powers of 1000, KiB… of 1024.
_SIZE = TypeAdapter(ByteSize)


def parse_size(text: str) -> int:
    """Bytes of a size written as DuckDB writes them: `4GB` (10^9), `512MiB` (2^20), `1000`."""
    try:
        return int(_SIZE.validate_python(text))
    except ValidationError:
        raise ValueError(f"not a size: {text!r} (write e.g. 4GB or 512MiB)") from None


def human(size: int) -> str:
    """A size for people: `1.5GiB`."""
    return ByteSize(size).human_readable()


def machine_bytes() -> int:
    """The machine's physical memory."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """The process's resident memory now (Linux `/proc/self/statm`)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryBudget:
    """Aborts running queries, oldest first, while the process nears `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: list[Execution] = []
        self._freeing: list[Execution] = []  # aborted, DuckDB not yet let go
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, execution: Execution) -> None:
        """Count `execution` among the running queries until DuckDB lets go of it."""
        with self._changed:
            self._running.append(execution)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sql-memory", daemon=True)
                self._thread.start()
            self._changed.notify()
        execution.on_end(lambda: self._forget(execution))

    def _forget(self, execution: Execution) -> None:
        with self._changed:
            for among in (self._running, self._freeing):
                if execution in among:
                    among.remove(execution)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._running:
                    self._changed.wait()
            time.sleep(INTERVAL)
            held = resident_bytes()
            with self._changed:
                # While an aborted query's memory is being handed back, the next one goes
                # only if the budget itself is passed; otherwise from the margin on.
                nearing = held > self.limit * (1 - MARGIN)
                if not nearing or (self._freeing and held <= self.limit):
                    continue
                victim = min(self._running, key=lambda e: e.started, default=None)
                if victim is None:
                    continue
                self._running.remove(victim)
                self._freeing.append(victim)
            victim.abort(QueryAborted(self.message(held)))

    def message(self, held: int) -> str:
        """What the caller of an aborted query reads: which limit, and what to do."""
        return (
            f"query cancelled: the server came within {MARGIN:.0%} of its memory budget of "
            f"{human(self.limit)} (GONGYU_SQL_MEMORY_BUDGET) while it ran ({human(held)} in "
            "use), and the oldest query running goes first; try again when fewer queries run, "
            "or make it lighter (fewer rows, columns or groups, smaller values)"
        )
