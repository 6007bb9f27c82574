"""The joint-use board: which agency uses which agency's datasets, and how requests fare.

Secretariats see their sector's datasets in full, operators every sector; every other member
sees the counts-only board of the whole commons (no dataset ids, purposes or reasons).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select

from catalog.access.audit import AuditKind, Outcome
from catalog.access.grants import Grant
from catalog.access.principal import Principal, Role
from catalog.access.requestable import Requestable
from catalog.access.requests import AccessRequest, RequestState
from catalog.db import audit_log
from sectors.registry import Registry

QUERIES = (AuditKind.sql.value, AuditKind.trino.value)


class Use(BaseModel):
    """One agency's use of another agency's datasets."""

    user_agency: str
    owner_agency: str
    grants: int = Field(0, description="Active grants.")
    queries: int = 0
    rows: int = Field(0, description="Rows read by those queries.")
    downloads: int = 0
    datasets: list[str] = Field(default_factory=list, description="Empty on the counts-only board.")


class Waiting(BaseModel):
    """A pending request and how long it has waited."""

    request_id: str
    dataset_id: str
    requester_agency: str
    owner_agency: str
    waiting_for: list[str]
    days_waiting: float


class Denial(BaseModel):
    """A denied request and why."""

    request_id: str
    dataset_id: str
    requester_agency: str
    owner_agency: str
    reason: str


class Board(BaseModel):
    """The board for one viewer."""

    scope: str = Field(description="`sector:<id>,…`, `all` (operators) or `commons` (counts).")
    counts_only: bool
    uses: list[Use]
    pending: int
    waiting: list[Waiting] = Field(default_factory=list)
    decided: int
    median_days_to_decision: float | None
    denied: int
    denials: list[Denial] = Field(default_factory=list)


def sectors_overseen(principal: Principal, registry: Registry) -> set[str] | None:
    """The sectors whose board the principal sees in full (None: every sector)."""
    if principal.role == Role.operator:
        return None
    if principal.role != Role.secretariat:
        return set()
    return {s.id for s in registry.sectors if s.secretariat == principal.agency}


def board(
    principal: Principal,
    registry: Registry,
    contracts: Mapping[str, Requestable],
    engine: Engine,
    requests: Iterable[AccessRequest],
    grants: Iterable[Grant],
    now: datetime | None = None,
) -> Board:
    """The board the principal may see (`sectors_overseen`), built from grants, requests and
    the audit log's reads."""
    now = now or datetime.now(UTC)
    overseen = sectors_overseen(principal, registry)
    counts_only = overseen is not None and not overseen

    def shown(dataset_id: str) -> bool:
        contract = contracts.get(dataset_id)
        return contract is not None and (
            overseen is None or counts_only or contract.sector in overseen
        )

    uses: dict[tuple[str, str], Use] = {}

    def use(user: str, dataset_id: str) -> Use:
        owner = contracts[dataset_id].agency
        found = uses.setdefault((user, owner), Use(user_agency=user, owner_agency=owner))
        if not counts_only and dataset_id not in found.datasets:
            found.datasets.append(dataset_id)
        return found

    for grant in grants:
        if shown(grant.dataset_id):
            use(grant.agency, grant.dataset_id).grants += 1
    for agency, kind, datasets, n, rows in _reads(engine):
        for dataset_id in json.loads(datasets):
            if shown(dataset_id) and contracts[dataset_id].agency != agency:
                found = use(agency, dataset_id)
                if kind == AuditKind.download.value:
                    found.downloads += n
                else:
                    found.queries += n
                    found.rows += int(rows)
    mine = [r for r in requests if shown(r.dataset_id)]
    pending = [r for r in mine if r.state == RequestState.pending]
    decided = [r for r in mine if r.decided_at is not None]
    denied = [r for r in mine if r.state == RequestState.denied]
    days = [(r.decided_at - r.created_at).total_seconds() / 86400 for r in decided if r.decided_at]
    return Board(
        scope="commons"
        if counts_only
        else "all"
        if overseen is None
        else "sector:" + ",".join(sorted(overseen)),
        counts_only=counts_only,
        uses=sorted(uses.values(), key=lambda u: (u.owner_agency, u.user_agency)),
        pending=len(pending),
        waiting=[]
        if counts_only
        else [
            Waiting(
                request_id=r.request_id,
                dataset_id=r.dataset_id,
                requester_agency=r.requester_agency,
                owner_agency=r.owner_agency,
                waiting_for=[s.value for s in r.waiting_for],
                days_waiting=round((now - r.created_at).total_seconds() / 86400, 2),
            )
            for r in pending
        ],
        decided=len(decided),
        median_days_to_decision=round(statistics.median(days), 2) if days else None,
        denied=len(denied),
        denials=[]
        if counts_only
        else [
            Denial(
                request_id=r.request_id,
                dataset_id=r.dataset_id,
                requester_agency=r.requester_agency,
                owner_agency=r.owner_agency,
                reason=r.reason or "",
            )
            for r in denied
        ],
    )


def _reads(engine: Engine) -> list[tuple[str, str, str, int, int]]:
    """Successful reads per agency, kind and dataset list, from the audit log."""
    query = (
        select(
            audit_log.c.agency,
            audit_log.c.kind,
            audit_log.c.datasets,
            func.count(),
            func.coalesce(func.sum(audit_log.c.rows), 0),
        )
        .where(audit_log.c.kind.in_([*QUERIES, AuditKind.download.value]))
        .where(audit_log.c.outcome == Outcome.ok.value)
        .where(audit_log.c.datasets != "[]")
        .group_by(audit_log.c.agency, audit_log.c.kind, audit_log.c.datasets)
    )
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]


def board_csv(found: Board) -> str:
    """The board's agency × agency uses as CSV (one row per user and owner agency)."""
    lines = ["user_agency,owner_agency,grants,queries,rows,downloads,datasets"]
    for u in found.uses:
        lines.append(
            f"{u.user_agency},{u.owner_agency},{u.grants},{u.queries},{u.rows},{u.downloads},"
            + " ".join(u.datasets)
        )
    return "\n".join(lines) + "\n"


def matrix(found: Board) -> dict[str, dict[str, int]]:
    """Owner agency → user agency → queries + downloads + grants (the board's picture)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for u in found.uses:
        out[u.owner_agency][u.user_agency] = u.grants + u.queries + u.downloads
    return dict(out)
