"""The serving process's memory budget: no caller's queries may take the server past it.

Every caller's sandbox is a DuckDB database of its own with its own `memory_limit`, and some
of what a query builds is counted by none of them. So the process's resident memory is read
from `/proc` every `INTERVAL` while queries run, and while it is over the budget the oldest
running query is aborted, one every `GRACE` (the time DuckDB takes to hand memory back).
"""

from __future__ import annotations

import os
import re
import threading
import time

from api.running import Execution, QueryAborted

INTERVAL = 0.05
GRACE = 0.5
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size written as DuckDB writes them: `4GB` (10^9), `512MiB` (2^20), `1000`."""
    found = _SIZE.match(text)
    unit = found.group(2).lower() if found else ""
    if not found or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (write e.g. 4GB or 512MiB)")
    return int(float(found.group(1)) * _UNITS[unit])


def human(size: int) -> str:
    """A size for people: `1.5 GiB`."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def machine_bytes() -> int:
    """The machine's physical memory."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """The process's resident memory now (Linux `/proc/self/statm`)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryBudget:
    """Aborts running queries, oldest first, while the process is over `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: list[Execution] = []
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
            if execution in self._running:
                self._running.remove(execution)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._running:
                    self._changed.wait()
            held = resident_bytes()
            if held <= self.limit:
                time.sleep(INTERVAL)
                continue
            with self._changed:
                victim = min(self._running, key=lambda e: e.started, default=None)
                if victim is not None:
                    self._running.remove(victim)  # aborted once; its end comes later
            if victim is not None:
                victim.abort(QueryAborted(self.message(held)))
            time.sleep(GRACE)

    def message(self, held: int) -> str:
        """What the caller of an aborted query reads: which limit, and what to do."""
        return (
            f"query cancelled: the server's memory budget of {human(self.limit)} "
            f"(GONGYU_SQL_MEMORY_BUDGET) was reached while it ran ({human(held)} in use), and "
            "the oldest query running goes first; try again when fewer queries run, or make it "
            "lighter (fewer rows, columns or groups, smaller values)"
        )
