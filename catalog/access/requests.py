"""Access requests: an agency asks to use another agency's dataset, the contract's approval
policy routes the request to its deciders, and the approval makes the grant that enforces it.

Routing (`contracts.model.ApprovalPolicy`): `automatic` approves agencies of the dataset's
sector at once and sends anyone else to the owner; `owner` waits for a steward of the owning
agency; `owner_and_secretariat` waits for that steward and for the sector's secretariat (or, when
the secretariat is itself the requester, for an operator in its stead). Nobody decides their own
agency's request. A decider may narrow what is approved (fewer columns, a further row filter, an
earlier end); the grant carries exactly the approved terms. Every step is an audit record in
the hash chain, and the parties get notices.

A request may be made for an AI project (`project_id`, `catalog.ledger.projects`): the
requester is one of its member agencies, its purpose is the project's unless it says more, it
runs no later than the project's end, and its approval makes one grant for each member agency
(the owner aside), each holding the project's id. Access is then held by the project, not by a
person: the grants end when the project ends, stops or drops a partner (`ProjectLedger.update`).

A request may ask for a shared model instead (`catalog.ledger.models.ModelTerms`, any
`Requestable`): its id is `model:<id>`, the model card's approval policy routes it, and its
approval makes the `model:<id>` grant the model registry's download check honours. A model is
granted whole (no columns, no row filter).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, insert, select, update

from catalog.access.audit import AuditKind, AuditLog, Outcome
from catalog.access.grants import GrantError, Grants, korean_today
from catalog.access.notices import NoticeKind, Notices
from catalog.access.principal import Principal, Role
from catalog.access.requestable import Requestable
from catalog.db import access_requests
from catalog.ledger.projects import Project, ProjectLedger, ProjectStatus, UnknownProject
from contracts.model import AccessLevel, ApprovalPolicy, Contract
from sectors.registry import Registry


class LegalBasis(StrEnum):
    """Why the requester may lawfully process the data (개인정보 보호법 and other statutes)."""

    consent = "consent"  # 정보주체의 동의 (PIPA art. 15(1)1)
    pseudonymised_research = "pseudonymised_research"  # 가명정보 통계·연구 (PIPA art. 28-2)
    public_task = "public_task"  # 소관 업무 수행 (PIPA art. 15(1)3)
    statute = "statute"  # a named statute: `legal_basis_detail` says which
    other = "other"  # `legal_basis_detail` says what


class RequestState(StrEnum):
    """Where a request stands."""

    pending = "pending"
    approved = "approved"
    denied = "denied"
    withdrawn = "withdrawn"
    expired = "expired"
    revoked = "revoked"


class Step(StrEnum):
    """An approval a request needs."""

    owner = "owner"  # a steward of the owning agency
    secretariat = "secretariat"  # the secretariat of the dataset's sector


Action = Literal["approve", "deny", "withdraw", "revoke", "expire"]


class Decision(BaseModel):
    """One step taken on a request, by whom, with the terms it narrowed."""

    action: Action
    step: Step | None = None
    subject: str
    agency: str
    role: Role
    at: datetime
    note: str | None = None
    narrowed: dict[str, Any] = Field(default_factory=dict)


class AccessRequest(BaseModel):
    """A request and its current terms (narrowed by approvals as they come)."""

    request_id: str
    dataset_id: str
    owner_agency: str
    sector: str
    requester_agency: str
    requester_subject: str
    requester_role: Role
    purpose: str
    legal_basis: LegalBasis
    legal_basis_detail: str | None = None
    columns: tuple[str, ...] | None = None
    row_filter: str | None = None
    until: date
    policy: ApprovalPolicy
    state: RequestState
    decisions: list[Decision] = Field(default_factory=list)
    reason: str | None = Field(None, description="Why it was denied or revoked.")
    grant_id: str | None = None
    renewal_of: str | None = None
    project_id: str | None = Field(
        None, description="The AI project the data is for: its member agencies are granted."
    )
    created_at: datetime
    updated_at: datetime

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, moment: datetime) -> datetime:
        # SQLite gives back naive datetimes of what was stored in UTC.
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @property
    def approved_steps(self) -> set[Step]:
        """The steps already approved."""
        return {d.step for d in self.decisions if d.action == "approve" and d.step}

    @property
    def waiting_for(self) -> list[Step]:
        """The approvals still missing, in the order they are usually given."""
        if self.state != RequestState.pending:
            return []
        return [s for s in steps(self.policy) if s not in self.approved_steps]

    @property
    def decided_at(self) -> datetime | None:
        """When it was finally approved or denied (None while pending or if withdrawn)."""
        if self.state in (RequestState.pending, RequestState.withdrawn):
            return None
        final = [d.at for d in self.decisions if d.action in ("approve", "deny")]
        return final[-1] if final else None


class RequestError(ValueError):
    """A request or decision that cannot be made; `status` is its HTTP answer."""

    status = 400


class RequestRefused(RequestError):
    """The caller may not take this step (wrong role or agency)."""

    status = 403


class UnknownRequest(RequestError):
    """No request has this id (or the caller may not see it)."""

    status = 404


class RequestConflict(RequestError):
    """The request is not in a state that allows this step."""

    status = 409


def steps(policy: ApprovalPolicy) -> list[Step]:
    """The approvals a request under `policy` needs (automatic ones, for non-members, too)."""
    if policy == ApprovalPolicy.owner_and_secretariat:
        return [Step.owner, Step.secretariat]
    return [Step.owner]


class AccessRequests:
    """The access requests in the catalog database, and the grants their approvals make."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        contracts: Callable[[], Mapping[str, Contract]],
        grants: Grants,
        audit: AuditLog,
        notices: Notices,
        models: Callable[[str], Requestable | None] = lambda _id: None,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.contracts = contracts  # read when needed: contracts change while a server runs
        self.grants = grants
        self.audit = audit
        self.notices = notices
        self.models = models  # a `model:<id>` to its terms (read when needed, like contracts)
        self.projects = ProjectLedger(engine, registry)

    def create(
        self,
        principal: Principal,
        contract: Requestable,
        *,
        purpose: str = "",
        legal_basis: LegalBasis,
        legal_basis_detail: str | None = None,
        columns: tuple[str, ...] | None = None,
        row_filter: str | None = None,
        until: date | None = None,
        renewal_of: str | None = None,
        project_id: str | None = None,
        today: date | None = None,
    ) -> AccessRequest:
        """Ask for `contract`'s dataset (or a model's terms) for the principal's agency, or for
        a project it is a member of (its purpose by default, until its end at the latest);
        under `automatic` a member of the dataset's sector is approved at once."""
        today = today or korean_today()
        if principal.role == Role.operator:
            raise RequestRefused(
                "operators run the platform and do not ask for data; sign in with a key of the "
                "agency that needs it"
            )
        if principal.agency == contract.agency:
            raise RequestConflict(
                f"{contract.id} belongs to your agency ({contract.agency}): nothing to ask"
            )
        if contract.access == AccessLevel.private:
            raise UnknownRequest(f"no dataset {contract.id!r}")
        project = self._project(principal, project_id, today) if project_id else None
        if project is not None and not purpose.strip():
            purpose = project.spec.purpose
        if not purpose.strip():
            raise RequestError("say what the data will be used for (purpose)")
        if (
            legal_basis in (LegalBasis.statute, LegalBasis.other)
            and not (legal_basis_detail or "").strip()
        ):
            raise RequestError(
                f"legal basis {legal_basis.value!r} needs a detail: name the statute and article"
            )
        longest = today + timedelta(days=contract.approval.max_days)
        project_end = project.spec.end if project is not None else None
        until = until or min(longest, project_end or longest)
        if until < today:
            raise RequestError(f"until {until} is in the past (today in Korea is {today})")
        if until > longest:
            raise RequestError(
                f"{contract.id} is granted for at most {contract.approval.max_days} days: "
                f"ask until {longest} or earlier"
            )
        if project_end is not None and until > project_end:
            raise RequestError(
                f"project {project_id} ends {project_end}: access held by it ends then too; "
                f"ask until {project_end} or earlier"
            )
        self._check_terms(contract, columns, row_filter)
        if any(
            r.dataset_id == contract.id and r.state == RequestState.pending
            for r in self._select(requester_agency=principal.agency)
        ):
            raise RequestConflict(
                f"your agency already has a pending request for {contract.id}: withdraw it or "
                "wait for its decision"
            )
        now = datetime.now(UTC)
        row = {
            "request_id": secrets.token_hex(6),
            "dataset_id": contract.id,
            "owner_agency": contract.agency,
            "sector": contract.sector,
            "requester_agency": principal.agency,
            "requester_subject": principal.subject,
            "requester_role": principal.role.value,
            "purpose": purpose.strip(),
            "legal_basis": legal_basis.value,
            "legal_basis_detail": (legal_basis_detail or "").strip() or None,
            "columns": list(columns) if columns is not None else None,
            "row_filter": row_filter,
            "until": until,
            "policy": contract.approval.policy.value,
            "state": RequestState.pending.value,
            "decisions": [],
            "reason": None,
            "grant_id": None,
            "renewal_of": renewal_of,
            "project_id": project_id,
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(access_requests).values(**row))
        request = AccessRequest.model_validate(row)
        self._record(principal, request, "request", _terms(request))
        members = {s.id for s in self.registry.sectors_of(principal.agency)}
        if contract.approval.policy == ApprovalPolicy.automatic and contract.sector in members:
            system = _system(contract.agency)
            return self._approve(system, request, Step.owner, "automatic", {})
        self._notify(NoticeKind.request_received, request, self._deciders(request))
        return request

    def renew(self, principal: Principal, request_id: str) -> AccessRequest:
        """A new request pre-filled from one of the principal's agency (purpose, basis, columns,
        filter), for the longest period allowed from today."""
        old = self.seen_by(principal, request_id)
        if principal.agency != old.requester_agency:
            raise RequestRefused("only the requesting agency renews its request")
        return self.create(
            principal,
            self._contract(old),
            purpose=old.purpose,
            legal_basis=old.legal_basis,
            legal_basis_detail=old.legal_basis_detail,
            columns=old.columns,
            row_filter=old.row_filter,
            renewal_of=old.request_id,
            project_id=old.project_id,
        )

    def get(self, request_id: str) -> AccessRequest:
        """One request; UnknownRequest if there is none."""
        found = self._select(request_id=request_id)
        if not found:
            raise UnknownRequest(f"no access request {request_id!r}")
        return found[0]

    def seen_by(self, principal: Principal, request_id: str) -> AccessRequest:
        """A request the principal may see (theirs, or one they decide or oversee); else 404."""
        request = self.get(request_id)
        if not self.may_see(principal, request):
            raise UnknownRequest(f"no access request {request_id!r}")
        return request

    def may_see(self, principal: Principal, request: AccessRequest) -> bool:
        """Requesters, the owning agency, the sector's secretariat and operators see a request."""
        if principal.role == Role.operator:
            return True
        if principal.agency in (request.requester_agency, request.owner_agency):
            return True
        sector = self.registry.sector(request.sector)
        return principal.role == Role.secretariat and bool(
            sector and sector.secretariat == principal.agency
        )

    def all(self) -> list[AccessRequest]:
        """Every request, oldest first (for the board, which shows each viewer its share)."""
        return self._select()

    def visible(self, principal: Principal) -> list[AccessRequest]:
        """Every request the principal may see, newest first."""
        return [r for r in self._select() if self.may_see(principal, r)][::-1]

    def listed(self, principal: Principal) -> list[AccessRequest]:
        """What a viewer lists, after a sweep: the requests waiting for their decision (oldest
        first), then every other they may see (newest first)."""
        self.sweep()
        inbox = self.inbox(principal)
        waiting = {r.request_id for r in inbox}
        return [*inbox, *(r for r in self.visible(principal) if r.request_id not in waiting)]

    def inbox(self, principal: Principal) -> list[AccessRequest]:
        """Pending requests waiting for the principal's decision, oldest first."""
        return [
            r
            for r in self._select(state=RequestState.pending)
            if self.step_for(principal, r) is not None
        ]

    def step_for(self, principal: Principal, request: AccessRequest) -> Step | None:
        """The step the principal may decide on a pending request, if any."""
        if principal.agency == request.requester_agency:
            return None  # nobody decides their own agency's request
        for step in request.waiting_for:
            if step == Step.owner and (
                principal.role == Role.steward and principal.agency == request.owner_agency
            ):
                return step
            if step == Step.secretariat and self._decides_for_sector(principal, request):
                return step
        return None

    def approve(
        self,
        principal: Principal,
        request_id: str,
        *,
        columns: tuple[str, ...] | None = None,
        row_filter: str | None = None,
        until: date | None = None,
        note: str | None = None,
    ) -> AccessRequest:
        """Approve the principal's step, narrowing the terms if asked; the last approval makes
        the grant."""
        request, step = self._deciding(principal, request_id)
        narrowed: dict[str, Any] = {}
        if columns is not None:
            allowed = set(request.columns) if request.columns is not None else None
            extra = sorted(set(columns) - allowed) if allowed is not None else []
            if extra:
                raise RequestError(
                    f"an approval may only narrow the columns asked for; not asked: "
                    f"{', '.join(extra)}"
                )
            narrowed["columns"] = list(columns)
        if row_filter:
            narrowed["row_filter"] = (
                f"({request.row_filter}) and ({row_filter})" if request.row_filter else row_filter
            )
        if until is not None:
            if until > request.until:
                raise RequestError(
                    f"an approval may only shorten the period: the request runs until "
                    f"{request.until}"
                )
            narrowed["until"] = until
        terms = request.model_copy(
            update={k: tuple(v) if k == "columns" else v for k, v in narrowed.items()}
        )
        self._check_terms(self._contract(request), terms.columns, terms.row_filter)
        return self._approve(principal, terms, step, note, narrowed)

    def deny(self, principal: Principal, request_id: str, reason: str) -> AccessRequest:
        """Deny the request at the principal's step; the reason goes to the requester."""
        if not reason.strip():
            raise RequestError("a denial needs a reason the requester can act on")
        request, step = self._deciding(principal, request_id)
        decision = _decision(principal, "deny", step, reason.strip())
        request = self._save(
            request, RequestState.denied, [*request.decisions, decision], reason=reason.strip()
        )
        self._record(principal, request, "deny", f"reason: {reason.strip()}", Outcome.denied)
        self._notify(NoticeKind.request_denied, request, [(request.requester_agency, None)])
        return request

    def withdraw(self, principal: Principal, request_id: str) -> AccessRequest:
        """Withdraw a pending request of the principal's agency."""
        request = self.seen_by(principal, request_id)
        if principal.agency != request.requester_agency or principal.role == Role.operator:
            raise RequestRefused("only the requesting agency withdraws its request")
        if request.state != RequestState.pending:
            raise RequestConflict(f"request {request_id} is {request.state.value}, not pending")
        decision = _decision(principal, "withdraw", None, None)
        request = self._save(request, RequestState.withdrawn, [*request.decisions, decision])
        self._record(principal, request, "withdraw", "")
        self._notify(NoticeKind.request_withdrawn, request, self._deciders(request))
        return request

    def revoke(self, principal: Principal, request_id: str, reason: str) -> AccessRequest:
        """Revoke the grant an approved request made (owning steward, the sector's secretariat
        or an operator); it stops working at once."""
        request = self.seen_by(principal, request_id)
        owner = principal.role == Role.steward and principal.agency == request.owner_agency
        if not (
            owner
            or principal.role == Role.operator
            or (
                principal.role == Role.secretariat
                and principal.agency == self._secretariat(request)
                and principal.agency != request.requester_agency
            )
        ):
            raise RequestRefused(
                "a grant is revoked by a steward of the owning agency, the sector's secretariat "
                "or an operator"
            )
        if request.state != RequestState.approved or request.grant_id is None:
            raise RequestConflict(f"request {request_id} is {request.state.value}: no grant")
        if not reason.strip():
            raise RequestError("a revocation needs a reason the grantee can act on")
        for grant in self.grants.made_by(_maker(request)):  # a project's: one per member
            self.grants.revoke(grant.grant_id)
        decision = _decision(principal, "revoke", None, reason.strip())
        request = self._save(
            request, RequestState.revoked, [*request.decisions, decision], reason=reason.strip()
        )
        self._record(principal, request, "revoke", f"grant {request.grant_id}; {reason.strip()}")
        self._notify(NoticeKind.grant_revoked, request, [(request.requester_agency, None)])
        return request

    def sweep(self, today: date | None = None) -> list[str]:
        """Mark approved requests whose grant has ended as expired (each an audit record and a
        notice), and remind grantees of grants ending within 14 days; the ids it expired."""
        today = today or korean_today()
        known = {g.grant_id: g for g in self.grants.list(include_expired=True)}
        ends = {g.grant_id: g.expires for g in known.values()}
        expired = []
        for request in self._select(state=RequestState.approved):
            grant = known.get(request.grant_id or "")
            if request.project_id and grant is not None and grant.revoked_at is not None:
                self._ended_by_project(request)
                continue
            if ends.get(request.grant_id or "", request.until) >= today:
                continue
            system = _system(request.owner_agency)
            decision = _decision(system, "expire", None, None)
            self._save(request, RequestState.expired, [*request.decisions, decision])
            self._record(
                system, request, "expire", f"grant {request.grant_id} ended {request.until}"
            )
            self._notify(NoticeKind.request_expired, request, [(request.requester_agency, None)])
            expired.append(request.request_id)
        self.notices.remind_endings(self.grants.list(), self.contracts(), today)
        return expired

    def _ended_by_project(self, request: AccessRequest) -> None:
        """A project's request whose grants the project revoked (it stopped): revoked too."""
        system = _system(request.owner_agency)
        why = f"project {request.project_id} stopped or no longer includes its agency"
        decision = _decision(system, "revoke", None, why)
        request = self._save(
            request, RequestState.revoked, [*request.decisions, decision], reason=why
        )
        self._record(system, request, "revoke", f"grant {request.grant_id}; {why}")
        self._notify(NoticeKind.grant_revoked, request, [(request.requester_agency, None)])

    def _project(self, principal: Principal, project_id: str, today: date) -> Project:
        """The project a request is made for, if the requester may ask for it and it runs."""
        try:
            project = self.projects.get(project_id)
        except UnknownProject:
            raise RequestError(f"no project {project_id!r}: register it first") from None
        if principal.agency not in project.spec.agencies:
            raise RequestRefused(
                f"only the member agencies of project {project_id} "
                f"({', '.join(project.spec.agencies)}) ask for data for it"
            )
        if project.spec.status == ProjectStatus.stopped:
            raise RequestConflict(f"project {project_id} has stopped: it holds no new access")
        if project.spec.end is not None and project.spec.end < today:
            raise RequestConflict(f"project {project_id} ended {project.spec.end}")
        return project

    def _members(self, request: AccessRequest) -> list[str]:
        """Who an approval grants: the requester, and every other member of its project but
        the dataset's owner (which holds its own data)."""
        if not request.project_id:
            return [request.requester_agency]
        try:
            agencies = self.projects.get(request.project_id).spec.agencies
        except UnknownProject:
            agencies = []
        others = [a for a in agencies if a not in (request.requester_agency, request.owner_agency)]
        return [request.requester_agency, *others]

    def _approve(
        self,
        principal: Principal,
        request: AccessRequest,
        step: Step,
        note: str | None,
        narrowed: dict[str, Any],
    ) -> AccessRequest:
        decisions = [*request.decisions, _decision(principal, "approve", step, note, narrowed)]
        done = {d.step for d in decisions if d.action == "approve"} >= set(steps(request.policy))
        summary = ", ".join(f"{k}={v}" for k, v in narrowed.items())
        if not done:
            request = self._save(request, RequestState.pending, decisions, terms=narrowed)
            self._record(principal, request, "approve", f"{step.value} step; {summary}".strip())
            self._notify(NoticeKind.request_received, request, self._deciders(request))
            return request
        try:
            made = [
                self.grants.add(
                    self._contract(request),
                    agency,
                    request.purpose,
                    request.until,
                    columns=request.columns,
                    row_filter=request.row_filter,
                    created_by=_maker(request),
                    project_id=request.project_id,
                )
                for agency in self._members(request)
            ]
        except GrantError as exc:
            raise RequestError(str(exc)) from None
        grant = made[0]  # the requester's
        request = self._save(
            request, RequestState.approved, decisions, terms=narrowed, grant_id=grant.grant_id
        )
        granted = ", ".join(f"{g.grant_id} to {g.agency}" for g in made)
        held = f" for project {request.project_id}" if request.project_id else ""
        self._record(
            principal,
            request,
            "approve",
            f"{step.value} step; grant {granted}{held} until {grant.expires}; {summary}".strip(),
        )
        self._notify(NoticeKind.request_approved, request, [(request.requester_agency, None)])
        return request

    def _deciding(self, principal: Principal, request_id: str) -> tuple[AccessRequest, Step]:
        request = self.seen_by(principal, request_id)
        if request.state != RequestState.pending:
            raise RequestConflict(
                f"request {request_id} is already {request.state.value}: it cannot be decided"
            )
        step = self.step_for(principal, request)
        if step is None:
            raise RequestRefused(self._who_decides(principal, request))
        return request, step

    def _who_decides(self, principal: Principal, request: AccessRequest) -> str:
        if principal.agency == request.requester_agency:
            return "nobody decides their own agency's request"
        waiting = ", ".join(
            f"a steward of {request.owner_agency}"
            if s == Step.owner
            else f"the secretariat of {request.sector} ({self._secretariat(request)})"
            for s in request.waiting_for
        )
        return f"this request waits for {waiting}, not for you"

    def _decides_for_sector(self, principal: Principal, request: AccessRequest) -> bool:
        secretariat = self._secretariat(request)
        if secretariat == request.requester_agency:
            return principal.role == Role.operator  # the secretariat may not decide its own
        return principal.role == Role.secretariat and principal.agency == secretariat

    def _secretariat(self, request: AccessRequest) -> str | None:
        sector = self.registry.sector(request.sector)
        return sector.secretariat if sector else None

    def _deciders(self, request: AccessRequest) -> list[tuple[str, Role | None]]:
        to: list[tuple[str, Role | None]] = []
        for step in request.waiting_for:
            if step == Step.owner:
                to.append((request.owner_agency, Role.steward))
            elif (secretariat := self._secretariat(request)) == request.requester_agency:
                to.append((request.owner_agency, Role.operator))
            elif secretariat:
                to.append((secretariat, Role.secretariat))
        return to

    def _contract(self, request: AccessRequest) -> Requestable:
        """What the request asks for: the dataset's contract, or the model's current terms."""
        contract: Requestable | None = self.contracts().get(request.dataset_id)
        if contract is None:
            contract = self.models(request.dataset_id)
        if contract is None:
            raise RequestConflict(f"{request.dataset_id} has no contract any more")
        return contract

    def _notify(
        self, kind: NoticeKind, request: AccessRequest, to: list[tuple[str, Role | None]]
    ) -> None:
        # The other party: the requester for the deciders' notices, the owner for the requester's.
        to_deciders = kind in (NoticeKind.request_received, NoticeKind.request_withdrawn)
        other = request.requester_agency if to_deciders else request.owner_agency
        self.notices.post(
            kind,
            dataset=self._contract(request),
            to=to,
            request_id=request.request_id,
            grant_id=request.grant_id,
            other_agency=other,
        )

    def _check_terms(
        self, contract: Requestable, columns: tuple[str, ...] | None, row_filter: str | None
    ) -> None:
        try:
            self.grants.check_terms(contract, columns, row_filter)
        except GrantError as exc:
            raise RequestError(str(exc)) from None

    def _save(
        self,
        request: AccessRequest,
        state: RequestState,
        decisions: list[Decision],
        *,
        terms: dict[str, Any] | None = None,
        reason: str | None = None,
        grant_id: str | None = None,
    ) -> AccessRequest:
        values: dict[str, Any] = {
            "state": state.value,
            "decisions": [d.model_dump(mode="json") for d in decisions],
            "updated_at": datetime.now(UTC),
            **(terms or {}),
        }
        if reason is not None:
            values["reason"] = reason
        if grant_id is not None:
            values["grant_id"] = grant_id
        with self.engine.begin() as conn:
            # Only from the state it was read in: of two deciders racing, one wins.
            done = conn.execute(
                update(access_requests)
                .where(access_requests.c.request_id == request.request_id)
                .where(access_requests.c.state == request.state.value)
                .where(access_requests.c.updated_at == request.updated_at)
                .values(**values)
            )
        if done.rowcount != 1:
            raise RequestConflict(f"request {request.request_id} changed meanwhile: look again")
        return self.get(request.request_id)

    def _record(
        self,
        principal: Principal,
        request: AccessRequest,
        action: str,
        detail: str,
        outcome: Outcome = Outcome.ok,
    ) -> None:
        statement = (
            f"access-request {request.request_id} {action}: {request.dataset_id} "
            f"for {request.requester_agency}"
        )
        if action == "request":
            statement += f" ({request.legal_basis.value}; purpose: {request.purpose})"
            if request.project_id:
                statement += f" for project {request.project_id}"
        self.audit.append(
            principal,
            AuditKind.access,
            statement + (f"; {detail}" if detail else ""),
            datasets=[request.dataset_id],
            outcome=outcome,
        )

    def _select(self, **where: Any) -> list[AccessRequest]:
        query = select(access_requests).order_by(access_requests.c.created_at)
        for column, value in where.items():
            query = query.where(getattr(access_requests.c, column) == value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AccessRequest.model_validate(dict(r)) for r in rows]


def _maker(request: AccessRequest) -> str:
    """How the grants an approval makes name their maker."""
    return f"request:{request.request_id}"


def _terms(request: AccessRequest) -> str:
    columns = ", ".join(request.columns) if request.columns is not None else "all"
    return f"columns: {columns}; row filter: {request.row_filter or 'none'}; until {request.until}"


def _decision(
    principal: Principal,
    action: Action,
    step: Step | None,
    note: str | None,
    narrowed: dict[str, Any] | None = None,
) -> Decision:
    return Decision(
        action=action,
        step=step,
        subject=principal.subject,
        agency=principal.agency,
        role=principal.role,
        at=datetime.now(UTC),
        note=note,
        narrowed={k: str(v) if isinstance(v, date) else v for k, v in (narrowed or {}).items()},
    )


def _system(agency: str) -> Principal:
    """The platform acting by rule (automatic approval, expiry), recorded as such."""
    return Principal(subject="gongyu:rule", agency=agency, role=Role.operator, via="api_key")
