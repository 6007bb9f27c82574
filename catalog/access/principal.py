"""Who is calling: the authenticated principal every request carries into policy and audit."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """What a caller does on the platform; data entitlements come from the agency."""

    steward = "steward"  # publishes the agency's datasets, sees who reads them
    secretariat = "secretariat"  # curates a sector's catalog
    analyst = "analyst"  # queries what the agency may read
    operator = "operator"  # runs the platform: audit export, no data beyond public


class Principal(BaseModel):
    """An authenticated caller: a key or token subject acting for one agency in one role."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(description="API key id or the token's `sub`.")
    agency: str = Field(description="Agency id from sectors.yaml.")
    role: Role
    via: Literal["api_key", "token"]
    purpose: str | None = Field(None, description="Declared purpose (X-Gongyu-Purpose header).")
