"""The people ledger: persons and service accounts of each agency, their roles, and the factors
a person signs in with when there is no identity provider.

A person belongs to one agency and holds one or more roles there; a session or token acts in
one of them at a time. A service account is an agency's machine identity: it has tokens, never
a password. Stewards, secretariats and operators signing in with a password must have a second
factor (TOTP); people from an identity provider bring the provider's own.

Every factor counts failures against the person: after `lockout_failures` in a row the person
is locked for `lockout_minutes` and every factor is refused, the right one included.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, and_, delete, insert, or_, select, update

from catalog.access.keys import require_agency
from catalog.access.principal import Principal, Role
from catalog.db import people, recovery_codes
from catalog.people import passwords, totp
from sectors.registry import Registry

# Roles whose password sign-in needs a second factor: they publish, decide and run.
MFA_ROLES = frozenset({Role.steward, Role.secretariat, Role.operator})
LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{1,127}")
MAX_NAME_CHARS = 256


class UnknownPerson(ValueError):
    """No person or service account has this id."""


class PersonConflict(ValueError):
    """The login (or identity-provider account) is taken, or the change does not fit."""


class SignIn(StrEnum):
    """How one factor's check ended."""

    ok = "ok"
    invalid = "invalid"  # wrong, unknown, or disabled: the caller learns nothing more
    locked = "locked"  # too many failures: refused until the lock ends


class Person(BaseModel):
    """A person or service account as listed: never a password hash or a TOTP secret."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    kind: Literal["person", "service"]
    agency: str
    name: str
    email: str | None = None
    login: str | None = None
    roles: tuple[Role, ...] = Field(min_length=1)
    has_password: bool = False
    mfa_enrolled: bool = False
    oidc_issuer: str | None = None
    oidc_subject: str | None = None
    disabled_at: datetime | None = None
    locked_until: datetime | None = None
    created_by: str
    created_at: datetime

    @property
    def active(self) -> bool:
        """Whether the person may sign in and their tokens work."""
        return self.disabled_at is None

    @property
    def mfa_required(self) -> bool:
        """Whether password sign-in needs a second factor (identity providers bring theirs)."""
        return (
            self.kind == "person" and self.oidc_issuer is None and bool(MFA_ROLES & set(self.roles))
        )

    def principal(self, role: Role, via: str, subject: str | None = None) -> Principal:
        """This person acting in `role` (one they hold)."""
        if role not in self.roles:
            raise PersonConflict(f"{self.person_id} does not hold the role {role.value}")
        return Principal(
            subject=subject or self.person_id,
            agency=self.agency,
            role=role,
            via=via,  # type: ignore[arg-type]
            person=self.person_id,
        )


def roles_text(roles: tuple[Role, ...] | list[Role]) -> str:
    """Roles as stored: comma-separated, in the order given, each once."""
    unique = list(dict.fromkeys(Role(r) for r in roles))
    if not unique:
        raise PersonConflict("a person holds at least one role")
    return ",".join(r.value for r in unique)


def parse_roles(text: str | None) -> tuple[Role, ...]:
    """Roles as stored, read back (unknown ones dropped: a role may be retired)."""
    return tuple(Role(r) for r in (text or "").split(",") if r in Role.__members__)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is written in UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _person(row: object) -> Person:
    r = row._mapping  # type: ignore[attr-defined]
    return Person(
        person_id=r["person_id"],
        kind=r["kind"],
        agency=r["agency"],
        name=r["name"],
        email=r["email"],
        login=r["login"],
        roles=parse_roles(r["roles"]) or (Role.analyst,),
        has_password=r["password_hash"] is not None,
        mfa_enrolled=r["totp_enrolled_at"] is not None,
        oidc_issuer=r["oidc_issuer"],
        oidc_subject=r["oidc_subject"],
        disabled_at=_utc(r["disabled_at"]),
        locked_until=_utc(r["locked_until"]),
        created_by=r["created_by"],
        created_at=_utc(r["created_at"]),
    )


def normal_login(login: str) -> str:
    """A login as stored: trimmed, lower case; PersonConflict when it is not one."""
    value = login.strip().lower()
    if not LOGIN.fullmatch(value):
        raise PersonConflict(
            "a login is 2–128 letters, digits and . _ @ - (e.g. kim.minji@koroad.or.kr)"
        )
    return value


class People:
    """People and service accounts in the catalog database."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        *,
        lockout_failures: int = 5,
        lockout_minutes: float = 15.0,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.lockout_failures = lockout_failures
        self.lockout = timedelta(minutes=lockout_minutes)

    # Who they are

    def create(
        self,
        agency: str,
        name: str,
        roles: tuple[Role, ...] | list[Role],
        *,
        kind: Literal["person", "service"] = "person",
        login: str | None = None,
        email: str | None = None,
        password: str | None = None,
        created_by: str = "cli",
    ) -> Person:
        """A new person (or service account) of the agency; PersonConflict if the login is
        taken, WeakPassword if the password is too weak."""
        require_agency(self.registry, agency)
        name = name.strip()[:MAX_NAME_CHARS]
        if not name:
            raise PersonConflict("a person has a name")
        if kind == "service" and (login or password):
            raise PersonConflict("a service account signs in with tokens only")
        stored_login = normal_login(login) if login else None
        if password is not None:
            passwords.check_strength(password, stored_login)
        prefix = "svc" if kind == "service" else "p"
        row = {
            "person_id": f"{prefix}-{secrets.token_hex(6)}",
            "kind": kind,
            "agency": agency,
            "name": name,
            "email": (email or "").strip() or None,
            "login": stored_login,
            "roles": roles_text(tuple(roles)),
            "password_hash": passwords.hash_password(password) if password else None,
            "failures": 0,
            "created_by": created_by,
            "created_at": datetime.now(UTC),
        }
        with self.engine.begin() as conn:
            if (
                stored_login
                and conn.execute(
                    select(people.c.person_id).where(people.c.login == stored_login)
                ).first()
            ):
                raise PersonConflict(f"the login {stored_login!r} is taken")
            conn.execute(insert(people).values(**row))
        return self.get(row["person_id"])

    def find(self, person_id: str) -> Person | None:
        """One person or service account; None when there is none with this id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(people).where(people.c.person_id == person_id)).first()
        return _person(row) if row else None

    def get(self, person_id: str) -> Person:
        """One person or service account; UnknownPerson when there is none with this id."""
        found = self.find(person_id)
        if found is None:
            raise UnknownPerson(f"no person {person_id!r} (see `gongyu people list`)")
        return found

    def list(self, agency: str | None = None, kind: str | None = None) -> list[Person]:
        """Everyone (of an agency, of a kind), by agency and name."""
        query = select(people).order_by(people.c.agency, people.c.name, people.c.person_id)
        if agency:
            query = query.where(people.c.agency == agency)
        if kind:
            query = query.where(people.c.kind == kind)
        with self.engine.connect() as conn:
            return [_person(r) for r in conn.execute(query)]

    def _set(self, person_id: str, **values: object) -> Person:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(people).where(people.c.person_id == person_id).values(**values)
            )
        if not done.rowcount:
            raise UnknownPerson(f"no person {person_id!r} (see `gongyu people list`)")
        return self.get(person_id)

    def disable(self, person_id: str) -> Person:
        """Disable: sign-in refused, sessions and tokens stop at once (they are checked
        against the ledger on every request)."""
        current = self.get(person_id)
        return (
            current if current.disabled_at else self._set(person_id, disabled_at=datetime.now(UTC))
        )

    def enable(self, person_id: str) -> Person:
        """Undo `disable` (and any lock)."""
        return self._set(person_id, disabled_at=None, failures=0, locked_until=None)

    def set_roles(self, person_id: str, roles: tuple[Role, ...] | list[Role]) -> Person:
        """Replace the roles held; sessions and tokens in a role no longer held stop."""
        return self._set(person_id, roles=roles_text(tuple(roles)))

    def set_password(self, person_id: str, password: str) -> Person:
        """Set a person's password (WeakPassword if too weak)."""
        person = self.get(person_id)
        if person.kind != "person":
            raise PersonConflict("a service account signs in with tokens only")
        passwords.check_strength(password, person.login)
        return self._set(person_id, password_hash=passwords.hash_password(password))

    def reset_mfa(self, person_id: str) -> Person:
        """Remove the second factor and its recovery codes: the person enrols anew at their
        next sign-in (an operator's act when a phone is lost)."""
        with self.engine.begin() as conn:
            conn.execute(delete(recovery_codes).where(recovery_codes.c.person_id == person_id))
        return self._set(person_id, totp_secret=None, totp_enrolled_at=None, totp_last_step=None)

    def from_oidc(
        self,
        issuer: str,
        subject: str,
        agency: str,
        roles: tuple[Role, ...] | list[Role],
        name: str,
        email: str | None = None,
    ) -> Person:
        """The person an identity provider vouches for, created at first sign-in; agency,
        roles, name and e-mail follow the provider's claims at every sign-in after."""
        require_agency(self.registry, agency)
        values = {
            "agency": agency,
            "roles": roles_text(tuple(roles)),
            "name": (name.strip() or subject)[:MAX_NAME_CHARS],
            "email": (email or "").strip() or None,
        }
        key = and_(people.c.oidc_issuer == issuer, people.c.oidc_subject == subject)
        with self.engine.begin() as conn:
            row = conn.execute(select(people.c.person_id).where(key)).first()
            if row:
                conn.execute(update(people).where(key).values(**values))
                person_id = row.person_id
            else:
                person_id = f"p-{secrets.token_hex(6)}"
                conn.execute(
                    insert(people).values(
                        person_id=person_id,
                        kind="person",
                        oidc_issuer=issuer,
                        oidc_subject=subject,
                        failures=0,
                        created_by=f"oidc:{issuer}",
                        created_at=datetime.now(UTC),
                        **values,
                    )
                )
        return self.get(person_id)

    # Factors

    def _locked(self, person: Person, now: datetime) -> bool:
        return person.locked_until is not None and person.locked_until > now

    def _failed(self, person_id: str) -> SignIn:
        """Count one failure; lock the person when it is one too many."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                update(people)
                .where(people.c.person_id == person_id)
                .values(failures=people.c.failures + 1)
            )
            count = conn.execute(
                select(people.c.failures).where(people.c.person_id == person_id)
            ).scalar_one()
            if count >= self.lockout_failures:
                conn.execute(
                    update(people)
                    .where(people.c.person_id == person_id)
                    .values(failures=0, locked_until=now + self.lockout)
                )
                return SignIn.locked
        return SignIn.invalid

    def _succeeded(self, person_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(people)
                .where(people.c.person_id == person_id)
                .values(failures=0, locked_until=None)
            )

    def check_password(self, login: str, password: str) -> tuple[SignIn, Person | None]:
        """The first factor: whether `password` is the login's, and whose; a locked or
        disabled person is refused whatever the password."""
        try:
            stored_login = normal_login(login)
        except PersonConflict:
            passwords.verify_password(None, password)
            return SignIn.invalid, None
        with self.engine.connect() as conn:
            row = conn.execute(select(people).where(people.c.login == stored_login)).first()
        if row is None:
            passwords.verify_password(None, password)
            return SignIn.invalid, None
        person = _person(row)
        if self._locked(person, datetime.now(UTC)):
            return SignIn.locked, None
        if not passwords.verify_password(row.password_hash, password) or not person.active:
            return self._failed(person.person_id), None
        return SignIn.ok, person

    def begin_totp(self, person_id: str) -> str:
        """A new TOTP secret for the person to add to an authenticator app; it counts only
        once `confirm_totp` sees a code from it. Refused while another is enrolled."""
        person = self.get(person_id)
        if person.mfa_enrolled:
            raise PersonConflict("a second factor is enrolled: an operator resets it first")
        secret = totp.new_secret()
        self._set(person_id, totp_secret=secret, totp_last_step=None)
        return secret

    def _totp_secret(self, person_id: str) -> tuple[str | None, int | None]:
        query = select(people.c.totp_secret, people.c.totp_last_step).where(
            people.c.person_id == person_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row.totp_secret, row.totp_last_step) if row else (None, None)

    def _take_step(self, person_id: str, step: int) -> bool:
        """Record `step` as used, unless it (or a later one) was: one code, one use, even when
        two sign-ins race with it."""
        last = people.c.totp_last_step
        with self.engine.begin() as conn:
            done = conn.execute(
                update(people)
                .where(people.c.person_id == person_id)
                .where(or_(last.is_(None), last < step))
                .values(totp_last_step=step)
            )
        return bool(done.rowcount)

    def confirm_totp(self, person_id: str, code: str) -> list[str] | None:
        """Finish enrolment with a code from the new secret: returns the recovery codes (shown
        once), or None when the code is wrong (counted as a failure)."""
        person = self.get(person_id)
        if person.mfa_enrolled or self._locked(person, datetime.now(UTC)):
            return None
        secret, _ = self._totp_secret(person_id)
        step = totp.matching_step(secret, code) if secret else None
        if step is None or not self._take_step(person_id, step):
            self._failed(person_id)
            return None
        codes = totp.new_recovery_codes()
        with self.engine.begin() as conn:
            conn.execute(delete(recovery_codes).where(recovery_codes.c.person_id == person_id))
            conn.execute(
                insert(recovery_codes),
                [{"code_sha256": totp.recovery_digest(c), "person_id": person_id} for c in codes],
            )
            conn.execute(
                update(people)
                .where(people.c.person_id == person_id)
                .values(totp_enrolled_at=datetime.now(UTC), failures=0, locked_until=None)
            )
        return codes

    def verify_totp(self, person_id: str, code: str) -> SignIn:
        """The second factor: a code of the enrolled secret not used before."""
        person = self.get(person_id)
        if self._locked(person, datetime.now(UTC)):
            return SignIn.locked
        secret, _ = self._totp_secret(person_id)
        if not (person.active and person.mfa_enrolled and secret):
            return self._failed(person_id)
        step = totp.matching_step(secret, code)
        if step is None or not self._take_step(person_id, step):
            return self._failed(person_id)
        self._succeeded(person_id)
        return SignIn.ok

    def use_recovery_code(self, person_id: str, code: str) -> SignIn:
        """The second factor by a recovery code, which works once."""
        person = self.get(person_id)
        if self._locked(person, datetime.now(UTC)):
            return SignIn.locked
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(recovery_codes)
                .where(recovery_codes.c.person_id == person_id)
                .where(recovery_codes.c.code_sha256 == totp.recovery_digest(code))
                .where(recovery_codes.c.used_at.is_(None))
                .values(used_at=now)
            )
        if not (done.rowcount and person.active):
            return self._failed(person_id)
        self._succeeded(person_id)
        return SignIn.ok

    def recovery_codes_left(self, person_id: str) -> int:
        """How many of the person's recovery codes are unused."""
        query = select(recovery_codes.c.code_sha256).where(
            (recovery_codes.c.person_id == person_id) & recovery_codes.c.used_at.is_(None)
        )
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())
