"""API keys: personal tokens of a person, or keys of an agency's service account, for one role;
shown once, stored only as a digest.

A key reads `gyk_<key id>_<secret>`. The key id is public (it names the key in listings and the
audit log); the secret is 256 random bits, of which only the SHA-256 is kept. A key may be
limited to scopes (`catalog.access.principal.Scope`) and may expire; it stops working at once
when revoked, when its owner is disabled, or when its owner no longer holds its role.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, insert, select, update

from catalog.access.principal import Principal, Role, Scope
from catalog.db import api_keys, people
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
    person_id: str | None = None
    scopes: tuple[Scope, ...] | None = None
    expires_at: datetime | None = None

    @property
    def live(self) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and (
            self.expires_at is None or _utc(self.expires_at) > datetime.now(UTC)
        )


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; keys are written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def scopes_text(scopes: Iterable[Scope] | None) -> str | None:
    """Scopes as stored: comma-separated and sorted; None (every scope) when not limited."""
    return None if scopes is None else ",".join(sorted({Scope(s).value for s in scopes}))


def parse_scopes(text: str | None) -> frozenset[Scope] | None:
    """Scopes as stored, read back."""
    if text is None:
        return None
    return frozenset(Scope(s) for s in text.split(",") if s in Scope.__members__)


def _key(stored: Mapping[str, Any]) -> ApiKey:
    values = dict(stored)
    found = parse_scopes(values.pop("scopes", None))
    return ApiKey.model_validate({**values, "scopes": None if found is None else sorted(found)})


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

    def create(
        self,
        agency: str,
        role: Role,
        name: str = "",
        *,
        person_id: str | None = None,
        scopes: Iterable[Scope] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key in the role, of the person `person_id` (who must be of the agency and hold
        the role) or, without one, of a new service account of the agency; returns it and its
        token, which is not kept."""
        require_agency(self.registry, agency)
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = {
            "key_id": key_id,
            "agency": agency,
            "role": Role(role).value,
            "name": name,
            "secret_sha256": _digest(secret),
            "created_at": now,
            "revoked_at": None,
            "person_id": person_id or f"svc-{key_id}",
            "scopes": scopes_text(scopes),
            "expires_at": expires_at,
        }
        with self.engine.begin() as conn:
            if person_id is None:
                conn.execute(
                    insert(people).values(
                        person_id=row["person_id"],
                        kind="service",
                        agency=agency,
                        name=name or f"service account {key_id}",
                        roles=row["role"],
                        failures=0,
                        created_by="keys",
                        created_at=now,
                    )
                )
            else:
                owner = conn.execute(
                    select(people.c.agency, people.c.roles).where(people.c.person_id == person_id)
                ).first()
                if owner is None or owner.agency != agency:
                    raise UnknownKey(f"no person {person_id!r} of {agency}")
                if row["role"] not in owner.roles.split(","):
                    raise ValueError(f"{person_id} does not hold the role {row['role']}")
            conn.execute(insert(api_keys).values(**row))
        return _key(row), f"{PREFIX}{key_id}_{secret}"

    def verify(self, token: str) -> Principal | None:
        """The principal a token stands for; None when it is malformed, unknown or revoked."""
        match = TOKEN.fullmatch(token)
        if not match:
            return None
        query = (
            select(api_keys, people.c.roles.label("held"), people.c.disabled_at)
            .select_from(api_keys.outerjoin(people, people.c.person_id == api_keys.c.person_id))
            .where(api_keys.c.key_id == match["key_id"])
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        # Key ids are not secret, so an early return for an unknown one reveals nothing; the
        # secret itself is compared in constant time.
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.secret_sha256, _digest(match["secret"])):
            return None
        if row.expires_at is not None and _utc(row.expires_at) <= datetime.now(UTC):
            return None
        # The owner is disabled, or no longer holds the key's role.
        if row.disabled_at is not None or row.role not in (row.held or "").split(","):
            return None
        if self.registry.agency(row.agency) is None:  # agency removed from the sectors file
            return None
        return Principal(
            subject=row.key_id,
            agency=row.agency,
            role=row.role,
            via="api_key",
            person=row.person_id,
            scopes=parse_scopes(row.scopes),
        )

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
        return _key(row._mapping)

    def list(self, person_id: str | None = None, agency: str | None = None) -> list[ApiKey]:
        """Every key (of a person, of an agency), revoked ones included, oldest first."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
        if person_id:
            query = query.where(api_keys.c.person_id == person_id)
        if agency:
            query = query.where(api_keys.c.agency == agency)
        with self.engine.connect() as conn:
            return [_key(r._mapping) for r in conn.execute(query)]
