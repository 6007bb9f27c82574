"""The public disclosure of AI use, in the shape of ALIO's tables (공공기관 경영정보 공개): one
table per sector, one row per agency, counts only.

A row holds what the agency does within that sector: its projects (by status, and the titles
of those marked `public`), the models it shares (access `public` or `sector`), its published
datasets by access level (counts: no title, id or column of any dataset), the grants it holds
on the sector's datasets (counts) and how many other agencies used its datasets in the last 12
months, from grants and the audit log's reads (counts: no purpose, no request). An agency in
several sectors has a row in each. Everything is read in one pass over five tables.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select

from catalog.access.audit import AuditKind, Outcome, stamp
from catalog.access.grants import korean_day
from catalog.db import audit_log, deliveries, grants, models, projects
from catalog.history import utc
from catalog.ledger.projects import BudgetBand, ProjectSpec, ProjectStatus
from contracts.model import AccessLevel, Contract
from sectors.registry import Registry, Sector

WINDOW = timedelta(days=365)  # "joint uses in the last 12 months"
READS = (AuditKind.sql.value, AuditKind.trino.value, AuditKind.download.value)
SHARED_MODELS = (AccessLevel.public.value, AccessLevel.sector.value)
PUBLISHED = "published"  # a delivery's final state (catalog.deliveries.DeliveryState)


class ProjectsByStatus(BaseModel):
    """Projects led by the agency in the sector, by status (every project, listed or not)."""

    planned: int = 0
    piloting: int = 0
    in_service: int = 0
    stopped: int = 0

    @property
    def total(self) -> int:
        """All four together."""
        return self.planned + self.piloting + self.in_service + self.stopped


class DatasetsByAccess(BaseModel):
    """Published datasets (and joint products) by access level: counts only."""

    public: int = 0
    sector: int = 0
    restricted: int = 0
    private: int = 0


class ListedProject(BaseModel):
    """A project its agency marked `public`: what the disclosure lists of it."""

    id: str
    title: str
    title_en: str | None
    status: ProjectStatus
    start: date
    end: date | None
    budget: BudgetBand
    partners: list[str] = Field(description="Partner agencies (ids).")


class Figures(BaseModel):
    """The counts of one row (an agency in a sector) or of a total."""

    projects: ProjectsByStatus = Field(default_factory=ProjectsByStatus)
    projects_unlisted: int = Field(
        0, description="Projects counted above whose agency did not mark them `public`."
    )
    models_shared: int = Field(
        0, description="Models whose current version is shared (`public` or `sector`)."
    )
    datasets_shared: DatasetsByAccess = Field(default_factory=DatasetsByAccess)
    datasets_received: int = Field(
        0, description="Active grants the agency holds on other agencies' datasets."
    )
    joint_users: int = Field(
        0,
        description="Other agencies that held a grant on, or read, the agency's datasets in the "
        "last 12 months; in a total, the sum of its rows (owner × user agency pairs).",
    )
    joint_reads: int = Field(
        0, description="Queries and downloads of the agency's datasets by other agencies."
    )

    def add(self, other: Figures) -> None:
        """Add another row's counts to these."""
        self.projects = ProjectsByStatus(
            **{k: v + getattr(other.projects, k) for k, v in self.projects}
        )
        self.datasets_shared = DatasetsByAccess(
            **{k: v + getattr(other.datasets_shared, k) for k, v in self.datasets_shared}
        )
        for name in ("projects_unlisted", "models_shared", "datasets_received", "joint_users"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.joint_reads += other.joint_reads


class AgencyRow(Figures):
    """One agency in one sector."""

    agency: str
    name: str
    name_en: str
    listed: list[ListedProject] = Field(
        default_factory=list, description="Its projects marked `public` (empty when not listed)."
    )


class SectorTable(BaseModel):
    """One sector's table: its agencies and their total."""

    sector: str
    name: str
    name_en: str
    secretariat: str
    agencies: list[AgencyRow]
    total: Figures


class Disclosure(BaseModel):
    """The whole disclosure: every sector's table, and the commons' total."""

    generated_at: datetime
    window_start: date = Field(description="First day (KST) of the 12 months of joint uses.")
    projects_listed: bool = Field(description="Whether public projects' titles are listed.")
    sectors: list[SectorTable]
    total: Figures = Field(
        description="Every sector's rows together, but each project once (in a sector's table "
        "a project of two sectors counts in each)."
    )


@dataclass
class _Row:
    """A row while it is counted: the users as a set until the end."""

    figures: Figures = field(default_factory=Figures)
    listed: list[ListedProject] = field(default_factory=list)
    users: set[str] = field(default_factory=set)


def disclosure(
    engine: Engine,
    registry: Registry,
    contracts: Mapping[str, Contract],
    *,
    list_projects: bool = True,
    now: datetime | None = None,
) -> Disclosure:
    """The disclosure as of `now`: one query per table (projects, deliveries, models, grants,
    audit log), counted in memory."""
    now = now or datetime.now(UTC)
    since = now - WINDOW
    rows: dict[tuple[str, str], _Row] = defaultdict(_Row)
    with engine.connect() as conn:
        project_specs = [
            ProjectSpec.model_validate(s) for (s,) in conn.execute(select(projects.c.spec))
        ]
        published = set(
            conn.execute(
                select(deliveries.c.dataset_id).where(deliveries.c.state == PUBLISHED).distinct()
            ).scalars()
        )
        model_rows = conn.execute(
            select(
                models.c.model_id,
                models.c.version,
                models.c.agency,
                models.c.sector,
                models.c.access,
            )
        ).all()
        grant_rows = conn.execute(
            select(
                grants.c.dataset_id,
                grants.c.agency,
                grants.c.expires,
                grants.c.revoked_at,
            )
        ).all()
        reads = conn.execute(
            select(audit_log.c.agency, audit_log.c.datasets, func.count())
            .where(audit_log.c.kind.in_(READS))
            .where(audit_log.c.outcome == Outcome.ok.value)
            .where(audit_log.c.datasets != "[]")
            .where(audit_log.c.at >= stamp(since))
            .group_by(audit_log.c.agency, audit_log.c.datasets)
        ).all()
    _count_projects(rows, project_specs, list_projects)
    _count_datasets(rows, contracts, published)
    _count_models(rows, model_rows)
    _count_grants(rows, contracts, grant_rows, korean_day(now), korean_day(since))
    _count_reads(rows, contracts, reads)
    tables = [_table(registry, sector, rows) for sector in registry.sectors]
    total = Figures()
    for table in tables:
        total.add(table.total)
    # The commons' own count of projects: each once, however many sectors it serves.
    total.projects = ProjectsByStatus(
        **{s.value: sum(p.status == s for p in project_specs) for s in ProjectStatus}
    )
    return Disclosure(
        generated_at=now,
        window_start=korean_day(since),
        projects_listed=list_projects,
        sectors=tables,
        total=total,
    )


def _count_projects(
    rows: dict[tuple[str, str], _Row], specs: Iterable[ProjectSpec], list_projects: bool
) -> None:
    """A project counts under its lead agency in each of its sectors."""
    for spec in specs:
        for sector in spec.sectors:
            row = rows[sector, spec.lead]
            by_status = row.figures.projects
            setattr(by_status, spec.status.value, getattr(by_status, spec.status.value) + 1)
            if not spec.public:
                row.figures.projects_unlisted += 1
            elif list_projects:
                row.listed.append(
                    ListedProject(
                        id=spec.id,
                        title=spec.title,
                        title_en=spec.title_en,
                        status=spec.status,
                        start=spec.start,
                        end=spec.end,
                        budget=spec.budget,
                        partners=spec.partners,
                    )
                )


def _count_datasets(
    rows: dict[tuple[str, str], _Row], contracts: Mapping[str, Contract], published: set[str]
) -> None:
    """A dataset counts once it has a published delivery (a product once it is built)."""
    for dataset_id in published:
        contract = contracts.get(dataset_id)
        if contract is None:
            continue  # a retired contract: nothing to disclose of it
        shared = rows[contract.sector, contract.agency].figures.datasets_shared
        level = contract.access.value
        setattr(shared, level, getattr(shared, level) + 1)


def _count_models(rows: dict[tuple[str, str], _Row], found: Iterable[tuple]) -> None:
    """A model counts when its newest version is shared."""
    newest: dict[str, tuple] = {}
    for row in found:
        model_id, version = row[0], row[1]
        if model_id not in newest or version > newest[model_id][1]:
            newest[model_id] = tuple(row)
    for _, _, agency, sector, access in newest.values():
        if access in SHARED_MODELS:
            rows[sector, agency].figures.models_shared += 1


def _count_grants(
    rows: dict[tuple[str, str], _Row],
    contracts: Mapping[str, Contract],
    found: Iterable[tuple],
    today: date,
    window_start: date,
) -> None:
    """Grants in force today are datasets received by their holder; grants in force at any
    time in the window make their holder a joint user of the owner."""
    for dataset_id, agency, expires, revoked_at in found:
        contract = contracts.get(dataset_id)
        if contract is None or agency == contract.agency:
            continue
        revoked = korean_day(utc(revoked_at)) if revoked_at else None
        if revoked is None and expires >= today:
            rows[contract.sector, agency].figures.datasets_received += 1
        if expires >= window_start and (revoked is None or revoked >= window_start):
            rows[contract.sector, contract.agency].users.add(agency)


def _count_reads(
    rows: dict[tuple[str, str], _Row], contracts: Mapping[str, Contract], found: Iterable[tuple]
) -> None:
    """Successful reads of another agency's datasets in the window (anonymous callers have no
    agency and read no datasets)."""
    for agency, datasets, n in found:
        for dataset_id in json.loads(datasets):
            contract = contracts.get(dataset_id)
            if contract is None or agency in (contract.agency, "-"):
                continue
            row = rows[contract.sector, contract.agency]
            row.users.add(agency)
            row.figures.joint_reads += n


def _table(registry: Registry, sector: Sector, rows: dict[tuple[str, str], _Row]) -> SectorTable:
    """A sector's table: its members in the registry's order, then any other agency that has
    something in it (e.g. a project led from outside the sector)."""
    others = sorted(a for s, a in rows if s == sector.id and a not in sector.members)
    agencies: list[AgencyRow] = []
    total = Figures()
    for agency_id in [*sector.members, *others]:
        counted = rows.get((sector.id, agency_id), _Row())
        counted.figures.joint_users = len(counted.users)
        agency = registry.agency(agency_id)
        agencies.append(
            AgencyRow(
                agency=agency_id,
                name=agency.name if agency else agency_id,
                name_en=agency.name_en if agency else agency_id,
                listed=sorted(counted.listed, key=lambda p: (p.start, p.id)),
                **counted.figures.model_dump(),
            )
        )
        total.add(counted.figures)
    return SectorTable(
        sector=sector.id,
        name=sector.name,
        name_en=sector.name_en,
        secretariat=sector.secretariat,
        agencies=agencies,
        total=total,
    )
