"""The bytes of Trino pages produced but not yet fetched, bounded for the whole process.

Each statement keeps at most two pages ahead of its client; this bounds all of them together,
so many statements whose clients read slowly (or not at all, until they are abandoned) cannot
fill the server's memory with pages. A producer waits for room before it queues a page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

WAIT_SECONDS = 1.0  # how often a waiting producer checks whether it should give up


class PageBuffer:
    """Room for `limit` bytes of pages in the process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._room = threading.Condition()

    def reserve(self, size: int, give_up: Callable[[], bool]) -> bool:
        """Wait until `size` bytes fit; False when `give_up()` comes true first or the page
        is larger than the whole buffer (it would never fit)."""
        with self._room:
            if size > self.limit:
                return False
            while self._used + size > self.limit:
                if give_up():
                    return False
                self._room.wait(WAIT_SECONDS)
            self._used += size
            return True

    def release(self, size: int) -> None:
        """A page of `size` bytes was fetched or dropped."""
        with self._room:
            self._used -= size
            self._room.notify_all()
