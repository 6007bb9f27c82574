"""Web sessions: a signed-in browser's principal, kept server-side until it expires or signs out.

The browser holds a random session id (256 bits) in a cookie; the catalog keeps only its
SHA-256, so a copy of the database opens no session. Each session carries its own random CSRF
token (the synchronizer token its forms and the console send back). A session made from an API
key ends when the key is revoked; one made from a bearer token ends when the token expires; a
person's session ends when they are disabled or no longer hold the role it acts in. A person
holding several roles acts in one at a time and may switch among them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_, delete, insert, select, update

from catalog.access.keys import parse_scopes
from catalog.access.principal import Principal, Role
from catalog.db import api_keys, people, sessions
from sectors.registry import Registry

# `secrets.token_urlsafe(32)`: 43 characters of base64url.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


class Session(BaseModel):
    """A live session: who it stands for, its CSRF token and when it ends."""

    model_config = ConfigDict(frozen=True)

    principal: Principal
    csrf_token: str
    expires_at: datetime
    roles: tuple[Role, ...] = ()
    mfa_pending: bool = False


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
        self,
        principal: Principal,
        not_after: datetime | None = None,
        *,
        roles: tuple[Role, ...] = (),
        mfa_pending: bool = False,
    ) -> tuple[str, Session]:
        """A new session for the principal, ending after the lifetime or at `not_after` if
        sooner; `roles` are those a person may switch to, `mfa_pending` that they must enrol a
        second factor first. Returns its id (for the cookie, not kept) and the session."""
        roles = roles or (principal.role,)
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
                    person_id=principal.person,
                    roles=",".join(r.value for r in roles),
                    mfa_pending=mfa_pending,
                )
            )
        session = Session(
            principal=principal.model_copy(update={"purpose": None}),
            csrf_token=csrf_token,
            expires_at=expires_at,
            roles=roles,
            mfa_pending=mfa_pending,
        )
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id; None when unknown, expired, or its key was revoked."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        key = and_(sessions.c.via == "api_key", api_keys.c.key_id == sessions.c.subject)
        query = (
            select(
                sessions,
                api_keys.c.revoked_at,
                api_keys.c.expires_at.label("key_expires_at"),
                api_keys.c.scopes,
                people.c.roles.label("held"),
                people.c.disabled_at,
            )
            .select_from(
                sessions.outerjoin(api_keys, key).outerjoin(
                    people, people.c.person_id == sessions.c.person_id
                )
            )
            .where(sessions.c.session_sha256 == _digest(session_id))
            .where(sessions.c.expires_at > datetime.now(UTC))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.key_expires_at is not None and _utc(row.key_expires_at) <= datetime.now(UTC):
            return None
        # A person of the ledger (not an external token's subject) must still be enabled and
        # hold the role the session acts in.
        ledger = row.person_id is not None and row.via != "token"
        held = (row.held or "").split(",") if ledger else [row.role]
        if ledger and (row.disabled_at is not None or row.role not in held):
            return None
        if self.registry.agency(row.agency) is None:  # agency removed from the sectors file
            return None
        principal = Principal(
            subject=row.subject,
            agency=row.agency,
            role=row.role,
            via=row.via,
            person=row.person_id,
            scopes=parse_scopes(row.scopes),
        )
        roles = tuple(Role(r) for r in (row.roles or row.role).split(",") if r in held)
        return Session(
            principal=principal,
            csrf_token=row.csrf_token,
            expires_at=_utc(row.expires_at),
            roles=roles,
            mfa_pending=bool(row.mfa_pending),
        )

    def _update(self, session_id: str, **values: object) -> bool:
        if not SESSION_ID.fullmatch(session_id):
            return False
        with self.engine.begin() as conn:
            done = conn.execute(
                update(sessions)
                .where(sessions.c.session_sha256 == _digest(session_id))
                .values(**values)
            )
        return bool(done.rowcount)

    def switch_role(self, session_id: str, role: Role) -> bool:
        """Act in another of the session's roles; False when it holds no such role."""
        session = self.get(session_id)
        if session is None or role not in session.roles or session.mfa_pending:
            return False
        return self._update(session_id, role=Role(role).value)

    def mfa_done(self, session_id: str) -> bool:
        """The person enrolled their second factor: the session is a full one now."""
        return self._update(session_id, mfa_pending=False)

    def delete(self, session_id: str) -> None:
        """End a session (sign-out); unknown ids are ignored."""
        if SESSION_ID.fullmatch(session_id):
            with self.engine.begin() as conn:
                conn.execute(
                    delete(sessions).where(sessions.c.session_sha256 == _digest(session_id))
                )
