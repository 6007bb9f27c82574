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
    via: Literal["api_key", "token", "anonymous", "product"] = Field(
        description="How the caller proved who it is; `anonymous` only for what operators open "
        "to everyone (`GONGYU_DCAT_ANONYMOUS`), recorded so the audit log names every reader; "
        "`product` for a joint product's build, reading as its agency."
    )
    purpose: str | None = Field(None, description="Declared purpose (X-Gongyu-Purpose header).")


def anonymous(client: str | None) -> Principal:
    """An unauthenticated caller, for the audit record of a route operators opened to all."""
    return Principal(
        subject=f"anonymous:{client or '?'}"[:256], agency="-", role=Role.analyst, via="anonymous"
    )
