"""The facade every adapter uses (CLI, Dagster, HTTP): one object per workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gongyu.ground.settings import Settings
from gongyu.ground.workspace import Workspace

# The parts load when first used: a light command (`gongyu keys list`) must not pay for the
# lakehouse (pyiceberg, pyarrow) or the gate it never touches.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from catalog.access.audit import AuditLog
    from catalog.access.challenges import Challenges
    from catalog.access.grants import Grants
    from catalog.access.keys import ApiKeys
    from catalog.access.notices import Notices
    from catalog.access.requests import AccessRequests
    from catalog.contract_reviews import ContractReviews
    from catalog.contract_versions import ContractVersions
    from catalog.deliveries import Deliveries, Delivery
    from catalog.freshness import Freshness
    from catalog.lakehouse import Lakehouse
    from catalog.ledger.models import ModelRegistry
    from catalog.ledger.projects import ProjectLedger
    from catalog.people.people import People
    from contracts.live import LiveContracts
    from contracts.model import Contract
    from gongyu.ground.storage import Storage, Store
    from quality.privacy.pseudonyms import Keyring
    from sectors.registry import Registry


# Whether this request has read the contracts at its start (`contracts_read_for_request`).
_READ_FOR_REQUEST: ContextVar[bool] = ContextVar("contracts_read_for_request", default=False)


class UnknownDataset(KeyError):
    """No contract has this dataset id."""

    def __str__(self) -> str:
        return str(self.args[0])


class _Approved:
    """The catalog's approved contracts once a catalog exists: listing contracts must not create
    a workspace, and a workspace that does not exist holds no approvals."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.ready = False

    def _ready(self) -> bool:
        if not self.ready:
            settings = self.platform.settings
            self.ready = bool(settings.database_url) or (
                Workspace.from_settings(settings).catalog_db.exists()
            )
        return self.ready

    def changed(self) -> bool:
        return self._ready() and self.platform.contract_reviews.changed()

    def contracts(self) -> list[Contract]:
        return self.platform.contract_reviews.contracts() if self._ready() else []


class Platform:
    """Settings, contracts, landing zone, delivery ledger and lakehouse of one workspace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def workspace(self) -> Workspace:
        """The workspace's folders, created on first use (listing contracts needs none)."""
        return Workspace.from_settings(self.settings).create()

    @cached_property
    def registry(self) -> Registry:
        """Sectors and agencies."""
        from sectors.registry import load_registry

        return load_registry(self.settings.sectors_file)

    @cached_property
    def _live_contracts(self) -> LiveContracts:
        from contracts.live import LiveContracts

        return LiveContracts(self.settings.contracts_dir, self.registry, _Approved(self))

    @cached_property
    def contract_reviews(self) -> ContractReviews:
        """Contracts submitted through the product and their review (approved ones are live)."""
        from catalog.contract_reviews import ContractReviews

        return ContractReviews(
            self.engine,
            self.registry,
            lambda: self.contracts,
            lambda agency, dataset_id: self.grants.active(agency, dataset_id),
        )

    @property
    def contracts(self) -> dict[str, Contract]:
        """Every contract, by dataset id, as last read (`reload_contracts` re-reads changes)."""
        return self._live_contracts.current

    def reload_contracts(self) -> int:
        """Re-read the contract files that changed and the approvals since (a server calls this
        before each request); returns the contracts' version, which grows with every change."""
        return self._live_contracts.refresh()

    @contextmanager
    def contracts_read_for_request(self) -> Iterator[None]:
        """Re-read changed contracts once, at a request's start: `contracts_version` within the
        block (on any thread it hands work to) needs no file read again."""
        self.reload_contracts()
        token = _READ_FOR_REQUEST.set(True)
        try:
            yield
        finally:
            _READ_FOR_REQUEST.reset(token)

    def contracts_version(self) -> int:
        """The contracts' version: as read at this request's start, else re-read now."""
        if _READ_FOR_REQUEST.get():
            return self._live_contracts.version
        return self.reload_contracts()

    @cached_property
    def store(self) -> Store:
        """Where zones and the warehouse live: the workspace folder or a bucket (settings)."""
        from gongyu.ground.stores import open_store

        return open_store(self.settings, self.workspace)

    @cached_property
    def landing(self) -> Storage:
        """The landing zone (raw deliveries)."""
        return self.store.zone("landing")

    @cached_property
    def results(self) -> Storage:
        """Gate results per delivery (GX JSON, quarantine reports)."""
        return self.store.zone("results")

    @cached_property
    def engine(self) -> Engine:
        """The catalog database (`GONGYU_DATABASE_URL`), migrated; one pool for every ledger."""
        from catalog.db import connect

        return connect(self.workspace.catalog_url)

    @cached_property
    def deliveries(self) -> Deliveries:
        """The delivery ledger."""
        from catalog.deliveries import Deliveries

        return Deliveries(
            self.engine,
            self.landing,
            self.settings.max_delivery_bytes,
            self.settings.delivery_lease_seconds,
        )

    @cached_property
    def lakehouse(self) -> Lakehouse:
        """The Iceberg lakehouse."""
        from catalog.lakehouse import Lakehouse, sql_catalog

        store = self.store
        catalog = sql_catalog(self.workspace.catalog_url, store.warehouse, store.iceberg_properties)
        return Lakehouse(catalog)

    @cached_property
    def contract_versions(self) -> ContractVersions:
        """Every contract version deliveries ran under, and the check that admits a new one."""
        from catalog.contract_versions import ContractVersions

        return ContractVersions(self.engine, self.registry)

    @cached_property
    def keys(self) -> ApiKeys:
        """API keys (stored as digests) and the principals they stand for."""
        from catalog.access.keys import ApiKeys

        return ApiKeys(self.engine, self.registry)

    @cached_property
    def challenges(self) -> Challenges:
        """Sign-in steps in flight (shared by every worker)."""
        from catalog.access.challenges import Challenges

        return Challenges(self.engine)

    @cached_property
    def people(self) -> People:
        """People and service accounts, their roles and sign-in factors."""
        from catalog.people.people import People

        return People(
            self.engine,
            self.registry,
            lockout_failures=self.settings.signin_lockout_failures,
            lockout_minutes=self.settings.signin_lockout_minutes,
        )

    @cached_property
    def grants(self) -> Grants:
        """Datasets granted to other agencies, with purpose and expiry."""
        from catalog.access.grants import Grants

        return Grants(self.engine, self.registry)

    @cached_property
    def notices(self) -> Notices:
        """Notices about requests and grants, e-mailed when an SMTP server is set."""
        from catalog.access.mail import Mailer
        from catalog.access.notices import Notices

        mailer = Mailer.from_settings(self.settings)
        return Notices(self.engine, self.registry, mailer, self.settings.public_url)

    @cached_property
    def requests(self) -> AccessRequests:
        """Access requests for datasets and models, routed by each contract's (or model card's)
        approval policy, granted when approved."""
        from catalog.access.requests import AccessRequests

        return AccessRequests(
            self.engine,
            self.registry,
            lambda: self.contracts,  # read at each use: contracts change while a server runs
            self.grants,
            self.audit,
            self.notices,
            lambda grant_id: self.models.terms(grant_id),  # a model asked for as `model:<id>`
        )

    @cached_property
    def projects(self) -> ProjectLedger:
        """Agencies' AI projects and their history (the AI ledger)."""
        from catalog.ledger.projects import ProjectLedger

        return ProjectLedger(self.engine, self.registry)

    @cached_property
    def models(self) -> ModelRegistry:
        """Shared models: cards, versions' artifacts in the zone `models`, lineage, grants."""
        from catalog.ledger.models import ZONE, ModelRegistry

        return ModelRegistry(
            self.engine,
            self.registry,
            self.store.zone(ZONE),
            lambda: self.contracts,  # read at each use: contracts change while a server runs
            self.grants,
            lambda: self.lakehouse,
            self.projects,
            self.audit,
            self.settings.max_delivery_bytes,
        )

    @cached_property
    def audit(self) -> AuditLog:
        """The hash-chained log of every API request."""
        from catalog.access.audit import AuditLog

        return AuditLog(self.engine)

    @property
    def key_file(self) -> Path:
        """Where the pseudonym keyring is kept (settings, else the workspace's `keys/`)."""
        return self.settings.pseudonym_key_file or self.workspace.keys / "pseudonyms.json"

    def keyring(self) -> Keyring:
        """The pseudonym keyring, read afresh (a rotation by another process takes effect);
        created with one random key on first use."""
        from quality.privacy.pseudonyms import generate_key_file, load_keyring

        path = self.key_file
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                return generate_key_file(path)
            except FileExistsError:  # another process created it first
                pass
        return load_keyring(path)

    def contract(self, dataset_id: str) -> Contract:
        """The contract of a dataset; UnknownDataset names the known ids."""
        try:
            return self.contracts[dataset_id]
        except KeyError:
            known = ", ".join(sorted(self.contracts))
            raise UnknownDataset(f"unknown dataset {dataset_id!r}; known: {known}") from None

    def freshness(self, now: datetime | None = None) -> list[Freshness]:
        """Every dataset's last publication against its contract's SLA (`catalog.freshness`)."""
        from catalog.freshness import assess_all

        return assess_all(self.contracts.values(), self.deliveries.engine, now)

    def deliver(self, dataset_id: str, file: Path) -> tuple[Delivery, bool]:
        """Land a file for a dataset; returns the delivery and whether it is new."""
        return self.deliveries.receive(self.contract(dataset_id), file)
