"""What every console page and form shares: the operator check, the form's CSRF check, and
the audit record of each page read and each act (kind `admin`; reading the audit log is
kind `audit`, as through the API)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.deps import platform_of
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.audit import AuditKind, Outcome
from catalog.access.principal import Principal, Role
from catalog.access.sessions import Session

ADMIN = AuditKind("admin")
MAX_FIELDS = 64  # the largest console form (a person with every role) has a dozen
FORBIDDEN = "admin.forbidden"


@dataclass(frozen=True)
class Problem:
    """Why an act was not done: the status, the sentence a person reads first (a message
    key) and the domain's own precise message (English)."""

    status: int
    lead: str
    detail: str = ""


def statement(request: Request, act: str = "") -> str:
    """The request as the audit log records it (method, path, query), and the act done."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}" + (f" {act}" if act else "")


class Console:
    """One console request: its operator, timer and audit records."""

    def __init__(self, request: Request, session: Session) -> None:
        self.request = request
        self.session = session
        self.platform = platform_of(request)
        self.started = time.perf_counter()
        self.principal: Principal = session.principal
        if self.principal.role != Role.operator:
            self.record(ADMIN, outcome=Outcome.denied, error="the console is for operators")
            raise PageError(403, FORBIDDEN)

    def record(
        self,
        kind: AuditKind = ADMIN,
        act: str = "",
        *,
        datasets: Iterable[str] = (),
        rows: int | None = None,
        bytes_out: int | None = None,
        outcome: Outcome = Outcome.ok,
        error: str | None = None,
    ) -> None:
        """Write this request's audit record (a page read, an act, or a refusal)."""
        self.platform.audit.append(
            self.session.principal,
            kind,
            statement(self.request, act),
            datasets=datasets,
            rows=rows,
            bytes_out=bytes_out,
            duration_ms=(time.perf_counter() - self.started) * 1000,
            outcome=outcome,
            error=error,
        )

    async def form(self) -> FormData:
        """The posted form, once its CSRF token is the session's (403 and a refusal record
        otherwise)."""
        form = await self.request.form(max_files=0, max_fields=MAX_FIELDS)
        try:
            check_csrf(self.session, form.get("csrf_token"))
        except PageError:
            self.record(outcome=Outcome.denied, error="CSRF token missing or wrong")
            raise
        return form


def text(form: FormData, name: str, limit: int = 256) -> str:
    """A form field as trimmed text (absent: empty), cut at `limit` characters."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _console(request: Request, session: SignedIn) -> Console:
    return Console(request, session)


# A route's operator: 403 (and a refusal on the audit chain) for anyone else.
Operator = Annotated[Console, Depends(_console)]


async def _posted(console: Operator) -> FormData:
    return await console.form()


# A form posted by an operator with the session's CSRF token (read before the route runs, so
# the route itself may be a plain function, run in a thread: argon2 and the database block).
Posted = Annotated[FormData, Depends(_posted)]
