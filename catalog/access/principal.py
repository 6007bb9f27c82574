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


class Scope(StrEnum):
    """What a token may be used for; a token without scopes may do all its role allows."""

    read = "read"  # SQL, Trino, downloads, the catalog, access requests of its own
    deliver = "deliver"  # deliveries, contracts, projects and models
    decide = "decide"  # decisions on access requests and on contracts submitted for review


class Principal(BaseModel):
    """An authenticated caller: a person, service account or token subject acting for one
    agency in one role (a person holding several acts in one at a time)."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(description="API key id or the token's `sub`.")
    agency: str = Field(description="Agency id from sectors.yaml.")
    role: Role
    via: Literal["api_key", "token", "anonymous", "product", "password", "oidc"] = Field(
        description="How the caller proved who it is; `anonymous` only for what operators open "
        "to everyone (`GONGYU_DCAT_ANONYMOUS`), recorded so the audit log names every reader; "
        "`product` for a joint product's build, reading as its agency; `password` and `oidc` "
        "for a person's web sign-in."
    )
    person: str | None = Field(
        None,
        description="The person or service account acting (its id in the people ledger), or "
        "an external token's `sub`.",
    )
    scopes: frozenset[Scope] | None = Field(
        None, description="What the credential may be used for; null: all its role allows."
    )
    purpose: str | None = Field(None, description="Declared purpose (X-Gongyu-Purpose header).")
    client: Literal["mcp"] | None = Field(
        None, description="`mcp` when calling through an AI assistant's tool (`api.mcp`)."
    )

    def allows(self, scope: Scope) -> bool:
        """Whether the credential may be used for `scope`."""
        return self.scopes is None or scope in self.scopes


def anonymous(client: str | None) -> Principal:
    """An unauthenticated caller, for the audit record of a route operators opened to all."""
    return Principal(
        subject=f"anonymous:{client or '?'}"[:256], agency="-", role=Role.analyst, via="anonymous"
    )
