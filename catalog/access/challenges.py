"""Sign-in steps in flight, shared by every worker: a password passed and waiting for its
second factor, an identity provider's `state` already brought back.

Only the SHA-256 of a challenge's random id is kept. A challenge lives a few minutes and is
used once: `end` and `spend` are single conditional writes, so two requests racing with the
same id (on one worker or two) cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from catalog.db import signin_challenges

MAX_ID_CHARS = 128


class Challenge(BaseModel):
    """A first factor passed: whose it was, where they go next, until when."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    next_path: str
    expires_at: datetime


def _digest(kind: str, challenge_id: str) -> str:
    return hashlib.sha256(f"{kind}:{challenge_id}".encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; challenges are written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Challenges:
    """The sign-in challenges in the catalog database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def issue(self, kind: str, person_id: str, next_path: str, seconds: float) -> str:
        """A new challenge for the person; its id, for the browser's cookie only."""
        challenge_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            # Stale ones go as new ones come: no job is needed to keep the table small.
            conn.execute(delete(signin_challenges).where(signin_challenges.c.expires_at <= now))
            conn.execute(
                insert(signin_challenges).values(
                    challenge_sha256=_digest(kind, challenge_id),
                    kind=kind,
                    person_id=person_id,
                    next_path=next_path,
                    expires_at=now + timedelta(seconds=seconds),
                )
            )
        return challenge_id

    def find(self, kind: str, challenge_id: str | None) -> Challenge | None:
        """The live, unused challenge with this id; None otherwise."""
        if not challenge_id or len(challenge_id) > MAX_ID_CHARS:
            return None
        c = signin_challenges.c
        query = (
            select(c.person_id, c.next_path, c.expires_at)
            .where(c.challenge_sha256 == _digest(kind, challenge_id))
            .where(c.used_at.is_(None))
            .where(c.expires_at > datetime.now(UTC))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Challenge(
            person_id=row.person_id, next_path=row.next_path, expires_at=_utc(row.expires_at)
        )

    def end(self, kind: str, challenge_id: str | None) -> Challenge | None:
        """Use the challenge up (passed, locked or replaced); it, when it was live and unused
        until now — None for the loser of a race."""
        found = self.find(kind, challenge_id)
        if found is None or challenge_id is None:
            return None
        c = signin_challenges.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(signin_challenges)
                .where(c.challenge_sha256 == _digest(kind, challenge_id))
                .where(c.used_at.is_(None))
                .values(used_at=datetime.now(UTC))
            )
        return found if done.rowcount else None

    def spend(self, kind: str, token: str, seconds: float) -> bool:
        """Mark a value that must be seen once (an OpenID `state`) as seen; False when it was,
        within `seconds`."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(signin_challenges).where(signin_challenges.c.expires_at <= now))
                conn.execute(
                    insert(signin_challenges).values(
                        challenge_sha256=_digest(kind, token),
                        kind=kind,
                        expires_at=now + timedelta(seconds=seconds),
                        used_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True
