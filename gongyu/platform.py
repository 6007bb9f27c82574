"""The facade every adapter uses (CLI, Dagster, HTTP): one object per workspace."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from catalog.db import connect
from catalog.deliveries import Deliveries, Delivery, landing_prefix
from catalog.lakehouse import Lakehouse, sql_catalog
from contracts.loader import load_contracts
from contracts.model import Contract
from gongyu.settings import Settings
from gongyu.storage import FolderStorage
from gongyu.workspace import Workspace
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
    def contracts(self) -> dict[str, Contract]:
        """Every contract, by dataset id."""
        return {c.id: c for c in load_contracts(self.settings.contracts_dir, self.registry)}

    @cached_property
    def landing(self) -> FolderStorage:
        """The landing zone (raw deliveries)."""
        return FolderStorage(self.workspace.landing)

    @cached_property
    def results(self) -> FolderStorage:
        """Gate results per delivery (GX JSON, quarantine reports)."""
        return FolderStorage(self.workspace.results)

    @cached_property
    def deliveries(self) -> Deliveries:
        """The delivery ledger."""
        engine = connect(self.workspace.catalog_url)
        return Deliveries(engine, self.landing, self.settings.max_delivery_bytes)

    @cached_property
    def lakehouse(self) -> Lakehouse:
        """The Iceberg lakehouse."""
        return Lakehouse(sql_catalog(self.workspace.catalog_url, self.workspace.warehouse))

    def contract(self, dataset_id: str) -> Contract:
        """The contract of a dataset; UnknownDataset names the known ids."""
        try:
            return self.contracts[dataset_id]
        except KeyError:
            known = ", ".join(sorted(self.contracts))
            raise UnknownDataset(f"unknown dataset {dataset_id!r}; known: {known}") from None

    def deliver(self, dataset_id: str, file: Path) -> tuple[Delivery, bool]:
        """Land a file for a dataset; returns the delivery and whether it is new."""
        return self.deliveries.receive(self.contract(dataset_id), file)

    def receive_dropped(self) -> list[Delivery]:
        """Register files dropped straight into `landing/<agency>/<dataset>/` as deliveries.

        A new file moves into its delivery folder; bytes already delivered are renamed to a
        hidden `.duplicate-of-<delivery>-<name>` where they lie. Nothing is deleted.
        """
        new = []
        for contract in self.contracts.values():
            prefix = landing_prefix(contract)
            for key in self.landing.list_files(prefix):
                if "/" in key.removeprefix(prefix):
                    continue  # inside a delivery folder: already landed
                delivery, is_new = self.deliveries.receive_in_place(contract, key)
                if is_new:
                    new.append(delivery)
                else:
                    self.landing.hide(key, f"duplicate-of-{delivery.delivery_id}")
        return new
