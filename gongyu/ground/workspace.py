"""A workspace: the folder that holds the zones, the catalog database and Dagster's instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gongyu.ground.settings import Settings


@dataclass(frozen=True)
class Workspace:
    """Paths of one Gongyu workspace; `create()` makes the folders."""

    root: Path
    database_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Workspace:
        """The workspace the settings point at."""
        return cls(settings.home.expanduser().resolve(), settings.database_url)

    @property
    def landing(self) -> Path:
        """Raw deliveries: `landing/<agency>/<dataset>/<delivery>/`; never deleted."""
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        """Iceberg table data and metadata."""
        return self.root / "warehouse"

    @property
    def results(self) -> Path:
        """Per-delivery gate results: GX validation JSON and quarantine reports."""
        return self.root / "results"

    @property
    def staging(self) -> Path:
        """Derived working data of deliveries in progress (`staging/<delivery>/`): the typed
        delivery spilled by the gate; removed once the delivery is published or quarantined."""
        return self.root / "staging"

    @property
    def catalog_db(self) -> Path:
        """The embedded default's SQLite file (unused when `database_url` is set)."""
        return self.root / "catalog.db"

    @property
    def catalog_url(self) -> str:
        """SQLAlchemy URL of the catalog database: Iceberg SQL catalog and platform tables."""
        return self.database_url or f"sqlite:///{self.catalog_db}"

    @property
    def keys(self) -> Path:
        """Secrets of this workspace (the default pseudonym key file); mode 0700."""
        return self.root / "keys"

    @property
    def dagster_home(self) -> Path:
        """DAGSTER_HOME: the instance's run, event and schedule storage."""
        return self.root / "dagster"

    def create(self) -> Workspace:
        """Make the workspace folders (idempotent) and return self."""
        for path in (self.landing, self.warehouse, self.results, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
        return self
