"""Steward pages: the agency's deliveries and their states, each gate report, and an upload form
that lands a file exactly as `gongyu deliver` does (`Platform.deliver`), audited as `upload`."""

from __future__ import annotations

import re
import time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from api.browse.audit import audit_later, audit_upload
from api.deps import platform_of
from api.middleware.bodylimit import BodyTooLarge
from api.web.i18n import requested_lang
from api.web.render import error_page, page
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.audit import Outcome
from catalog.access.principal import Principal, Role
from catalog.access.sessions import Session
from catalog.deliveries import BuiltNotDelivered, Delivery, DeliveryState, DeliveryTooLarge
from contracts.model import Contract
from gongyu.delivery.landing import accept_upload, upload_name
from gongyu.delivery.report import reasons, results_prefix, stored_findings
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from quality.header_check import HeaderMismatch

router = APIRouter(prefix="/steward", include_in_schema=False)
UPLOAD = "/upload"
MAX_LISTED = 500
WORDED = 50  # deliveries whose reasons the list shows in the page's language
REFRESH_SECONDS = 5
UNDER_WAY = (DeliveryState.received, DeliveryState.validating)
# Multipart framing and the form's small fields around the file.
FORM_OVERHEAD = 64 * 1024


def body_limits(settings: Settings) -> dict[str, int]:
    """The largest body each upload route reads (`api.middleware.bodylimit`): a delivery and
    its form."""
    return {re.escape(router.prefix + UPLOAD): settings.max_delivery_bytes + FORM_OVERHEAD}


def _steward(session: Session) -> Principal:
    """The viewer, who must be a steward: these pages are their agency's working view."""
    if session.principal.role != Role.steward:
        raise PageError(403, "error.stewards_only")
    return session.principal


def _own_contracts(platform: Platform, agency: str) -> list[Contract]:
    """The agency's datasets a file is delivered for (its joint products are built instead)."""
    own = (c for c in platform.contracts.values() if c.agency == agency and c.product is None)
    return sorted(own, key=lambda c: c.id)


def _deliveries_page(
    request: Request,
    session: Session,
    *,
    landed: Delivery | None = None,
    landed_new: bool = False,
    problem: str | None = None,
    detail: str | None = None,
    chosen: str | None = None,
    status: int = 200,
) -> Response:
    platform = platform_of(request)
    agency = session.principal.agency
    mine = [d for d in platform.deliveries.list() if d.agency == agency]
    mine.sort(key=lambda d: d.received_at, reverse=True)
    lang = requested_lang(request)[0].value
    # In the page's language, from each report (one read each): the newest are worded, older
    # ones point to their report.
    worded = [d for d in mine if d.reasons][:WORDED]
    return page(
        request,
        "steward.html",
        session=session,
        status=status,
        datasets=_own_contracts(platform, agency),
        deliveries=mine[:MAX_LISTED],
        reasons={d.delivery_id: reasons(platform, d, lang) for d in worded},
        landed=landed,
        landed_new=landed_new,
        problem=problem,
        detail=detail,
        chosen=chosen,
        limit_mib=platform.settings.max_delivery_bytes // 1024**2,
        # While a delivery is on its way the page reloads itself, so its end shows unasked.
        refresh=REFRESH_SECONDS if any(d.state in UNDER_WAY for d in mine) else None,
    )


def _own_delivery(platform: Platform, principal: Principal, delivery_id: str) -> Delivery | None:
    """The delivery if it is one of the principal's agency (another's does not exist here)."""
    try:
        delivery = platform.deliveries.get(delivery_id)
    except KeyError:
        return None
    return delivery if delivery.agency == principal.agency else None


@router.get("", response_class=HTMLResponse)
def deliveries(
    request: Request,
    session: SignedIn,
    background: BackgroundTasks,
    delivery: Annotated[str | None, Query(max_length=64)] = None,
    new: bool = False,
) -> Response:
    """My agency's deliveries, newest first, and the upload form."""
    started = time.perf_counter()
    principal = _steward(session)
    landed = _own_delivery(platform_of(request), principal, delivery) if delivery else None
    audit_later(background, request, principal, started)
    return _deliveries_page(
        request,
        session,
        landed=landed,
        landed_new=new,
        chosen=landed.dataset_id if landed else None,
    )


@router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
def report(
    request: Request, session: SignedIn, background: BackgroundTasks, delivery_id: str
) -> Response:
    """One delivery of my agency and its gate report, if the gate has run: its findings in the
    page's language, and the text report (`report.txt`) as written."""
    started = time.perf_counter()
    principal = _steward(session)
    platform = platform_of(request)
    delivery = _own_delivery(platform, principal, delivery_id)
    if delivery is None:
        audit_later(background, request, principal, started)
        return error_page(request, session, 404, "error.not_found")
    audit_later(background, request, principal, started, datasets=[delivery.dataset_id])
    text = platform.results.read_text(results_prefix(delivery) + "report.txt")
    lang = requested_lang(request)[0].value
    contract = platform.contracts.get(delivery.dataset_id)
    return page(
        request,
        "report.html",
        session=session,
        delivery=delivery,
        reasons=reasons(platform, delivery, lang),
        findings=stored_findings(platform, delivery, lang) or [],
        labels={c.name: c.label for c in contract.columns} if contract else {},
        report=text,
    )


async def _deliver_form(
    request: Request, session: Session, form: FormData, started: float
) -> Response:
    principal, platform = session.principal, platform_of(request)
    check_csrf(session, form.get("csrf_token"))
    dataset_id, file = form.get("dataset"), form.get("file")
    contract = platform.contracts.get(dataset_id) if isinstance(dataset_id, str) else None
    name = upload_name(file.filename if isinstance(file, UploadFile) else None)
    statement = f"upload {name} to {dataset_id}"
    if contract is not None and contract.product is not None:
        detail = str(BuiltNotDelivered(contract))
        audit_upload(platform, principal, statement, contract.id, started, Outcome.denied, detail)
        raise PageError(409, "error.product_not_delivered")
    if contract is None or contract.agency != principal.agency:
        audit_upload(
            platform,
            principal,
            statement,
            contract.id if contract else None,
            started,
            Outcome.denied,
            "not a dataset of the steward's agency",
        )
        raise PageError(403, "error.not_your_dataset")
    if not isinstance(file, UploadFile) or not file.filename:
        return _deliveries_page(
            request, session, problem="steward.no_file", chosen=contract.id, status=400
        )
    try:
        delivery, new = await run_in_threadpool(
            accept_upload, platform, contract.id, name, file.file
        )
    except DeliveryTooLarge as exc:
        audit_upload(platform, principal, statement, contract.id, started, Outcome.error, str(exc))
        return _deliveries_page(
            request,
            session,
            problem="error.too_large",
            detail=str(exc),
            chosen=contract.id,
            status=413,
        )
    except HeaderMismatch as exc:
        audit_upload(platform, principal, statement, contract.id, started, Outcome.denied, str(exc))
        return _deliveries_page(
            request,
            session,
            problem="steward.header_mismatch",
            detail=str(exc),
            chosen=contract.id,
            status=422,
        )
    audit_upload(
        platform,
        principal,
        f"{statement} as delivery {delivery.delivery_id}",
        contract.id,
        started,
        Outcome.ok,
    )
    target = f"/steward?delivery={delivery.delivery_id}&new={str(new).lower()}"
    return RedirectResponse(target, status_code=303)


@router.post(UPLOAD, response_class=HTMLResponse)
async def upload(request: Request, session: SignedIn) -> Response:
    """Land an uploaded file as a delivery of one of my agency's datasets."""
    started = time.perf_counter()
    _steward(session)
    try:
        form = await request.form(max_files=1, max_fields=3)
    except BodyTooLarge:  # declared too large, or counted past the limit: nothing more is read
        raise PageError(413, "error.too_large") from None
    try:
        return await _deliver_form(request, session, form, started)
    finally:
        await form.close()
