"""Shared models: a model card, each version's artifact in the object store, the Gongyu datasets
and snapshots it was trained on, and who may reuse it.

An agency's steward (or its secretariat officer) registers a model with one artifact file. The
file is kept in the zone `models` under `<agency>/<model>/<version>/<file>`, hashed (SHA-256) and
immutable: registering the same id again makes the next version, nothing is overwritten.

Who may download follows the datasets' policy (`catalog.access.policy.may_read`) with the
model's access level, owner and sector, taken from its newest version (as a dataset's current
contract governs its older snapshots): `public` every caller; `sector` agencies of the model's
sector and agencies holding a grant; `restricted` agencies holding a grant; `private` the owner.
Every caller sees every model's card but another agency's `private` one.

Grants for a model are rows of the grants table whose dataset id is `model:<id>`: they expire
and are revoked (`gongyu grants revoke`) like dataset grants, and the sandbox and the reminders
pass over them because no contract has that id. The owner's steward makes them here (`grant`),
or an agency requests the model through the joint-use workflow (`requestable` gives the
`ModelTerms` that `catalog.access.requests.AccessRequests` routes by the card's `approval`);
each is recorded on the audit chain.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from catalog.access.audit import AuditKind, AuditLog, Outcome
from catalog.access.grants import Grant, Grants, korean_today
from catalog.access.policy import may_read, may_see
from catalog.access.principal import Principal, Role
from catalog.db import grants as grants_table
from catalog.db import models as models_table
from catalog.ledger.projects import ProjectLedger, UnknownProject
from contracts.licences import Licence
from contracts.model import AccessLevel, Approval, ApprovalPolicy, Contract
from gongyu.ground.storage import Storage
from sectors.registry import Registry

if TYPE_CHECKING:
    from catalog.lakehouse import Lakehouse

MODEL_ID = re.compile(r"^[a-z][a-z0-9_]{2,79}$")
ZONE = "models"
GRANT_PREFIX = "model:"
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")  # ASCII: the name goes into a header
# Versions tried past the recorded newest when their artifact key is taken (a registration
# that crashed between storing and recording leaves its file: it is never overwritten).
MAX_VERSION_TRIES = 10
CHUNK = 1024 * 1024


class Task(StrEnum):
    """What a model does."""

    classification = "classification"
    regression = "regression"
    forecasting = "forecasting"
    clustering = "clustering"
    anomaly_detection = "anomaly_detection"
    ranking = "ranking"
    text = "text"  # language models, extraction, summarising
    vision = "vision"
    other = "other"


class Metric(BaseModel):
    """One measured figure, and on what it was measured."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="e.g. auc, rmse, accuracy.")
    value: float
    dataset: str | None = Field(None, max_length=200, description="What it was measured on.")
    split: str | None = Field(None, max_length=100, description="e.g. test, 2020-11..12.")


class TrainedOn(BaseModel):
    """A Gongyu dataset the model was trained on, at one published snapshot."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=128)
    snapshot_id: int = Field(description="An Iceberg snapshot id in the table's `main` history.")


class ModelCard(BaseModel):
    """A model as its agency states it (the API's `card` field, the demo)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(description="Lower-case id: letters, digits, underscores.")
    title: str = Field(min_length=2, max_length=300, description="Title (Korean).")
    title_en: str | None = Field(None, max_length=300, alias="titleEn")
    task: Task
    inputs: str = Field(min_length=2, max_length=2000, description="Its features, in words.")
    outputs: str = Field(min_length=2, max_length=2000)
    metrics: list[Metric] = Field(default_factory=list)
    limits: str | None = Field(None, max_length=5000, description="Where it should not be used.")
    licence: Licence
    access: AccessLevel
    agency: str = Field(description="The owning agency (sectors.yaml id).")
    sector: str = Field(description="The sector it is shared in; the agency is a member.")
    project_id: str | None = Field(None, alias="projectId", description="The project that made it.")
    trained_on: list[TrainedOn] = Field(default_factory=list, alias="trainedOn")
    approval: Approval = Field(
        default_factory=Approval,
        description="Who decides requests for it (`owner` or `owner_and_secretariat`) and the "
        "longest period a grant runs (`maxDays`).",
    )

    @field_validator("approval")
    @classmethod
    def _decided(cls, value: Approval) -> Approval:
        # `sector` access already opens a model to its sector: nothing is approved by rule.
        if value.policy == ApprovalPolicy.automatic:
            raise ValueError(
                "a model's requests are decided by `owner` or `owner_and_secretariat`; "
                "to open it to its sector, give it `sector` access"
            )
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not MODEL_ID.match(value):
            raise ValueError("use 3–80 lower-case letters, digits and underscores")
        return value

    @field_validator("trained_on")
    @classmethod
    def _once(cls, value: list[TrainedOn]) -> list[TrainedOn]:
        names = [t.dataset for t in value]
        if len(set(names)) < len(names):
            raise ValueError("name each dataset once, with the snapshot the model was trained on")
        return value


class ModelTerms(BaseModel):
    """A model as the joint-use workflow requests it (`catalog.access.requestable`): its id in
    the grants table, owner, sector, title, access and approval, from its newest card."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="`model:<id>`, as its grants carry it.")
    agency: str
    sector: str
    title: str
    access: AccessLevel
    approval: Approval

    @classmethod
    def of(cls, card: ModelCard) -> ModelTerms:
        """The terms a card states."""
        return cls(
            id=grant_id_of(card.id),
            agency=card.agency,
            sector=card.sector,
            title=card.title,
            access=card.access,
            approval=card.approval,
        )


class Artifact(BaseModel):
    """A version's stored file."""

    key: str = Field(description="Its key in the `models` zone.")
    filename: str
    sha256: str
    size_bytes: int


class ModelVersion(BaseModel):
    """One registered version: its card, its artifact, who registered it."""

    model_id: str
    version: int
    card: ModelCard
    artifact: Artifact
    created_by: str
    created_at: datetime


class Lineage(BaseModel):
    """A dataset a version was trained on, as the catalog shows it."""

    dataset: str
    snapshot_id: int
    table: str | None = Field(description="Its Iceberg table, while a contract has the id.")
    title: str | None
    title_en: str | None
    agency: str | None
    sector: str | None


class ProjectLink(BaseModel):
    """The project that made a model."""

    id: str
    title: str
    title_en: str | None


class ModelEntry(BaseModel):
    """A model as one caller sees it: its newest card, every version, lineage and whether the
    caller may download it."""

    model_id: str
    card: ModelCard
    versions: list[ModelVersion] = Field(description="Oldest first.")
    lineage: list[Lineage] = Field(description="What the newest version was trained on.")
    hidden_lineage: int = Field(
        0, description="Datasets it was trained on whose entries the caller may not see."
    )
    project: ProjectLink | None
    may_download: bool


class ModelError(ValueError):
    """A model that cannot be registered or granted as asked; `status` for the HTTP answer."""

    status = 422


class ModelRefused(ModelError):
    """The caller may not do this."""

    status = 403


class UnknownModel(ModelError):
    """No such model, version, or one the caller may not see (the same answer)."""

    status = 404


class ModelConflict(ModelError):
    """The id belongs to another agency, or a concurrent registration took the version."""

    status = 409


class ArtifactTooLarge(ModelError):
    """Over the artifact size limit (GONGYU_MAX_DELIVERY_BYTES)."""

    status = 413


def artifact_name(name: str | None) -> str:
    """A safe artifact file name: its base name, odd characters replaced, never hidden."""
    base = UNSAFE_NAME.sub("_", Path((name or "").replace("\\", "/")).name).strip("._ ")
    return base[:200] or "artifact"


def grant_id_of(model_id: str) -> str:
    """The dataset id a model's grants carry in the grants table."""
    return GRANT_PREFIX + model_id


def may_know(principal: Principal, card: ModelCard, registry: Registry) -> bool:
    """True when the model's card exists for the caller: every model's but another agency's
    `private` one."""
    return card.access != AccessLevel.private or may_read(principal, card, registry, [])


class ModelRegistry:
    """Shared models in the catalog database, their artifacts in the `models` zone."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        storage: Storage,
        contracts: Callable[[], Mapping[str, Contract]],
        grants: Grants,
        lakehouse: Callable[[], Lakehouse],
        projects: ProjectLedger,
        audit: AuditLog,
        max_bytes: int,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.storage = storage
        self.contracts = contracts  # read at each use: contracts change while a server runs
        self.grants = grants
        self.lakehouse = lakehouse  # built when first needed: listing models needs no Iceberg
        self.projects = projects
        self.audit = audit
        self.max_bytes = max_bytes

    # Registration.

    def register(
        self, principal: Principal, card: ModelCard, artifact: Path, filename: str | None = None
    ) -> ModelVersion:
        """Store the artifact and record the next version of the model (1 for a new id);
        ModelError (with its `status`) says what is wrong."""
        self._writes(principal, card)
        self.check(principal, card)
        size = artifact.stat().st_size
        if size > self.max_bytes:
            raise ArtifactTooLarge(
                f"the artifact is {size:,} bytes, over the limit of {self.max_bytes:,} "
                "(GONGYU_MAX_DELIVERY_BYTES)"
            )
        owner, newest = self._owner_and_newest(card.id)
        if owner is not None and owner != card.agency:
            raise ModelConflict(f"model id {card.id!r} is taken; choose another id")
        name = artifact_name(filename or artifact.name)
        now = datetime.now(UTC)
        with self.storage.incoming(artifact) as incoming:
            version, key = self._keep(incoming.keep, card, name, newest)
            row = {
                "model_id": card.id,
                "version": version,
                "agency": card.agency,
                "sector": card.sector,
                "access": str(card.access),
                "card": card.model_dump(mode="json"),
                "artifact_key": key,
                "sha256": incoming.digest,
                "size_bytes": size,
                "trained_on": self._tables(card),
                "project_id": card.project_id,
                "created_by": principal.subject,
                "created_at": now,
            }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(models_table).values(**row))
        except IntegrityError:
            raise ModelConflict(
                f"model {card.id!r} version {version} was registered meanwhile; send it again"
            ) from None
        return self._version(row)

    def _keep(
        self, keep: Callable[[str], None], card: ModelCard, name: str, newest: int
    ) -> tuple[int, str]:
        """Store the artifact under the first free version's key past `newest`."""
        for version in range(newest + 1, newest + 1 + MAX_VERSION_TRIES):
            key = f"{card.agency}/{card.id}/{version}/{name}"
            try:
                keep(key)
            except FileExistsError:
                continue  # taken by a concurrent registration, or left by a crashed one
            return version, key
        raise ModelConflict(f"no free version of {card.id!r} to store; try again")

    @staticmethod
    def _writes(principal: Principal, card: ModelCard) -> None:
        """A steward or secretariat officer of the owning agency registers its models."""
        if principal.role in (Role.steward, Role.secretariat) and principal.agency == card.agency:
            return
        raise ModelRefused(
            f"a model is registered by its own agency ({card.agency}): its stewards or "
            "secretariat officers"
        )

    def check(self, principal: Principal, card: ModelCard) -> None:
        """ModelError unless the agency, sector and project exist and every dataset it was
        trained on is live, readable by the agency, and has the snapshot in its history."""
        if self.registry.agency(card.agency) is None:
            raise ModelError(f"unknown agency {card.agency!r}; agencies are in sectors.yaml")
        sector = self.registry.sector(card.sector)
        if sector is None:
            known = ", ".join(s.id for s in self.registry.sectors)
            raise ModelError(f"unknown sector {card.sector!r}; one of {known}")
        if card.agency not in sector.members:
            raise ModelError(f"{card.agency} is not a member of the sector {card.sector}")
        if card.project_id is not None:
            try:
                project = self.projects.get(card.project_id)
            except UnknownProject:
                raise ModelError(f"no project {card.project_id!r} in the ledger") from None
            if card.agency not in project.spec.agencies:
                raise ModelError(
                    f"{card.agency} is not a member of project {card.project_id!r} "
                    f"(its agencies: {', '.join(project.spec.agencies)})"
                )
        contracts = self.contracts()
        for used in card.trained_on:
            contract = contracts.get(used.dataset)
            readable = contract is not None and may_read(
                principal,
                contract,
                self.registry,
                self.grants.active(principal.agency, contract.id),
            )
            if contract is None or not readable:
                # One answer for unknown and unreadable: the card must not confirm what exists.
                raise ModelError(
                    f"trained on {used.dataset!r}: no dataset of that id that {principal.agency} "
                    "may read"
                )
            if used.snapshot_id not in self.published(contract):
                raise ModelError(
                    f"trained on {used.dataset!r}: snapshot {used.snapshot_id} is not in the "
                    f"published history of {contract.table}"
                )

    def published(self, contract: Contract) -> list[int]:
        """The snapshot ids of the dataset's `main` history, newest first (none unpublished)."""
        # Here, not at the top: listing models needs no Iceberg.
        from pyiceberg.exceptions import NoSuchTableError

        from catalog.lakehouse import main_history

        try:
            table = self.lakehouse().catalog.load_table(contract.table)
        except NoSuchTableError:
            return []
        return main_history(table)

    def _tables(self, card: ModelCard) -> dict[str, int]:
        """`trained_on` as the table stores it: Iceberg identifier → snapshot id."""
        contracts = self.contracts()
        return {contracts[t.dataset].table: t.snapshot_id for t in card.trained_on}

    def _owner_and_newest(self, model_id: str) -> tuple[str | None, int]:
        query = select(models_table.c.agency, func.max(models_table.c.version)).where(
            models_table.c.model_id == model_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query.group_by(models_table.c.agency)).first()
        return (row[0], int(row[1])) if row else (None, 0)

    # Reading.

    def versions(self, model_id: str) -> list[ModelVersion]:
        """Every version of a model, oldest first (no access check: callers check)."""
        query = (
            select(models_table)
            .where(models_table.c.model_id == model_id)
            .order_by(models_table.c.version)
        )
        with self.engine.connect() as conn:
            return [self._version(r._mapping) for r in conn.execute(query)]

    def newest(self) -> list[ModelVersion]:
        """The newest version of every model, by id (no access check)."""
        newest = (
            select(models_table.c.model_id, func.max(models_table.c.version).label("v"))
            .group_by(models_table.c.model_id)
            .subquery()
        )
        query = (
            select(models_table)
            .join(
                newest,
                (models_table.c.model_id == newest.c.model_id)
                & (models_table.c.version == newest.c.v),
            )
            .order_by(models_table.c.model_id)
        )
        with self.engine.connect() as conn:
            return [self._version(r._mapping) for r in conn.execute(query)]

    def hidden(self, principal: Principal, card: ModelCard) -> list[str]:
        """The datasets of `trained_on` whose catalog entries the caller may not see (another
        agency's private ones): a model's card must not name them."""
        contracts = self.contracts()
        return [
            t.dataset
            for t in card.trained_on
            if (c := contracts.get(t.dataset)) is not None
            and not may_see(principal, c, self.registry)
        ]

    def shown(self, principal: Principal, version: ModelVersion) -> ModelVersion:
        """The version as the caller may see it: without the datasets it may not know of."""
        hidden = set(self.hidden(principal, version.card))
        if not hidden:
            return version
        kept = [t for t in version.card.trained_on if t.dataset not in hidden]
        card = version.card.model_copy(update={"trained_on": kept})
        return version.model_copy(update={"card": card})

    def list(
        self,
        principal: Principal,
        *,
        agency: str | None = None,
        sector: str | None = None,
        task: Task | None = None,
    ) -> list[ModelVersion]:
        """The newest version of each model the caller may see, optionally narrowed."""
        return [
            self.shown(principal, m)
            for m in self.newest()
            if may_know(principal, m.card, self.registry)
            and (agency is None or m.card.agency == agency)
            and (sector is None or m.card.sector == sector)
            and (task is None or m.card.task == task)
        ]

    def may_download(self, principal: Principal, card: ModelCard) -> bool:
        """True when the caller may download the model's artifacts (its newest card's terms)."""
        held = (
            []
            if principal.role == Role.operator
            else self.grants.active(principal.agency, grant_id_of(card.id))
        )
        return may_read(principal, card, self.registry, held)

    def entry(self, principal: Principal, model_id: str) -> ModelEntry:
        """The model as the caller sees it; UnknownModel when it is absent or hidden."""
        versions = self.versions(model_id)
        if not versions or not may_know(principal, versions[-1].card, self.registry):
            raise UnknownModel(f"no model {model_id!r}")
        card = versions[-1].card
        shown = [self.shown(principal, v) for v in versions]
        return ModelEntry(
            model_id=model_id,
            card=shown[-1].card,
            versions=shown,
            lineage=self.lineage(shown[-1].card),
            hidden_lineage=len(self.hidden(principal, card)),
            project=self._project(card.project_id),
            may_download=self.may_download(principal, card),
        )

    def lineage(self, card: ModelCard) -> list[Lineage]:
        """The datasets a card was trained on with their titles and agencies (while a contract
        still has the id); pass a card `shown` to the caller."""
        contracts = self.contracts()
        found = []
        for used in card.trained_on:
            c = contracts.get(used.dataset)
            found.append(
                Lineage(
                    dataset=used.dataset,
                    snapshot_id=used.snapshot_id,
                    table=c.table if c else None,
                    title=c.title if c else None,
                    title_en=c.english.title if c else None,
                    agency=c.agency if c else None,
                    sector=c.sector if c else None,
                )
            )
        return found

    def _project(self, project_id: str | None) -> ProjectLink | None:
        if project_id is None:
            return None
        try:
            spec = self.projects.get(project_id).spec
        except UnknownProject:
            return None
        return ProjectLink(id=spec.id, title=spec.title, title_en=spec.title_en)

    def downloadable(self, principal: Principal, model_id: str, version: int) -> ModelVersion:
        """A version the caller may download; UnknownModel (one answer) when the model or
        version is absent, hidden, or not open to the caller."""
        versions = self.versions(model_id)
        found = next((v for v in versions if v.version == version), None)
        if found is None or not self.may_download(principal, versions[-1].card):
            raise UnknownModel(f"no model {model_id!r} version {version}")
        return found

    @contextmanager
    def artifact(self, version: ModelVersion) -> Iterator[Path]:
        """The version's stored file as a local path (a temporary copy from a bucket)."""
        with self.storage.local(version.artifact.key) as path:
            yield path

    def fetch(
        self, principal: Principal, model_id: str, version: int, target: Path
    ) -> ModelVersion:
        """Copy a version's artifact to `target` for the caller (a program's download, not the
        HTTP one), its hash checked; audited as a `download` either way. UnknownModel when the
        caller may not download it."""
        asked = f"fetch model {model_id} version {version} to a file"
        named = [grant_id_of(model_id)] if self.versions(model_id) else []
        try:
            found = self.downloadable(principal, model_id, version)
        except UnknownModel as exc:
            self.audit.append(
                principal,
                AuditKind.download,
                asked,
                datasets=named,
                outcome=Outcome.denied,
                error=str(exc),
            )
            raise
        digest = hashlib.sha256()
        with self.artifact(found) as path, path.open("rb") as src, target.open("wb") as dst:
            while block := src.read(CHUNK):
                digest.update(block)
                dst.write(block)
        if digest.hexdigest() != found.artifact.sha256:
            target.unlink()
            raise ModelError(f"{found.artifact.key} does not match its recorded SHA-256")
        self.audit.append(
            principal,
            AuditKind.download,
            asked,
            datasets=named,
            bytes_out=found.artifact.size_bytes,
        )
        return found

    def trained_on(self, principal: Principal, dataset_id: str) -> list[ModelVersion]:
        """The newest version of every model the caller may see that was trained on the
        dataset (any snapshot)."""
        found = self.list(principal)
        return [m for m in found if any(t.dataset == dataset_id for t in m.card.trained_on)]

    # Grants.

    def grant(
        self, principal: Principal, model_id: str, agency: str, purpose: str, until: date
    ) -> Grant:
        """Open a model to another agency for a purpose until a day (inclusive, KST): a row of
        the grants table on `model:<id>`, recorded on the audit chain."""
        versions = self.versions(model_id)
        if not versions or not may_know(principal, versions[-1].card, self.registry):
            raise UnknownModel(f"no model {model_id!r}")
        card = versions[-1].card
        if principal.role != Role.steward or principal.agency != card.agency:
            raise ModelRefused(f"a model is granted by a steward of its agency ({card.agency})")
        if self.registry.agency(agency) is None:
            raise ModelError(f"unknown agency {agency!r}; agencies are in sectors.yaml")
        if agency == card.agency:
            raise ModelError("the owning agency needs no grant")
        if card.access in (AccessLevel.public, AccessLevel.private):
            raise ModelError(
                f"a {card.access} model takes no grants: public ones are open to every agency, "
                "private ones to their own; register a version at `restricted` or `sector`"
            )
        if not purpose.strip():
            raise ModelError("a grant needs a purpose: say what the model will be used for")
        today = korean_today()
        if until < today:
            raise ModelError(f"the end {until} is in the past (today in Korea is {today})")
        row: dict[str, Any] = {
            "grant_id": secrets.token_hex(8),
            "dataset_id": grant_id_of(model_id),
            "agency": agency,
            "purpose": purpose.strip(),
            "expires": until,
            "columns": None,
            "row_filter": None,
            "created_at": datetime.now(UTC),
            "created_by": principal.subject,
            "revoked_at": None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(grants_table).values(**row))
        made = Grant.model_validate(row)
        self.audit.append(
            principal,
            AuditKind.access,
            f"grant model {model_id} to {agency} until {until} ({made.grant_id}): {made.purpose}",
            datasets=[grant_id_of(model_id)],
        )
        return made

    def terms(self, grant_id: str) -> ModelTerms | None:
        """The current terms of the model a `model:<id>` names (None for any other id)."""
        if not grant_id.startswith(GRANT_PREFIX):
            return None
        versions = self.versions(grant_id.removeprefix(GRANT_PREFIX))
        return ModelTerms.of(versions[-1].card) if versions else None

    def all_terms(self) -> dict[str, ModelTerms]:
        """Every model's terms by `model:<id>` (for the joint-use board, beside contracts)."""
        return {grant_id_of(m.model_id): ModelTerms.of(m.card) for m in self.newest()}

    def requestable(self, principal: Principal, model_id: str) -> ModelTerms:
        """The terms the caller's agency requests the model under; UnknownModel when it is
        hidden, ModelConflict when the agency may already download it (its own, public, its
        sector's, or granted)."""
        versions = self.versions(model_id)
        if not versions or not may_know(principal, versions[-1].card, self.registry):
            raise UnknownModel(f"no model {model_id!r}")
        card = versions[-1].card
        if principal.role != Role.operator and self.may_download(principal, card):
            raise ModelConflict(
                f"{principal.agency} may already download model {model_id} ({card.access} "
                "access): nothing to ask"
            )
        return ModelTerms.of(card)

    def grants_of(self, model_id: str) -> list[Grant]:
        """The model's active grants."""
        return self.grants.list(dataset_id=grant_id_of(model_id))

    @staticmethod
    def _version(row: Mapping[str, Any]) -> ModelVersion:
        key = row["artifact_key"]
        return ModelVersion(
            model_id=row["model_id"],
            version=row["version"],
            card=ModelCard.model_validate(row["card"]),
            artifact=Artifact(
                key=key,
                filename=key.rsplit("/", 1)[-1],
                sha256=row["sha256"],
                size_bytes=row["size_bytes"],
            ),
            created_by=row["created_by"],
            created_at=row["created_at"],
        )


class HasModels(Protocol):
    """Anything with a model registry (the platform)."""

    @property
    def models(self) -> ModelRegistry:
        """The shared models."""
        ...


def models_trained_on(
    platform: HasModels, dataset_id: str, principal: Principal
) -> list[ModelVersion]:
    """The models the caller may see that were trained on a dataset: for its catalog page."""
    return platform.models.trained_on(principal, dataset_id)
