"""One audit record per catalog request (JSON API, pages, DCAT, CKAN), written once it is
answered."""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import BackgroundTasks, Request

from api.deps import platform_of
from catalog.access.audit import AuditKind, Outcome
from catalog.access.principal import Principal
from gongyu.platform import Platform


def statement(request: Request) -> str:
    """The request as the audit log records it: method, path and query string."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}"


def audit_later(
    background: BackgroundTasks,
    request: Request,
    principal: Principal,
    started: float,
    *,
    datasets: Iterable[str] = (),
    rows: int | None = None,
    outcome: Outcome = Outcome.ok,
    error: str | None = None,
    body: str | None = None,
) -> None:
    """Record the request after the answer is sent (the append is a database commit);
    `body` is what a POST asked, added to the statement."""
    background.add_task(
        platform_of(request).audit.append,
        principal,
        AuditKind.catalog,
        statement(request) + (f" {body}" if body else ""),
        datasets=list(datasets),
        rows=rows,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=outcome,
        error=error,
    )


def audit_upload(
    platform: Platform,
    principal: Principal,
    statement: str,
    dataset: str | None,
    started: float,
    outcome: Outcome,
    error: str | None = None,
) -> None:
    """Record a file handed in (page or API) at once: an upload is audited as it ends."""
    platform.audit.append(
        principal,
        AuditKind.upload,
        statement,
        datasets=[dataset] if dataset else [],
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome=outcome,
        error=error,
    )


class CatalogAudit:
    """A catalog request's timer from its start, and its audit record once answered (a
    FastAPI dependency)."""

    def __init__(self, request: Request, background: BackgroundTasks) -> None:
        self.request = request
        self.background = background
        self.started = time.perf_counter()

    def record(
        self, principal: Principal, *, datasets: Iterable[str] = (), rows: int | None = None
    ) -> None:
        """Record the request, once answered, as `principal`'s."""
        audit_later(
            self.background, self.request, principal, self.started, datasets=datasets, rows=rows
        )
