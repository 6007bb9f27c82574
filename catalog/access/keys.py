"""API keys: created for an agency and a role, shown once, stored only as a digest.

A key reads `gyk_<key id>_<secret>`. The key id is public (it names the key in listings and the
audit log); the secret is 256 random bits, of which only the SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine, insert, select, update

from catalog.access.principal import Principal, Role
from catalog.db import api_keys
from sectors.registry import Registry

PREFIX = "gyk_"
# 16 hex digits of id, then `secrets.token_urlsafe(32)`: 43 characters of base64url.
TOKEN = re.compile(r"gyk_(?P<key_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})")


class UnknownKey(ValueError):
    """No API key has this id."""


class UnknownAgency(ValueError):
    """The agency is not in the sectors file."""


class ApiKey(BaseModel):
    """An API key as listed: never its secret."""

    key_id: str
    agency: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


def _digest(secret: str) -> str:
    # A plain SHA-256 is enough: the secret is 256 random bits, not a password, so there is
    # nothing for a slow KDF to protect against guessing.
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def require_agency(registry: Registry, agency: str) -> None:
    """Raise UnknownAgency, naming the known ids, unless the agency is in the registry."""
    if registry.agency(agency) is None:
        known = ", ".join(sorted(a.id for a in registry.agencies))
        raise UnknownAgency(f"unknown agency {agency!r}; known: {known}")


class ApiKeys:
    """The API keys in the catalog database."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine = engine
        self.registry = registry

    def create(self, agency: str, role: Role, name: str = "") -> tuple[ApiKey, str]:
        """A new key for the agency in the role; returns it and its token, which is not kept."""
        require_agency(self.registry, agency)
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = {
            "key_id": key_id,
            "agency": agency,
            "role": Role(role).value,
            "name": name,
            "secret_sha256": _digest(secret),
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(api_keys).values(**row))
        return ApiKey.model_validate(row), f"{PREFIX}{key_id}_{secret}"

    def verify(self, token: str) -> Principal | None:
        """The principal a token stands for; None when it is malformed, unknown or revoked."""
        match = TOKEN.fullmatch(token)
        if not match:
            return None
        query = select(api_keys).where(api_keys.c.key_id == match["key_id"])
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        # Key ids are not secret, so an early return for an unknown one reveals nothing; the
        # secret itself is compared in constant time.
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_sha256, _digest(match["secret"])):
            return None
        if self.registry.agency(row.agency) is None:  # agency removed from the sectors file
            return None
        return Principal(subject=row.key_id, agency=row.agency, role=row.role, via="api_key")

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (it stops working at once); UnknownKey if there is none with this id."""
        with self.engine.begin() as conn:
            conn.execute(
                update(api_keys)
                .where((api_keys.c.key_id == key_id) & api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return self.get(key_id)

    def get(self, key_id: str) -> ApiKey:
        """One key; UnknownKey if there is none with this id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            raise UnknownKey(f"no API key {key_id!r} (see `gongyu keys list`)")
        return ApiKey.model_validate(row._mapping)

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        with self.engine.connect() as conn:
            return [ApiKey.model_validate(r._mapping) for r in conn.execute(query)]
