"""The people ledger: roles, passwords, TOTP and recovery codes, lockout, and how a person's
state reaches their tokens and sessions at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from alembic import command
from sqlalchemy import create_engine, text

from catalog.access.principal import Role
from catalog.access.sessions import Sessions
from catalog.db import connect
from catalog.migrate import alembic_config
from catalog.people.passwords import WeakPassword
from catalog.people.people import PersonConflict, SignIn
from catalog.people.totp import STEP_SECONDS
from gongyu.platform import Platform

PASSWORD = "correct horse battery"


def test_a_person_holds_roles_and_acts_in_one(platform: Platform) -> None:
    person = platform.people.create(
        "koroad", "김민지", [Role.steward, Role.analyst], login="Kim.Minji@koroad.or.kr"
    )
    assert person.login == "kim.minji@koroad.or.kr"
    assert person.roles == (Role.steward, Role.analyst)
    assert person.mfa_required and not person.mfa_enrolled
    acting = person.principal(Role.analyst, "password")
    assert (acting.person, acting.agency, acting.role) == (person.person_id, "koroad", Role.analyst)
    with pytest.raises(PersonConflict):
        person.principal(Role.operator, "password")
    with pytest.raises(PersonConflict, match="taken"):
        platform.people.create(
            "kotsa", "다른 김민지", [Role.analyst], login="kim.minji@koroad.or.kr"
        )
    with pytest.raises(WeakPassword):
        platform.people.create("kotsa", "이", [Role.analyst], login="lee", password="short")
    with pytest.raises(ValueError, match="unknown agency"):
        platform.people.create("nowhere", "박", [Role.analyst])
    assert not platform.people.create("kotsa", "분석", [Role.analyst]).mfa_required


def test_password_lockout_refuses_even_the_right_password(platform: Platform) -> None:
    platform.people.lockout_failures = 3
    person = platform.people.create("koroad", "김", [Role.analyst], login="kim", password=PASSWORD)
    ok, found = platform.people.check_password("KIM ", PASSWORD)
    assert (ok, found.person_id if found else None) == (SignIn.ok, person.person_id)
    assert platform.people.check_password("nobody", PASSWORD) == (SignIn.invalid, None)
    assert platform.people.check_password("kim", "wrong")[0] is SignIn.invalid
    assert platform.people.check_password("kim", "wrong")[0] is SignIn.invalid
    assert platform.people.check_password("kim", "wrong")[0] is SignIn.locked
    assert platform.people.check_password("kim", PASSWORD) == (SignIn.locked, None)
    # The operator lifts it by enabling the person again.
    platform.people.enable(person.person_id)
    assert platform.people.check_password("kim", PASSWORD)[0] is SignIn.ok
    platform.people.disable(person.person_id)
    assert platform.people.check_password("kim", PASSWORD) == (SignIn.invalid, None)


def test_a_totp_code_works_once_and_recovery_codes_once_each(platform: Platform) -> None:
    person = platform.people.create("koroad", "김", [Role.steward], login="kim", password=PASSWORD)
    secret = platform.people.begin_totp(person.person_id)
    totp = pyotp.TOTP(secret)
    now = datetime.now(UTC).timestamp()
    assert platform.people.confirm_totp(person.person_id, totp.at(now - 3600)) is None
    # Enrolment uses up the step of its code: the next code comes from a later step.
    codes = platform.people.confirm_totp(person.person_id, totp.at(now - STEP_SECONDS))
    assert codes is not None and len(codes) == 10 and len(set(codes)) == 10
    assert platform.people.get(person.person_id).mfa_enrolled
    with pytest.raises(PersonConflict):
        platform.people.begin_totp(person.person_id)
    # The code of the step enrolment used (and an older one) is refused; the current one works once.
    assert (
        platform.people.verify_totp(person.person_id, totp.at(now - STEP_SECONDS)) is SignIn.invalid
    )
    current = totp.at(now)
    assert platform.people.verify_totp(person.person_id, current) is SignIn.ok
    assert platform.people.verify_totp(person.person_id, current) is SignIn.invalid
    assert platform.people.use_recovery_code(person.person_id, codes[0].lower()) is SignIn.ok
    assert platform.people.use_recovery_code(person.person_id, codes[0]) is SignIn.invalid
    assert platform.people.recovery_codes_left(person.person_id) == 9
    platform.people.reset_mfa(person.person_id)
    reset = platform.people.get(person.person_id)
    assert not reset.mfa_enrolled and platform.people.recovery_codes_left(person.person_id) == 0
    assert platform.people.use_recovery_code(person.person_id, codes[1]) is SignIn.invalid


def test_second_factor_failures_lock_the_person(platform: Platform) -> None:
    platform.people.lockout_failures = 2
    person = platform.people.create("koroad", "김", [Role.steward], login="kim", password=PASSWORD)
    secret = platform.people.begin_totp(person.person_id)
    now = datetime.now(UTC).timestamp()
    assert platform.people.confirm_totp(person.person_id, pyotp.TOTP(secret).at(now - 30))
    assert platform.people.verify_totp(person.person_id, "12345x") is SignIn.invalid
    assert platform.people.use_recovery_code(person.person_id, "AAAA-BBBB-CCCC") is SignIn.locked
    assert (
        platform.people.verify_totp(person.person_id, pyotp.TOTP(secret).at(now)) is SignIn.locked
    )
    assert platform.people.check_password("kim", PASSWORD)[0] is SignIn.locked


def test_a_persons_state_reaches_tokens_and_sessions_at_once(platform: Platform) -> None:
    person = platform.people.create("koroad", "김", [Role.steward, Role.analyst])
    _, steward_token = platform.keys.create("koroad", Role.steward, person_id=person.person_id)
    _, analyst_token = platform.keys.create("koroad", Role.analyst, person_id=person.person_id)
    sessions = platform_sessions(platform)
    session_id, _ = sessions.create(person.principal(Role.steward, "password"), roles=person.roles)
    assert platform.keys.verify(steward_token) and sessions.get(session_id)
    assert sessions.switch_role(session_id, Role.analyst)
    assert sessions.get(session_id).principal.role is Role.analyst
    assert not sessions.switch_role(session_id, Role.operator)
    # Dropping a role stops the tokens and sessions acting in it, and only those.
    platform.people.set_roles(person.person_id, [Role.steward])
    assert platform.keys.verify(analyst_token) is None
    assert sessions.get(session_id) is None
    assert platform.keys.verify(steward_token).person == person.person_id
    platform.people.disable(person.person_id)
    assert platform.keys.verify(steward_token) is None
    with pytest.raises(ValueError, match="does not hold"):
        platform.keys.create("koroad", Role.operator, person_id=person.person_id)
    with pytest.raises(ValueError):
        platform.keys.create("kotsa", Role.steward, person_id=person.person_id)


def test_an_identity_providers_person_follows_its_claims(platform: Platform) -> None:
    first = platform.people.from_oidc("https://idp.go.kr", "abc", "koroad", [Role.analyst], "김")
    again = platform.people.from_oidc(
        "https://idp.go.kr", "abc", "kotsa", [Role.steward], "김민지", "kim@kotsa.or.kr"
    )
    assert first.person_id == again.person_id
    assert (again.agency, again.roles, again.email) == ("kotsa", (Role.steward,), "kim@kotsa.or.kr")
    # The provider brings its own second factor.
    assert not again.mfa_required
    other = platform.people.from_oidc("https://other.go.kr", "abc", "koroad", [Role.analyst], "박")
    assert other.person_id != first.person_id


def test_keys_made_before_people_become_service_accounts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    with create_engine(url).begin() as conn:
        command.upgrade(alembic_config(conn), "0007")
        conn.execute(
            text(
                "INSERT INTO gongyu_api_keys (key_id, agency, role, name, secret_sha256, "
                "created_at) VALUES ('00112233aabbccdd', 'kpx', 'steward', 'loader', 'x', "
                ":at)"
            ),
            {"at": datetime.now(UTC) - timedelta(days=1)},
        )
    engine = connect(url)
    with engine.connect() as conn:
        key = conn.execute(text("SELECT person_id FROM gongyu_api_keys")).one()
        person = conn.execute(text("SELECT kind, agency, roles, name FROM gongyu_people")).one()
    assert key.person_id == "svc-00112233aabbccdd"
    assert tuple(person) == ("service", "kpx", "steward", "loader")


def platform_sessions(platform: Platform) -> Sessions:
    """The session store as the API builds it."""
    return Sessions(platform.engine, platform.registry, timedelta(hours=1))
