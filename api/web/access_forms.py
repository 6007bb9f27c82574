"""The joint-use forms the pages share: the dataset page's 이용 신청 form, the decision forms of
the requests pages, and what a viewer may do with a request. Route modules (`api.web.pages`,
`api.web.requests`, `api.web.joint`) import this and never each other; the rules themselves are
the domain's (`catalog.access.requests`), which checks every step again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from starlette.datastructures import FormData

from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from catalog.access.requestable import Requestable
from catalog.access.requests import AccessRequest, LegalBasis, RequestError, RequestState
from catalog.entries import DatasetEntry
from catalog.ledger.models import GRANT_PREFIX
from catalog.ledger.projects import ProjectStatus
from contracts.model import ApprovalPolicy, Classification, Contract, LogicalType
from gongyu.platform import Platform
from sectors.registry import Registry

# The JSON API's limits (`api.joint.requests`), so a form asks no more than the API takes.
MAX_PURPOSE = 2000
MAX_DETAIL = 500
MAX_FILTER = 2000
MAX_NOTE = 2000
MAX_REASON = 2000
# A form's fields: a contract's columns as checkboxes and a handful more.
MAX_FIELDS = 500
RENEWABLE = frozenset({RequestState.expired, RequestState.revoked, RequestState.denied})
LEGAL_BASES = tuple(LegalBasis)
NUMBERS = frozenset({LogicalType.integer, LogicalType.number})


@dataclass(frozen=True)
class Problem:
    """Why a step was not taken: its HTTP status and the domain's message (English, precise);
    `lead` is the message key of the sentence a person reads first."""

    status: int
    detail: str

    @property
    def lead(self) -> str:
        """The message key of the page's first sentence about it."""
        return f"requests.error_{self.status}"

    @classmethod
    def of(cls, exc: RequestError) -> Problem:
        """The problem a domain error describes."""
        return cls(exc.status, str(exc))


@dataclass(frozen=True)
class ColumnChoice:
    """A column the request form offers, with what the viewer should know about it."""

    name: str
    classification: str
    sensitive: bool
    masked: bool


@dataclass
class AskForm:
    """The dataset page's request form for one viewer: its choices, limits and, after a refused
    post, what was filled in and why it was refused; `pending` instead of a form when the
    viewer's agency already waits for a decision on this dataset."""

    dataset_id: str
    readable: bool
    policy: str
    policy_help: str
    max_days: int
    today: date
    longest: date
    columns: list[ColumnChoice]
    row_filter_example: str
    pending: AccessRequest | None = None
    values: dict[str, Any] = field(default_factory=dict)
    problem: Problem | None = None
    # (id, title) of the running AI projects the viewer's agency is a member of: a request
    # may be made for one of them (`AccessRequests.create(project_id=…)`).
    projects: list[tuple[str, str]] = field(default_factory=list)


def _empty_values() -> dict[str, Any]:
    return {
        "purpose": "",
        "legal_basis": "",
        "legal_basis_detail": "",
        "columns": [],
        "row_filter": "",
        "until": "",
        "project_id": "",
    }


def policy_help(registry: Registry, principal: Principal, contract: Contract) -> str:
    """The message key saying who decides the viewer's request under the contract's policy."""
    policy = contract.approval.policy
    if policy == ApprovalPolicy.automatic:
        members = {s.id for s in registry.sectors_of(principal.agency)}
        return (
            "policy_help.automatic_member"
            if contract.sector in members
            else "policy_help.automatic_other"
        )
    sector = registry.sector(contract.sector)
    if (
        policy == ApprovalPolicy.owner_and_secretariat
        and sector is not None
        and sector.secretariat == principal.agency
    ):
        return "policy_help.secretariat_asks"  # nobody decides their own agency's request
    return f"policy_help.{policy.value}"


def row_filter_example(contract: Contract) -> str:
    """A filter over one of the dataset's own visible columns, to show how one is written."""
    visible = [
        c
        for c in contract.published_columns
        if c.classification not in (Classification.sensitive, Classification.direct_identifier)
        and c.name not in contract.privacy.generalise  # examples are of the raw values
    ]
    for c in visible:
        values = list(c.enum or ()) or list(c.examples)
        if values and c.logical_type == LogicalType.string:
            quoted = str(values[0]).replace("'", "''")
            return f"{c.name} = '{quoted}'"
        if values and c.logical_type in NUMBERS:
            return f"{c.name} >= {values[0]}"
    for c in visible:
        if c.logical_type == LogicalType.string:
            return f"{c.name} = '…'"
    return "sido = '부산'"


def pending_request(
    platform: Platform, principal: Principal, dataset_id: str
) -> AccessRequest | None:
    """The viewer's agency's request for the dataset still waiting for a decision, if any."""
    return next(
        (
            r
            for r in platform.requests.visible(principal)
            if r.requester_agency == principal.agency
            and r.dataset_id == dataset_id
            and r.state == RequestState.pending
        ),
        None,
    )


def ask_form(
    platform: Platform, principal: Principal, contract: Contract, entry: DatasetEntry
) -> AskForm | None:
    """The request form for a viewer whose agency cannot read the dataset, or reads it with
    sensitive columns masked; None for its owner, operators and agencies that read it whole."""
    if principal.role == Role.operator or principal.agency == contract.agency:
        return None
    masked = {c.name for c in entry.columns if c.masked}
    if entry.summary.readable and not masked:
        return None
    today = korean_today()
    return AskForm(
        dataset_id=contract.id,
        readable=entry.summary.readable,
        policy=contract.approval.policy.value,
        policy_help=policy_help(platform.registry, principal, contract),
        max_days=contract.approval.max_days,
        today=today,
        longest=today + timedelta(days=contract.approval.max_days),
        columns=[
            ColumnChoice(
                name=c.name,
                classification=c.classification.value,
                sensitive=c.classification == Classification.sensitive,
                masked=c.name in masked,
            )
            for c in contract.published_columns
        ],
        row_filter_example=row_filter_example(contract),
        pending=pending_request(platform, principal, contract.id),
        values=_empty_values(),
        projects=[
            (p.id, p.spec.title)
            for p in platform.projects.visible(principal, agency=principal.agency)
            if p.spec.status != ProjectStatus.stopped and (p.spec.end or today) >= today
        ],
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _bounded(text: str, limit: int, what: str) -> str | None:
    """The text stripped (None when empty); RequestError when over `limit` characters."""
    text = text.strip()
    if len(text) > limit:
        raise RequestError(f"{what}: at most {limit:,} characters")
    return text or None


def _date(text: str, what: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RequestError(f"{what}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None


def ask_values(form: FormData) -> dict[str, Any]:
    """What the request form sent, as the form shows it again after a refusal."""
    values = {name: _text(form, name) for name in _empty_values() if name != "columns"}
    values["columns"] = [c for c in form.getlist("columns") if isinstance(c, str)]
    return values


def ask_terms(values: Mapping[str, Any]) -> dict[str, Any]:
    """The `AccessRequests.create` arguments of a sent form; RequestError (400) saying what is
    wrong when a field cannot be read."""
    try:
        basis = LegalBasis(values["legal_basis"])
    except ValueError:
        choices = ", ".join(b.value for b in LegalBasis)
        raise RequestError(f"choose a legal basis ({choices})") from None
    columns = tuple(values["columns"])
    return {
        "purpose": _bounded(values["purpose"], MAX_PURPOSE, "purpose") or "",
        "legal_basis": basis,
        "legal_basis_detail": _bounded(values["legal_basis_detail"], MAX_DETAIL, "detail"),
        "columns": columns or None,
        "row_filter": _bounded(values["row_filter"], MAX_FILTER, "row filter"),
        "until": _date(values["until"], "until"),
        "project_id": values.get("project_id") or None,
    }


def approval_terms(form: FormData, request: AccessRequest) -> dict[str, Any]:
    """The `AccessRequests.approve` arguments of a sent approval form. The form ticks every
    column asked for (`columns_offered` says it showed them; a request for all columns offers
    none); only a changed choice narrows."""
    columns = None
    if request.columns is not None and form.get("columns_offered"):
        chosen = [c for c in form.getlist("columns") if isinstance(c, str)]
        if set(chosen) != set(request.columns):
            columns = tuple(chosen)
    return {
        "columns": columns,
        "row_filter": _bounded(_text(form, "row_filter"), MAX_FILTER, "row filter"),
        "until": _date(_text(form, "until"), "until"),
        "note": _bounded(_text(form, "note"), MAX_NOTE, "note"),
    }


def reason(form: FormData) -> str:
    """The reason a denial or revocation gives (the domain refuses an empty one)."""
    return _bounded(_text(form, "reason"), MAX_REASON, "reason") or ""


def may_revoke(registry: Registry, principal: Principal, request: AccessRequest) -> bool:
    """Whether the viewer may revoke an approved request's grant: a steward of the owning
    agency, the sector's secretariat (not for its own agency's request) or an operator."""
    if principal.role == Role.operator:
        return True
    if principal.role == Role.steward:
        return principal.agency == request.owner_agency
    sector = registry.sector(request.sector)
    return (
        principal.role == Role.secretariat
        and sector is not None
        and sector.secretariat == principal.agency
        and principal.agency != request.requester_agency
    )


def actions(platform: Platform, principal: Principal, request: AccessRequest) -> frozenset[str]:
    """The forms a viewer is offered on a request: `decide` (approve or deny), `withdraw`,
    `renew` and `revoke`."""
    offered = set()
    pending = request.state == RequestState.pending
    if pending and platform.requests.step_for(principal, request) is not None:
        offered.add("decide")
    own = principal.agency == request.requester_agency and principal.role != Role.operator
    if own and pending:
        offered.add("withdraw")
    if own and request.state in RENEWABLE:
        offered.add("renew")
    if (
        request.state == RequestState.approved
        and request.grant_id
        and may_revoke(platform.registry, principal, request)
    ):
        offered.add("revoke")
    return frozenset(offered)


def requestables(platform: Platform) -> dict[str, Requestable]:
    """What requests name, by id: the datasets under contract and the shared models."""
    return {**platform.contracts, **platform.models.all_terms()}


class Datasets:
    """Dataset (and model) titles, links and column classes for the requests pages (a dataset
    no longer under contract keeps its id as its title)."""

    def __init__(self, contracts: Mapping[str, Requestable]) -> None:
        self.contracts = contracts

    @staticmethod
    def href(dataset_id: str) -> str:
        """The page of what a request names: a model's (`model:<id>`) or a dataset's."""
        if dataset_id.startswith(GRANT_PREFIX):
            return f"/models/{dataset_id.removeprefix(GRANT_PREFIX)}"
        return f"/datasets/{dataset_id}"

    def title(self, dataset_id: str) -> str:
        """The dataset's title as its contract writes it."""
        contract = self.contracts.get(dataset_id)
        return contract.title if contract else dataset_id

    def sensitive(self, dataset_id: str, column: str) -> bool:
        """Whether the column is classified sensitive (opened only when a grant names it)."""
        contract = self.contracts.get(dataset_id)
        return bool(
            isinstance(contract, Contract)
            and any(
                c.name == column and c.classification == Classification.sensitive
                for c in contract.columns
            )
        )
