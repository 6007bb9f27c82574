"""The contract pages: a steward drafts a contract from a sample file and edits it (columns as a
table beside the YAML), previews its lint errors and changes, saves or submits it; the sector's
secretariat approves or rejects it with a reason; everyone concerned follows each version.
A secretariat or a steward drafts a joint product of their agency from its SQL the same way
(`gongyu.products.draft`: the query runs as them, audited as an SQL query), and the preview
names what keeps the product from being defined (an input they may not read, an access level
wider than its inputs').

The rules are the domain's (`catalog.contract_reviews`), as for the JSON twin
(`/api/v1/contracts`); every page request and form post is a `catalog` audit record. Every form
works without JavaScript: the editor is a server round-trip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from api.browse.audit import CatalogAudit, audit_later
from api.deps import platform_of, queries_of
from api.middleware.bodylimit import BodyTooLarge
from api.web.contract_forms import (
    ACCESS_LEVELS,
    ACCESS_NOTE,
    CLASSIFICATIONS,
    MAX_FIELDS,
    PRODUCT_FIELDS,
    TYPES,
    Problem,
    apply_edits,
    editor,
    is_product,
    normalised,
    notes_of,
    posted_notes,
    product_request,
    title_of,
)
from api.web.render import error_page, page
from api.web.session import PageError, SignedIn, check_csrf
from catalog.access.audit import Outcome
from catalog.access.principal import Principal, Role
from catalog.access.sessions import Session
from catalog.contract_reviews import (
    Preview,
    ReviewError,
    ReviewState,
    Submission,
    UnknownSubmission,
)
from catalog.deliveries import DeliveryTooLarge
from gongyu.delivery.landing import draft_upload, upload_name
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from gongyu.products.draft import DRAFTERS, draft_product
from gongyu.query.query import QueryError
from quality.drafting import CADENCES

router = APIRouter(prefix="/contracts", include_in_schema=False)
Audit = Annotated[CatalogAudit, Depends()]
NEW = "/new"
NEW_PRODUCT = "/new/product"
FORM_OVERHEAD = 64 * 1024  # multipart framing and the small fields around the sample
UPLOAD_FIELDS = ("agency", "dataset", "sector", "cadence")
MAX_FIELD_CHARS = 200
MAX_LISTED = 200
# What a redirect after a step may say it did (`?done=`); anything else is not shown.
DONE = frozenset({"submitted", "saved", "sent", "approved", "rejected"})
REFUSALS = {403: Outcome.denied, 413: Outcome.error}  # how a refused page is audited
# A product's query that gave no draft: its status and message key by kind (a table the viewer
# cannot see is 404, as unknown; anything else the author can fix 422).
QUERY_PROBLEMS = {"busy": (429, "productform.busy")}


def body_limits(settings: Settings) -> dict[str, int]:
    """The largest body the sample upload reads (`api.middleware.bodylimit`): a sample, no
    larger than a delivery, and its form."""
    return {re.escape(router.prefix + NEW): settings.max_delivery_bytes + FORM_OVERHEAD}


def _writes(principal: Principal) -> bool:
    """Stewards write their agency's contracts; operators any agency's."""
    return principal.role in (Role.steward, Role.operator)


def _defines(principal: Principal) -> bool:
    """Stewards and secretariats define their agency's joint products."""
    return principal.role in DRAFTERS


def _edits(principal: Principal) -> bool:
    """Who opens the editor: whoever writes contracts or defines products."""
    return _writes(principal) or _defines(principal)


def _authors(principal: Principal, agency: str, product: bool = False) -> bool:
    """Whether the principal edits and sends the agency's versions (a secretariat: its own
    agency's products)."""
    writers = DRAFTERS if product else (Role.steward,)
    return principal.role == Role.operator or (
        principal.role in writers and principal.agency == agency
    )


def _refused(
    request: Request, session: Session, audit: CatalogAudit, status: int, key: str
) -> HTMLResponse:
    """The page saying why not, audited (a 404 as any page, which it mimics)."""
    outcome = REFUSALS.get(status, Outcome.ok)
    error = None if outcome == Outcome.ok else key
    audit_later(
        audit.background, request, session.principal, audit.started, outcome=outcome, error=error
    )
    return error_page(request, session, status, key)


# --- the sample upload and the editor --------------------------------------------------------


def _upload_choices(platform: Platform, principal: Principal) -> dict[str, Any]:
    """The agencies the viewer drafts for and the sectors offered (the steward's agency's)."""
    registry = platform.registry
    if principal.role == Role.operator:
        return {"agencies": list(registry.agencies), "sectors": list(registry.sectors)}
    own = registry.agency(principal.agency)
    return {
        "agencies": [own] if own else [],
        "sectors": registry.sectors_of(principal.agency),
    }


def _upload_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str | None] | None = None,
    problem: str | None = None,
    detail: str | None = None,
    product: dict[str, str] | None = None,
    product_problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The new-contract page: the sample upload (stewards, operators) and the product's SQL
    (stewards, secretariats), each with its own values and problem."""
    platform, principal = platform_of(request), session.principal
    return page(
        request,
        "contract_new.html",
        session=session,
        status=status,
        values=values or {"cadence": "month"},
        cadences=list(CADENCES),
        problem=problem,
        detail=detail,
        limit_mib=platform.settings.max_delivery_bytes // 1024**2,
        uploads=_writes(principal),
        defines=_defines(principal),
        product=product or {},
        product_problem=product_problem,
        product_sectors=platform.registry.sectors_of(principal.agency),
        access_levels=ACCESS_LEVELS,
        **_upload_choices(platform, principal),
    )


def _editor_page(
    request: Request,
    session: Session,
    text: str,
    notes: dict[str, str],
    *,
    base: str | None = None,
    preview: Preview | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "contract_edit.html",
        session=session,
        status=status,
        wide=True,
        e=editor(text, notes, base),
        preview=preview,
        problem=problem,
        types=TYPES,
        classifications=CLASSIFICATIONS,
        access_levels=ACCESS_LEVELS,
        access_note=ACCESS_NOTE,
    )


@router.get(NEW, response_class=HTMLResponse)
def new(request: Request, session: SignedIn, audit: Audit) -> HTMLResponse:
    """The forms that draft a contract from a sample file, or a joint product's from its SQL."""
    if not _edits(session.principal):
        return _refused(request, session, audit, 403, "error.contract_authors_only")
    audit.record(session.principal)
    return _upload_page(request, session)


class _Refused(Exception):
    """An upload answered with the form again: its status, message key and detail."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.status, self.key, self.detail = status, key, detail


def _upload_fields(form: FormData, principal: Principal) -> dict[str, str | None]:
    """The form's text fields; a steward drafts for their own agency whatever it says."""
    found: dict[str, str | None] = {}
    for name in UPLOAD_FIELDS:
        value = form.get(name)
        value = value.strip()[:MAX_FIELD_CHARS] if isinstance(value, str) else ""
        found[name] = value or None
    if principal.role != Role.operator:
        found["agency"] = principal.agency
    if not found["agency"] or not found["dataset"]:
        raise _Refused(422, "contracts.missing_fields")
    return found


def _draft(upload: UploadFile, platform: Platform, fields: dict[str, str | None]) -> str:
    """The draft of the uploaded sample; a refusal for a file over the limit or not draftable."""
    try:
        return draft_upload(
            platform,
            upload_name(upload.filename),
            upload.file,
            agency=fields["agency"] or "",
            dataset=fields["dataset"] or "",
            sector=fields["sector"],
            cadence=fields["cadence"],
        )
    except DeliveryTooLarge:
        raise _Refused(413, "error.too_large") from None
    except ValueError as exc:
        raise _Refused(422, "contracts.not_drafted", str(exc)) from None


@router.post(NEW, response_class=HTMLResponse)
async def drafted(request: Request, session: SignedIn, audit: Audit) -> HTMLResponse:
    """Draft a contract from the uploaded sample and open it in the editor."""
    principal, platform = session.principal, platform_of(request)
    if not _writes(principal):
        return _refused(request, session, audit, 403, "error.contract_authors_only")
    try:
        form = await request.form(max_files=1, max_fields=len(UPLOAD_FIELDS) + 1)
    except BodyTooLarge:  # declared too large, or counted past the limit: nothing more is read
        return _refused(request, session, audit, 413, "error.too_large")
    what = "draft"
    values: dict[str, str | None] = {}
    try:
        check_csrf(session, form.get("csrf_token"))
        values = _upload_fields(form, principal)
        upload = form.get("file")
        what = f"draft {values['agency']}/{values['dataset']}"
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise _Refused(400, "contracts.no_file")
        what += f" from {upload_name(upload.filename)}"
        text = await run_in_threadpool(_draft, upload, platform, values)
    except PageError as refused:
        return _refused(request, session, audit, refused.status, refused.key)
    except _Refused as refused:
        audit_later(
            audit.background, request, principal, audit.started,
            outcome=Outcome.error, error=refused.detail or refused.key, body=what,
        )  # fmt: skip
        return _upload_page(
            request,
            session,
            values=values,
            problem=refused.key,
            detail=refused.detail,
            status=refused.status,
        )
    finally:
        await form.close()
    audit_later(audit.background, request, principal, audit.started, body=what)
    return _editor_page(request, session, text, notes_of(text))


def _product_draft(request: Request, principal: Principal, fields: dict[str, str]) -> str:
    """The product's draft YAML; a refusal (status, message key, detail) when the request
    cannot be followed or its query is refused or fails, in the SQL API's words."""
    try:
        asked = product_request(fields)
    except ValueError as exc:
        raise _Refused(422, "productform.bad_request", str(exc)) from None
    try:
        return draft_product(platform_of(request), queries_of(request), principal, **asked).yaml
    except QueryError as exc:
        status, key = QUERY_PROBLEMS.get(exc.kind, (422, "productform.query_failed"))
        if exc.unknown_table:
            status, key = 404, "productform.unknown_table"
        raise _Refused(status, key, exc.message) from None
    except ValueError as exc:
        raise _Refused(422, "productform.not_drafted", str(exc)) from None


@router.post(NEW_PRODUCT, response_class=HTMLResponse)
async def product_drafted(request: Request, session: SignedIn, audit: Audit) -> HTMLResponse:
    """Draft a joint product's contract from its SQL and open it in the editor."""
    principal = session.principal
    if not _defines(principal):
        return _refused(request, session, audit, 403, "productform.definers_only")
    try:
        form = await request.form(max_files=0, max_fields=len(PRODUCT_FIELDS) + 1)
    except BodyTooLarge:
        return _refused(request, session, audit, 413, "contracts.too_large")
    try:
        check_csrf(session, form.get("csrf_token"))
    except PageError as refused:
        return _refused(request, session, audit, refused.status, refused.key)
    fields = {name: normalised(form.get(name)).strip() for name in PRODUCT_FIELDS}
    what = f"draft product {principal.agency}/{fields['dataset']}"
    try:
        text = await run_in_threadpool(_product_draft, request, principal, fields)
    except _Refused as refused:
        audit_later(
            audit.background, request, principal, audit.started,
            outcome=Outcome.error, error=refused.detail or refused.key, body=what,
        )  # fmt: skip
        return _upload_page(
            request,
            session,
            product=fields,
            product_problem=refused.key,
            detail=refused.detail,
            status=refused.status,
        )
    audit_later(audit.background, request, principal, audit.started, body=what)
    return _editor_page(request, session, text, notes_of(text))


@router.post("/edit", response_class=HTMLResponse)
async def edit(request: Request, session: SignedIn, audit: Audit) -> Response:
    """The editor's buttons: preview the edited contract, save it as a draft, or submit it."""
    principal, platform = session.principal, platform_of(request)
    if not _edits(principal):
        return _refused(request, session, audit, 403, "error.contract_authors_only")
    try:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    except BodyTooLarge:
        return _refused(request, session, audit, 413, "contracts.too_large")
    try:
        check_csrf(session, form.get("csrf_token"))
    except PageError as refused:
        return _refused(request, session, audit, refused.status, refused.key)
    base = normalised(form.get("base"))
    text = apply_edits(normalised(form.get("yaml")), base, form)
    notes = posted_notes(form)
    reviews = platform.contract_reviews
    action = form.get("action")
    if action in ("submit", "draft"):
        try:
            done = await run_in_threadpool(
                lambda: reviews.submit(principal, text, for_review=action == "submit")
            )
        except ReviewError as exc:
            preview = await run_in_threadpool(reviews.preview, principal, text)
            audit.record(principal)
            return _editor_page(
                request,
                session,
                text,
                notes,
                base=base,
                preview=preview,
                problem=Problem.of(exc),
                status=exc.status,
            )
        audit.record(principal, datasets=[done.dataset_id])
        said = "submitted" if action == "submit" else "saved"
        return RedirectResponse(_version_href(done, said), status_code=303)
    preview = await run_in_threadpool(reviews.preview, principal, text)
    audit.record(principal, datasets=[preview.contract.id] if preview.contract else [])
    return _editor_page(request, session, text, notes, base=base, preview=preview)


# --- the lists and a version's page ----------------------------------------------------------


def _version_href(found: Submission, done: str | None = None) -> str:
    path = f"/contracts/{quote(found.dataset_id)}/versions/{quote(found.version)}"
    return f"{path}?{urlencode({'done': done})}" if done else path


@router.get("", response_class=HTMLResponse)
def listing(request: Request, session: SignedIn, audit: Audit) -> HTMLResponse:
    """The agency's submissions, newest first, and those waiting for my decision, oldest
    first."""
    principal = session.principal
    reviews = platform_of(request).contract_reviews
    mine = reviews.of_agency(principal.agency)[:MAX_LISTED]
    waiting = reviews.waiting(principal)[:MAX_LISTED]
    audit.record(principal, datasets=sorted({s.dataset_id for s in (*mine, *waiting)}))
    return page(
        request,
        "contracts.html",
        session=session,
        mine=mine,
        waiting=waiting,
        decides=principal.role in (Role.secretariat, Role.operator),
        writes=_edits(principal),
        title_of=title_of,
        href=_version_href,
    )


def _seen(platform: Platform, principal: Principal, dataset: str, version: str) -> Submission:
    """The version if the viewer may see it; UnknownSubmission otherwise, as for none."""
    reviews = platform.contract_reviews
    found = reviews.get(dataset, version)
    if not reviews.may_see(principal, found):
        raise UnknownSubmission(f"no submitted contract {dataset} {version}")
    return found


def _version_page(
    request: Request,
    session: Session,
    found: Submission,
    *,
    done: str | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> HTMLResponse:
    platform, principal = platform_of(request), session.principal
    reviews = platform.contract_reviews
    own = _authors(principal, found.agency, is_product(found.yaml))
    can = {
        "decide": found.state == ReviewState.in_review and reviews.decides(principal, found),
        "send": own and found.state == ReviewState.draft,
        "edit": own,  # a draft is rewritten in place; any other version is a start for the next
    }
    return page(
        request,
        "contract_version.html",
        session=session,
        status=status,
        s=found,
        here=_version_href(found),
        title=title_of(found.yaml),
        live=found.dataset_id in platform.contracts,
        can=can,
        done=done if done in DONE else None,
        problem=problem,
        json_href=f"/api/v1/contracts/{quote(found.dataset_id)}/versions/{quote(found.version)}",
    )


@router.get("/{dataset}/versions/{version}", response_class=HTMLResponse)
def version(
    request: Request,
    session: SignedIn,
    audit: Audit,
    dataset: str,
    version: str,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """One version: its facts, its diff with the version it follows, its YAML and the forms
    the viewer is offered; 404 for a viewer who may not see it, as for an unknown one."""
    try:
        found = _seen(platform_of(request), session.principal, dataset, version)
    except ReviewError:
        return _refused(request, session, audit, 404, "error.not_found")
    audit.record(session.principal, datasets=[dataset])
    return _version_page(request, session, found, done=done)


@router.get("/{dataset}/versions/{version}/edit", response_class=HTMLResponse)
def reopen(
    request: Request, session: SignedIn, audit: Audit, dataset: str, version: str
) -> HTMLResponse:
    """A version of my agency's in the editor: a draft to rewrite, or the start of a new
    version (its number raised in the YAML)."""
    principal = session.principal
    try:
        found = _seen(platform_of(request), principal, dataset, version)
    except ReviewError:
        return _refused(request, session, audit, 404, "error.not_found")
    if not _authors(principal, found.agency, is_product(found.yaml)):
        return _refused(request, session, audit, 403, "error.contract_authors_only")
    audit.record(principal, datasets=[dataset])
    return _editor_page(request, session, found.yaml, notes_of(found.yaml))


Step = Callable[[Platform, Principal, FormData], Submission]


def _take(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    dataset: str,
    version: str,
    form: FormData,
    step: Step,
    done: str,
) -> Response:
    """Take one step on a version; back to its page saying what was done, or why not."""
    platform, principal = platform_of(request), session.principal
    try:
        taken = step(platform, principal, form)
    except ReviewError as exc:
        try:
            found = _seen(platform, principal, dataset, version)
        except ReviewError:
            return _refused(request, session, audit, 404, "error.not_found")
        audit.record(principal, datasets=[dataset])
        return _version_page(request, session, found, problem=Problem.of(exc), status=exc.status)
    audit.record(principal, datasets=[taken.dataset_id])
    return RedirectResponse(_version_href(taken, done), status_code=303)


async def _posted(
    request: Request,
    session: Session,
    audit: CatalogAudit,
    dataset: str,
    version: str,
    step: Step,
    done: str,
) -> Response:
    """A step's form: its CSRF token checked as every form's, then the step in a thread."""
    form = await request.form(max_files=0, max_fields=4)
    try:
        check_csrf(session, form.get("csrf_token"))
    except PageError as refused:
        return _refused(request, session, audit, refused.status, refused.key)
    return await run_in_threadpool(
        _take, request, session, audit, dataset, version, form, step, done
    )


@router.post("/{dataset}/versions/{version}/approve", response_class=HTMLResponse)
async def approve(
    request: Request, session: SignedIn, audit: Audit, dataset: str, version: str
) -> Response:
    """Approve a version in review: it is live at once."""

    def step(platform: Platform, principal: Principal, _form: FormData) -> Submission:
        done = platform.contract_reviews.approve(principal, dataset, version)
        platform.reload_contracts()  # live in this process before the page is shown
        return done

    return await _posted(request, session, audit, dataset, version, step, "approved")


@router.post("/{dataset}/versions/{version}/reject", response_class=HTMLResponse)
async def reject(
    request: Request, session: SignedIn, audit: Audit, dataset: str, version: str
) -> Response:
    """Reject a version in review with the reason the steward reads."""

    def step(platform: Platform, principal: Principal, form: FormData) -> Submission:
        reason = normalised(form.get("reason"))[:2000]
        return platform.contract_reviews.reject(principal, dataset, version, reason)

    return await _posted(request, session, audit, dataset, version, step, "rejected")


@router.post("/{dataset}/versions/{version}/submit", response_class=HTMLResponse)
async def send(
    request: Request, session: SignedIn, audit: Audit, dataset: str, version: str
) -> Response:
    """Send my agency's draft to the sector's secretariat."""
    return await _posted(
        request,
        session,
        audit,
        dataset,
        version,
        lambda p, who, _form: p.contract_reviews.send_for_review(who, dataset, version),
        "sent",
    )
