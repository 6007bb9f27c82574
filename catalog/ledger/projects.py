"""AI (and analytics) projects of agencies, and every update to them as a history.

A project is registered by its lead agency (files under `sectors/projects/`, the API or the
pages) and updated over time: "shared on an ongoing basis". Each update is a new version with
what changed; the current version is what the catalog, the overlap detector and the public
disclosure read.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine, insert, select, update

from catalog.access.audit import AuditKind, AuditLog
from catalog.access.grants import Grants
from catalog.access.principal import Principal, Role
from catalog.db import project_history, projects
from sectors.registry import Registry

PROJECT_ID = re.compile(r"^[a-z][a-z0-9_]{2,79}$")


class ProjectStatus(StrEnum):
    """Where a project stands."""

    planned = "planned"
    piloting = "piloting"
    in_service = "in_service"
    stopped = "stopped"


class BudgetBand(StrEnum):
    """A project's budget, in bands as ALIO discloses them (KRW)."""

    under_100m = "under_100m"  # 1억 원 미만
    from_100m = "100m_to_1b"  # 1억 ~ 10억 원
    from_1b = "1b_to_10b"  # 10억 ~ 100억 원
    over_10b = "over_10b"  # 100억 원 이상
    undisclosed = "undisclosed"


class Figure(BaseModel):
    """One outcome with its figure, e.g. 처리 시간 -40 %."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=200)
    value: float | str
    unit: str | None = Field(None, max_length=40)
    note: str | None = Field(None, max_length=500)


class ProjectSpec(BaseModel):
    """A project as its agency states it (a file, the API body, the form)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(description="Lower-case id: letters, digits, underscores.")
    title: str = Field(min_length=2, max_length=300, description="Title (Korean).")
    title_en: str | None = Field(None, max_length=300, alias="titleEn")
    purpose: str = Field(min_length=2, max_length=5000)
    sectors: list[str] = Field(min_length=1)
    lead: str = Field(description="The lead agency (sectors.yaml id).")
    partners: list[str] = Field(default_factory=list)
    start: date
    end: date | None = None
    status: ProjectStatus = ProjectStatus.planned
    datasets: list[str] = Field(
        default_factory=list, description="Gongyu datasets and products it uses (ids)."
    )
    models_used: list[str] = Field(default_factory=list, alias="modelsUsed")
    models_made: list[str] = Field(default_factory=list, alias="modelsMade")
    outputs: str | None = Field(None, max_length=2000, description="What it produces.")
    outcomes: list[Figure] = Field(default_factory=list)
    problems: str | None = Field(None, max_length=5000, description="Problems met.")
    budget: BudgetBand = BudgetBand.undisclosed
    public: bool = Field(True, description="Listed on the public disclosure page.")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not PROJECT_ID.match(value):
            raise ValueError("use 3–80 lower-case letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _period(self) -> ProjectSpec:
        if self.end is not None and self.end < self.start:
            raise ValueError("the project ends before it starts")
        if self.lead in self.partners:
            raise ValueError("the lead agency is not also a partner")
        return self

    @property
    def agencies(self) -> list[str]:
        """The lead and the partners: the project's member agencies."""
        return [self.lead, *self.partners]


class Project(BaseModel):
    """A project's current version."""

    spec: ProjectSpec
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        """The project's id."""
        return self.spec.id


class ProjectVersion(BaseModel):
    """One version of a project: what it said, what changed from the one before, who wrote it."""

    project_id: str
    version: int
    spec: ProjectSpec
    changes: list[str]
    changed_by: str
    changed_at: datetime


class ProjectError(ValueError):
    """A project that cannot be registered or changed; `status` for the HTTP answer."""

    status = 422


class ProjectRefused(ProjectError):
    """The caller may not do this."""

    status = 403


class UnknownProject(ProjectError):
    """No such project."""

    status = 404


class ProjectExists(ProjectError):
    """The id is taken."""

    status = 409


def changed_fields(before: ProjectSpec | None, after: ProjectSpec) -> list[str]:
    """The fields that differ between two versions (every stated field for a first one)."""
    old = before.model_dump(mode="json") if before else {}
    new = after.model_dump(mode="json")
    return [k for k in new if old.get(k) != new[k] and (before or new[k] not in (None, [], ""))]


def check_datasets(spec: ProjectSpec, known: Collection[str]) -> None:
    """ProjectError unless every dataset the project lists is a Gongyu dataset or product."""
    unknown = [d for d in spec.datasets if d not in known]
    if unknown:
        raise ProjectError(
            f"datasets: no Gongyu dataset or product {', '.join(map(repr, unknown))}; list "
            "dataset ids as the catalog shows them"
        )


class ProjectLedger:
    """Projects in the catalog database."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine = engine
        self.registry = registry

    def check(self, spec: ProjectSpec) -> None:
        """ProjectError unless its agencies and sectors exist."""
        for agency in spec.agencies:
            if self.registry.agency(agency) is None:
                field = "lead" if agency == spec.lead else "partners"
                raise ProjectError(
                    f"{field}: unknown agency {agency!r}; agencies are listed in sectors.yaml"
                )
        for sector in spec.sectors:
            if self.registry.sector(sector) is None:
                known = ", ".join(s.id for s in self.registry.sectors)
                raise ProjectError(f"sectors: unknown sector {sector!r}; one of {known}")

    def may_see(self, principal: Principal, spec: ProjectSpec) -> bool:
        """Every signed-in caller sees a project (projects are metadata meant to be shared); one
        not `public` only its member agencies, the secretariats of its sectors and operators."""
        if spec.public or principal.role == Role.operator or principal.agency in spec.agencies:
            return True
        secretariats = {s.secretariat for s in self.registry.sectors if s.id in spec.sectors}
        return principal.role == Role.secretariat and principal.agency in secretariats

    def may_write(self, principal: Principal, spec: ProjectSpec) -> bool:
        """Whether the principal may register or update this project (see `_writes`)."""
        try:
            self._writes(principal, spec)
        except ProjectRefused:
            return False
        return True

    def visible(
        self,
        principal: Principal,
        *,
        sector: str | None = None,
        agency: str | None = None,
        status: ProjectStatus | None = None,
    ) -> list[Project]:
        """The projects the principal may see, newest update first; filtered by a sector, a
        member agency (lead or partner) and a status when given."""
        return [
            p
            for p in self.list()
            if self.may_see(principal, p.spec)
            and (sector is None or sector in p.spec.sectors)
            and (agency is None or agency in p.spec.agencies)
            and (status is None or p.spec.status == status)
        ]

    def seen_by(self, principal: Principal, project_id: str) -> Project:
        """A project the principal may see; UnknownProject otherwise, as for no project."""
        project = self.get(project_id)
        if not self.may_see(principal, project.spec):
            raise UnknownProject(f"no project {project_id!r}")
        return project

    @staticmethod
    def _writes(principal: Principal, spec: ProjectSpec) -> None:
        """Stewards and secretariats of the lead agency (and operators) write its projects."""
        if principal.role == Role.operator:
            return
        if principal.role in (Role.steward, Role.secretariat) and principal.agency == spec.lead:
            return
        raise ProjectRefused(
            f"a project is registered and updated by its lead agency ({spec.lead}): its "
            "stewards or secretariat officers"
        )

    def register(self, principal: Principal, spec: ProjectSpec) -> Project:
        """Record a new project (version 1)."""
        self._writes(principal, spec)
        self.check(spec)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if conn.execute(select(projects.c.project_id).where(self._is(spec.id))).first():
                raise ProjectExists(f"project {spec.id!r} exists; update it instead")
            row = self._row(spec, 1, now) | {"created_by": principal.subject, "created_at": now}
            conn.execute(insert(projects).values(**row))
            conn.execute(
                insert(project_history).values(**self._history(None, spec, 1, principal, now))
            )
        return self.get(spec.id)

    def update(self, principal: Principal, spec: ProjectSpec) -> Project:
        """Record a new version of an existing project, with what changed."""
        before = self.get(spec.id)
        self._writes(principal, before.spec)  # the lead as recorded decides, not as claimed
        self._writes(principal, spec)
        self.check(spec)
        now = datetime.now(UTC)
        version = before.version + 1
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(projects)
                .where(self._is(spec.id) & (projects.c.version == before.version))
                .values(**self._row(spec, version, now))
            ).rowcount
            if not moved:
                raise ProjectExists(f"project {spec.id!r} changed meanwhile; read it and retry")
            conn.execute(
                insert(project_history).values(
                    **self._history(before.spec, spec, version, principal, now)
                )
            )
        self._end_access(principal, spec)
        return self.get(spec.id)

    def _end_access(self, principal: Principal, spec: ProjectSpec) -> None:
        """Access held by the project ends with it: its grants are brought into its new terms
        (stopped: revoked; an earlier end: expiries moved to it; a partner gone: its grants
        revoked), each change a record on the audit chain as every grant change is."""
        stopped = spec.status == ProjectStatus.stopped
        changed = Grants(self.engine, self.registry).end_with_project(
            spec.id, set(spec.agencies), spec.end, stopped
        )
        audit = AuditLog(self.engine)
        for grant, what in changed:
            if what == "shortened":
                why = f"now ends {grant.expires} with the project"
            elif stopped:
                why = "the project stopped"
            else:
                why = f"{grant.agency} is no longer a member of the project"
            audit.append(
                principal,
                AuditKind.access,
                f"grant {grant.grant_id} of project {spec.id} {what}: {grant.dataset_id} for "
                f"{grant.agency}; {why}",
                datasets=[grant.dataset_id],
            )

    def get(self, project_id: str) -> Project:
        """The project's current version; UnknownProject if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(projects).where(self._is(project_id))).first()
        if row is None:
            raise UnknownProject(f"no project {project_id!r}")
        return self._project(row._mapping)

    def list(self) -> list[Project]:
        """Every project, newest update first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(projects).order_by(projects.c.updated_at.desc())).all()
        return [self._project(r._mapping) for r in rows]

    def history(self, project_id: str) -> list[ProjectVersion]:
        """Every version of a project, oldest first."""
        query = (
            select(project_history)
            .where(project_history.c.project_id == project_id)
            .order_by(project_history.c.version)
        )
        with self.engine.connect() as conn:
            return [ProjectVersion.model_validate(dict(r._mapping)) for r in conn.execute(query)]

    @staticmethod
    def _is(project_id: str) -> Any:
        return projects.c.project_id == project_id

    @staticmethod
    def _row(spec: ProjectSpec, version: int, now: datetime) -> dict:
        return {
            "project_id": spec.id,
            "version": version,
            "lead": spec.lead,
            "status": str(spec.status),
            "spec": spec.model_dump(mode="json"),
            "updated_at": now,
        }

    @staticmethod
    def _history(
        before: ProjectSpec | None,
        spec: ProjectSpec,
        version: int,
        principal: Principal,
        now: datetime,
    ) -> dict:
        return {
            "project_id": spec.id,
            "version": version,
            "spec": spec.model_dump(mode="json"),
            "changes": changed_fields(before, spec),
            "changed_by": principal.subject,
            "changed_at": now,
        }

    @staticmethod
    def _project(row: Any) -> Project:
        return Project(
            spec=ProjectSpec.model_validate(row["spec"]),
            version=row["version"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
