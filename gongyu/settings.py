"""Every Gongyu setting, declared once: name, default and help (environment prefix `GONGYU_`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import contracts
import sectors


class Settings(BaseSettings):
    """Gongyu's configuration; read from `GONGYU_*` environment variables or passed in."""

    model_config = SettingsConfigDict(env_prefix="GONGYU_", extra="ignore")

    home: Path = Field(
        Path(".gongyu"),
        description="The workspace folder: landing zones, warehouse, catalog and Dagster instance.",
    )
    contracts_dir: Path = Field(
        Path(contracts.__file__).parent,
        description="Root of the contract files (`<sector>/<agency>/<dataset>.yaml`).",
    )
    sectors_file: Path = Field(
        Path(sectors.__file__).with_name("sectors.yaml"),
        description="The sectors, secretariats and member agencies.",
    )
    max_delivery_bytes: int = Field(
        2 * 1024**3, description="Largest delivery file accepted, in bytes."
    )
    sample_rows: int = Field(
        10, ge=1, le=10, description="Sample rows kept per failing rule in quarantine reports."
    )
    pseudonym_key_file: Path | None = Field(
        None,
        description="Key file of the pseudonym keyring (JSON, mode 0600), kept outside the "
        "lakehouse; default `<home>/keys/pseudonyms.json`, created on first use.",
    )


@cache
def get_settings() -> Settings:
    """The process's settings from the environment (cached; tests build their own)."""
    return Settings()
