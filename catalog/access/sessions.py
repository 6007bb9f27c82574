"""Web sessions: a signed-in browser's principal, kept server-side until it expires or signs out.

The browser holds a random session id (256 bits) in a cookie; the catalog keeps only its
SHA-256, so a copy of the database opens no session. Each session carries its own random CSRF
token (the synchronizer token its forms and the console send back). A session made from an API
key ends when the key is revoked; one made from a bearer token ends when the token expires.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_, delete, insert, select

from catalog.access.principal import Principal
from catalog.db import api_keys, sessions
from sectors.registry import Registry

# `secrets.token_urlsafe(32)`: 43 characters of base64url.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


class Session(BaseModel):
    """A live session: who it stands for, its CSRF token and when it ends."""

    model_config = ConfigDict(frozen=True)

    principal: Principal
    csrf_token: str
    expires_at: datetime


def _digest(session_id: str) -> str:
    # 256 random bits need no slow KDF: the digest only keeps the id itself out of the database.
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; sessions are written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Sessions:
    """The web sessions in the catalog database."""

    def __init__(self, engine: Engine, registry: Registry, lifetime: timedelta) -> None:
        self.engine = engine
        self.registry = registry
        self.lifetime = lifetime

    def create(
        self, principal: Principal, not_after: datetime | None = None
    ) -> tuple[str, Session]:
        """A new session for the principal, ending after the lifetime or at `not_after` if
        sooner; returns its id (for the cookie, not kept) and the session."""
        now = datetime.now(UTC)
        expires_at = now + self.lifetime
        if not_after is not None:
            expires_at = min(expires_at, _utc(not_after).astimezone(UTC))
        session_id, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            # Expired sessions go as new ones come: no job is needed to keep the table small.
            conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                insert(sessions).values(
                    session_sha256=_digest(session_id),
                    subject=principal.subject,
                    via=principal.via,
                    agency=principal.agency,
                    role=principal.role.value,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        session = Session(
            principal=principal.model_copy(update={"purpose": None}),
            csrf_token=csrf_token,
            expires_at=expires_at,
        )
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id; None when unknown, expired, or its key was revoked."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        key = and_(sessions.c.via == "api_key", api_keys.c.key_id == sessions.c.subject)
        query = (
            select(sessions, api_keys.c.revoked_at)
            .select_from(sessions.outerjoin(api_keys, key))
            .where(sessions.c.session_sha256 == _digest(session_id))
            .where(sessions.c.expires_at > datetime.now(UTC))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None:
            return None
        if self.registry.agency(row.agency) is None:  # agency removed from the sectors file
            return None
        principal = Principal(subject=row.subject, agency=row.agency, role=row.role, via=row.via)
        return Session(
            principal=principal, csrf_token=row.csrf_token, expires_at=_utc(row.expires_at)
        )

    def delete(self, session_id: str) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        if SESSION_ID.fullmatch(session_id):
            with self.engine.begin() as conn:
                conn.execute(
                    delete(sessions).where(sessions.c.session_sha256 == _digest(session_id))
                )
