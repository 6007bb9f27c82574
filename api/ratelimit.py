"""Rate limit on authentication failures: a sliding one-minute window per client address and
per credential presented (an API key's id, a token's subject).

Only failures count, and only failures are refused: after `GONGYU_AUTH_FAILURES_PER_MINUTE`
failed authentications within the last 60 seconds from one address, or naming one key id or
token subject, the next failures get 429 with `Retry-After` instead of 401, until the oldest
failure leaves the window. A valid credential is always accepted, so no one can lock another
caller out by failing in their name or from their (shared, proxied) address.

The client address is the connecting one, or behind one of `GONGYU_TRUSTED_PROXIES` the one
that proxy names in `X-Forwarded-For` (`api.app`); nothing else a caller sends can change it.
Counts are kept in memory, per worker process: with N workers a key gets at most N times the
limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import Request

from api.deps import limiter_of

WINDOW_SECONDS = 60.0
MAX_KEYS = 100_000  # bound on memory under a spray of addresses or key ids


class AuthFailures:
    """Recent authentication failures per key (an address, or a presented credential's id)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        found = self._failures.get(key)
        if found is None:
            return None
        while found and found[0] <= now - WINDOW_SECONDS:
            found.popleft()
        if not found:
            del self._failures[key]
            return None
        return found

    def failed(self, key: str) -> int | None:
        """Record one failure of `key`; the seconds it must wait when it was already at the
        limit before this one (None: under it)."""
        if self.per_minute <= 0:
            return None
        with self._lock:
            now = self.clock()
            found = self._recent(key, now)
            if found is None:
                if len(self._failures) >= MAX_KEYS:
                    self._failures.pop(next(iter(self._failures)))
                found = self._failures[key] = deque(maxlen=self.per_minute)
            wait = None
            if len(found) == self.per_minute:
                wait = max(1, math.ceil(found[0] + WINDOW_SECONDS - now))
            found.append(now)
            return wait


# How a 429 is documented in OpenAPI (its body is the refusal of the caller's authentication).
RATE_LIMITED: dict[str, Any] = {
    "description": "Too many failed authentications within a minute from this address, or "
    "naming this key or token subject (a valid credential is still accepted).",
    "headers": {
        "Retry-After": {
            "description": "Seconds until a failure is answered 401 again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


class Limiter:
    """The app's failure counters: one per client address, one per presented credential (two,
    so that a spray of made-up key ids cannot push an address out of its counter)."""

    def __init__(self, per_minute: int) -> None:
        self.addresses = AuthFailures(per_minute)
        self.credentials = AuthFailures(per_minute)


def client_address(request: Request) -> str:
    """The caller's address: the connecting one, or the client a trusted proxy names."""
    return request.client.host if request.client else "unknown"


def record_failure(request: Request, presented: str | None) -> int | None:
    """Count one failed authentication against the request's address and the credential it
    presented (`presented`: its key id or subject, if it names one); the seconds to wait when
    either was already at the limit, so that this failure gets 429 (None: 401)."""
    counters = limiter_of(request)
    waits = [counters.addresses.failed(client_address(request))]
    if presented:
        waits.append(counters.credentials.failed(presented))
    return max((w for w in waits if w is not None), default=None)
