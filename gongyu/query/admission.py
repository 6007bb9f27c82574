"""How many queries run at once: in the whole process, and for one caller.

Each running query may hold up to its sandbox's memory limit, so the process runs at most
`running` of them together and one caller at most `per_caller`; the others wait their turn,
at most `queue` of them and each for at most `wait_seconds`, and are then turned away with
`Busy`, which names the limit and says when to come back. A query holds its slot until DuckDB
has let go of it (`gongyu.query.running.Execution.on_end`), not merely until its caller gave up.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable


class Busy(Exception):
    """No room to run a query now: the message names the limit; retry after `retry_after` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Admission:
    """Slots for running queries: `running` in the process, `per_caller` for one caller."""

    def __init__(self, running: int, per_caller: int, queue: int, wait_seconds: float) -> None:
        self.running = running
        self.per_caller = per_caller
        self.queue = queue
        self.wait_seconds = wait_seconds
        self._held: Counter[str] = Counter()
        self._waiting = 0
        self._free = threading.Condition()

    def enter(self, caller: str) -> Callable[[], None]:
        """Wait for a slot for `caller`; returns the function that gives it back (once).
        Raises Busy when none comes free in time, or too many wait already."""
        retry = max(1, math.ceil(self.wait_seconds))
        with self._free:
            if self._room(caller):
                return self._take(caller)
            if self._waiting >= self.queue:
                raise Busy(
                    f"the server is busy: {self.running} queries run (GONGYU_SQL_MAX_RUNNING) "
                    f"and {self._waiting} wait (GONGYU_SQL_QUEUE); try again in {retry} s",
                    retry,
                )
            self._waiting += 1
            try:
                deadline = time.monotonic() + self.wait_seconds
                while not self._room(caller):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Busy(self._why(caller), retry)
                    self._free.wait(left)
                return self._take(caller)
            finally:
                self._waiting -= 1

    def _room(self, caller: str) -> bool:
        return self._held.total() < self.running and self._held[caller] < self.per_caller

    def _why(self, caller: str) -> str:
        if self._held[caller] >= self.per_caller:
            return (
                f"too many queries of yours at once: {self.per_caller} of yours run already "
                f"(GONGYU_SQL_MAX_RUNNING_PER_CALLER) and none ended within "
                f"{self.wait_seconds:g} s; wait for one to end (a Trino client must read its "
                "statements to the end or cancel them), then try again"
            )
        return (
            f"the server is busy: its {self.running} query slots (GONGYU_SQL_MAX_RUNNING) stayed "
            f"taken for {self.wait_seconds:g} s; try again shortly"
        )

    def _take(self, caller: str) -> Callable[[], None]:
        self._held[caller] += 1
        given = threading.Event()

        def release() -> None:
            with self._free:
                if given.is_set():
                    return
                given.set()
                self._held[caller] -= 1
                self._free.notify_all()

        return release
