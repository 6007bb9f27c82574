"""`/admin`, `/admin/audit`, `/admin/deliveries`: the console's overview, the audit log (filter,
verify the chain, export as JSON Lines) and the deliveries of every agency. Reading the audit
log is itself on it (kind `audit`), as through `/api/v1/audit`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, StreamingResponse

from api.admin.guard import Console, Operator, statement
from api.web.render import page
from catalog.access.audit import AuditKind, AuditRecord, Outcome, VerifyResult
from catalog.deliveries import PENDING, DeliveryState

router = APIRouter()
PAGE = 100  # audit records per page
MAX_DELIVERIES = 500


@router.get("", response_class=HTMLResponse)
def overview(console: Operator) -> HTMLResponse:
    """What the console holds, counted, with a link to each page."""
    platform = console.platform
    everyone = platform.people.list()
    newest = platform.audit.records(limit=1)
    counts = {
        "people": sum(p.kind == "person" for p in everyone),
        "services": sum(p.kind == "service" for p in everyone),
        "disabled": sum(not p.active for p in everyone),
        "tokens": sum(k.live for k in platform.keys.list()),
        "grants": len(platform.grants.list()),
        "records": newest[0].seq if newest else 0,
        "pending": len(platform.deliveries.list(states=PENDING)),
        "quarantined": len(platform.deliveries.list(states=(DeliveryState.quarantined,))),
    }
    console.record()
    return page(console.request, "admin/index.html", session=console.session, counts=counts)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    console: Operator,
    person: Annotated[str | None, Query(max_length=128)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    dataset: Annotated[str | None, Query(max_length=128)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The newest audit records first, a page at a time, filtered by person, agency, dataset
    and kind."""
    records = console.platform.audit.records(
        agency=agency or None,
        dataset_ids={dataset} if dataset else None,
        person=person or None,
        kind=kind or None,
        before=before,
        limit=PAGE,
    )
    console.record(AuditKind.audit, rows=len(records))
    return _audit_page(
        console, records=records, chosen=[person, agency, dataset, kind], verified=None
    )


def _audit_page(
    console: Console,
    *,
    records: list[AuditRecord],
    chosen: list[str | None],
    verified: VerifyResult | None,
) -> HTMLResponse:
    person, agency, dataset, kind = (c or "" for c in chosen)
    names = {p.person_id: p.name for p in console.platform.people.list()}
    older = records[-1].seq if len(records) == PAGE else None
    return page(
        console.request,
        "admin/audit.html",
        session=console.session,
        records=records,
        people_names=names,
        kinds=list(AuditKind),
        agencies=console.platform.registry.agencies,
        chosen={"person": person, "agency": agency, "dataset": dataset, "kind": kind},
        older=older,
        verified=verified,
        wide=True,
    )


@router.get("/audit/verify", response_class=HTMLResponse)
def verify(console: Operator) -> HTMLResponse:
    """Check the whole chain from its first record: intact (with its head hash to keep
    elsewhere), or the first record where it breaks."""
    result = console.platform.audit.verify()
    console.record(
        AuditKind.audit,
        "verify",
        rows=result.count,
        outcome=Outcome.ok,
        error=None if result.ok else f"broken at #{result.broken_at}: {result.reason}",
    )
    records = console.platform.audit.records(limit=PAGE)
    return _audit_page(console, records=records, chosen=[None] * 4, verified=result)


@router.get("/audit/export", response_class=StreamingResponse)
def export(console: Operator) -> StreamingResponse:
    """The whole log as JSON Lines, oldest first, streamed; `gongyu audit verify --file`
    checks the file. Its audit record is written when the stream ends, however it ends."""
    return StreamingResponse(
        console.platform.audit.streamed_export(
            console.principal, statement(console.request, "export"), console.started
        ),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="gongyu-audit.jsonl"'},
    )


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries(
    console: Operator,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """The deliveries of every agency (of one, in one state), newest first."""
    states = (DeliveryState(state),) if state in DeliveryState.__members__ else None
    found = [
        d
        for d in console.platform.deliveries.list(states=states)
        if not agency or d.agency == agency
    ][::-1][:MAX_DELIVERIES]
    console.record(datasets={d.dataset_id for d in found}, rows=len(found))
    return page(
        console.request,
        "admin/deliveries.html",
        session=console.session,
        deliveries=found,
        states=list(DeliveryState),
        agencies=console.platform.registry.agencies,
        chosen={"agency": agency or "", "state": state if states else ""},
        limit=MAX_DELIVERIES,
        wide=True,
    )
