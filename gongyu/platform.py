"""The facade every adapter uses (CLI, Dagster, HTTP): one object per workspace."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from catalog.audit import AuditLog
from catalog.contract_versions import ContractVersions
from catalog.db import connect
from catalog.deliveries import Deliveries, Delivery, landing_prefix
from catalog.freshness import Freshness, assess_all
from catalog.grants import Grants
from catalog.keys import ApiKeys
from catalog.lakehouse import Lakehouse, sql_catalog
from contracts.live import LiveContracts
from contracts.model import Contract
from gongyu.settings import Settings
from gongyu.storage import Storage, Store, open_store
from gongyu.workspace import Workspace
from quality.privacy.pseudonyms import Keyring, generate_key_file, load_keyring
from sectors.registry import Registry, load_registry


class UnknownDataset(KeyError):
    """No contract has this dataset id."""

    def __str__(self) -> str:
        return str(self.args[0])


class Platform:
    """Settings, contracts, landing zone, delivery ledger and lakehouse of one workspace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workspace = Workspace.from_settings(settings).create()

    @cached_property
    def registry(self) -> Registry:
        """Sectors and agencies."""
        return load_registry(self.settings.sectors_file)

    @cached_property
    def _live_contracts(self) -> LiveContracts:
        return LiveContracts(self.settings.contracts_dir, self.registry)

    @property
    def contracts(self) -> dict[str, Contract]:
        """Every contract, by dataset id, as last read (`reload_contracts` re-reads changes)."""
        return self._live_contracts.current

    def reload_contracts(self) -> int:
        """Re-read the contract files that changed (a server calls this before each request);
        returns the contracts' version, which grows with every change."""
        return self._live_contracts.refresh()

    @cached_property
    def store(self) -> Store:
        """Where zones and the warehouse live: the workspace folder or a bucket (settings)."""
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
        return connect(self.workspace.catalog_url)

    @cached_property
    def deliveries(self) -> Deliveries:
        """The delivery ledger."""
        return Deliveries(
            self.engine,
            self.landing,
            self.settings.max_delivery_bytes,
            self.settings.delivery_lease_seconds,
        )

    @cached_property
    def lakehouse(self) -> Lakehouse:
        """The Iceberg lakehouse."""
        store = self.store
        catalog = sql_catalog(self.workspace.catalog_url, store.warehouse, store.iceberg_properties)
        return Lakehouse(catalog)

    @cached_property
    def contract_versions(self) -> ContractVersions:
        """Every contract version deliveries ran under, and the check that admits a new one."""
        return ContractVersions(self.engine, self.registry)

    @cached_property
    def keys(self) -> ApiKeys:
        """API keys (stored as digests) and the principals they stand for."""
        return ApiKeys(self.engine, self.registry)

    @cached_property
    def grants(self) -> Grants:
        """Datasets granted to other agencies, with purpose and expiry."""
        return Grants(self.engine, self.registry)

    @cached_property
    def audit(self) -> AuditLog:
        """The hash-chained log of every API request."""
        return AuditLog(self.engine)

    @property
    def key_file(self) -> Path:
        """Where the pseudonym keyring is kept (settings, else the workspace's `keys/`)."""
        return self.settings.pseudonym_key_file or self.workspace.keys / "pseudonyms.json"

    def keyring(self) -> Keyring:
        """The pseudonym keyring, read afresh (a rotation by another process takes effect);
        created with one random key on first use."""
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
        return assess_all(self.contracts.values(), self.deliveries.engine, now)

    def deliver(self, dataset_id: str, file: Path) -> tuple[Delivery, bool]:
        """Land a file for a dataset; returns the delivery and whether it is new."""
        return self.deliveries.receive(self.contract(dataset_id), file)

    def receive_dropped(self) -> list[Delivery]:
        """Register files dropped straight into `landing/<agency>/<dataset>/` as deliveries,
        and files in delivery folders the ledger lost (a crash between landing and recording).

        A new file moves into its delivery folder; bytes already delivered are renamed to a
        hidden `.duplicate-of-<delivery>-<name>` where they lie. Nothing is deleted.
        """
        new = []
        known: set[str] | None = None  # every recorded delivery id, read once if needed
        for contract in self.contracts.values():
            prefix = landing_prefix(contract)
            keys = self.landing.list_files(prefix)
            folders = [k for k in keys if "/" in k.removeprefix(prefix)]
            if folders and known is None:
                known = self.deliveries.known()
            # Lost ones first: bytes both lost and dropped again keep their first delivery id.
            lost = [
                k for k in folders if k.removeprefix(prefix).split("/", 1)[0] not in (known or ())
            ]
            dropped = [k for k in keys if "/" not in k.removeprefix(prefix)]
            steps = [(self.deliveries.adopt, k) for k in lost]
            steps += [(self.deliveries.receive_in_place, k) for k in dropped]
            for register, key in steps:
                delivery, is_new = register(contract, key)
                if is_new:
                    new.append(delivery)
                elif delivery.landing_key != key:  # never hide the file a delivery points at
                    self.landing.hide(key, f"duplicate-of-{delivery.delivery_id}")
        return new
