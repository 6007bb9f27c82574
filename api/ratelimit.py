"""Rate limit on authentication failures: per client address, a sliding one-minute window.

After `GONGYU_AUTH_FAILURES_PER_MINUTE` failed authentications from one address within the
last 60 seconds, every further attempt from it gets 429 with `Retry-After` until the oldest
failure leaves the window; other addresses are unaffected. Counts are kept in memory, per
worker process: with N workers an address gets at most N times the limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 100_000  # bound on memory under a spray of source addresses


class AuthFailures:
    """Recent authentication failures per client address."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        found = self._failures.get(address)
        if found is None:
            return None
        while found and found[0] <= now - WINDOW_SECONDS:
            found.popleft()
        if not found:
            del self._failures[address]
            return None
        return found

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again; None when it may try now."""
        if self.per_minute <= 0:
            return None
        with self._lock:
            now = self.clock()
            found = self._recent(address, now)
            if found is None or len(found) < self.per_minute:
                return None
            return max(1, math.ceil(found[-self.per_minute] + WINDOW_SECONDS - now))

    def failed(self, address: str) -> None:
        """Record one failed authentication from `address`."""
        if self.per_minute <= 0:
            return
        with self._lock:
            now = self.clock()
            found = self._recent(address, now)
            if found is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    self._failures.pop(next(iter(self._failures)))
                found = self._failures[address] = deque(maxlen=self.per_minute)
            found.append(now)


# How a 429 is documented in OpenAPI (its body is the refusal of the caller's authentication).
RATE_LIMITED: dict[str, Any] = {
    "description": "Too many failed authentications from this address within a minute.",
    "headers": {
        "Retry-After": {
            "description": "Seconds until the address may authenticate again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
_create = threading.Lock()


def failures(request: Request) -> AuthFailures:
    """The app's failure counter (created on first use from the platform's settings)."""
    state = request.app.state
    counter: AuthFailures | None = getattr(state, "auth_failures", None)
    if counter is None:
        with _create:
            counter = getattr(state, "auth_failures", None)
            if counter is None:
                per_minute = state.platform.settings.auth_failures_per_minute
                counter = state.auth_failures = AuthFailures(per_minute)
    return counter


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (behind a proxy, as uvicorn's
    `--forwarded-allow-ips` lets it read `X-Forwarded-For`)."""
    return request.client.host if request.client else "unknown"


def too_many(request: Request) -> int | None:
    """Seconds the request's address must wait before authenticating again, or None."""
    return failures(request).retry_after(client_address(request))


def refuse_if_limited(request: Request) -> None:
    """429 (body `{"detail": "invalid"}`, header `Retry-After`) while the address is blocked."""
    if (wait := too_many(request)) is not None:
        raise HTTPException(429, "invalid", headers={"Retry-After": str(wait)})


def record_failure(request: Request) -> None:
    """Count one failed authentication against the request's address."""
    failures(request).failed(client_address(request))
