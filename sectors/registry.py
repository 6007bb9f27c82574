"""Load and validate `sectors.yaml`: who the agencies are and which sectors they sit in."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gongyu.ground.yamlfile import safe_load

DEFAULT_FILE = Path(__file__).with_name("sectors.yaml")
SLUG = r"^[a-z][a-z0-9_]*$"


class Agency(BaseModel):
    """A public institution that publishes or reads data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG)
    name: str
    name_en: str
    contact: str = Field(description="The agency's data steward desk (e-mail).")


class Sector(BaseModel):
    """A sector leadership group: a lakehouse namespace led by a secretariat agency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG)
    name: str
    name_en: str
    secretariat: str
    members: tuple[str, ...]


class Registry(BaseModel):
    """Every agency and sector; the single source for membership questions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agencies: tuple[Agency, ...]
    sectors: tuple[Sector, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        agency_ids = [a.id for a in self.agencies]
        dupes = {a for a in agency_ids if agency_ids.count(a) > 1}
        if dupes:
            raise ValueError(f"agencies listed twice: {', '.join(sorted(dupes))}")
        known = set(agency_ids)
        for sector in self.sectors:
            unknown = [m for m in sector.members if m not in known]
            if unknown:
                raise ValueError(f"sector {sector.id}: unknown member agencies {unknown}")
            if sector.secretariat not in sector.members:
                raise ValueError(
                    f"sector {sector.id}: secretariat {sector.secretariat!r} must be a member"
                )
        return self

    def agency(self, agency_id: str) -> Agency | None:
        """The agency with this id, or None."""
        return next((a for a in self.agencies if a.id == agency_id), None)

    def sector(self, sector_id: str) -> Sector | None:
        """The sector with this id, or None."""
        return next((s for s in self.sectors if s.id == sector_id), None)

    def sectors_of(self, agency_id: str) -> list[Sector]:
        """Every sector the agency is a member of."""
        return [s for s in self.sectors if agency_id in s.members]


def load_registry(path: Path = DEFAULT_FILE) -> Registry:
    """Read and validate a sectors file; raises ValueError naming the file on bad content."""
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
        return Registry.model_validate(data)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


@cache
def default_registry() -> Registry:
    """The registry shipped with Gongyu (cached)."""
    return load_registry(DEFAULT_FILE)
