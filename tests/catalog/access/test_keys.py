"""API keys: shown once, stored as a digest, verified, revoked; and `gongyu keys` as run."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from catalog.access.keys import UnknownAgency, UnknownKey
from catalog.access.principal import Principal, Role
from gongyu.platform import Platform
from tests.conftest import REPO

GONGYU = str(Path(sys.executable).with_name("gongyu"))


def gongyu(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run(
        [GONGYU, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def test_create_verify_revoke(platform: Platform) -> None:
    key, token = platform.keys.create("kotsa", Role.analyst, "traffic team")
    assert token.startswith(f"gyk_{key.key_id}_")
    # A key made without a person is its agency's service account's.
    assert key.person_id == f"svc-{key.key_id}"
    assert platform.people.get(key.person_id).kind == "service"
    assert platform.keys.verify(token) == Principal(
        subject=key.key_id, agency="kotsa", role=Role.analyst, via="api_key", person=key.person_id
    )
    revoked = platform.keys.revoke(key.key_id)
    assert revoked.revoked_at is not None
    assert platform.keys.verify(token) is None
    assert [k.key_id for k in platform.keys.list()] == [key.key_id]
    assert platform.keys.list()[0].revoked_at is not None


def test_only_a_digest_of_the_secret_is_stored(platform: Platform) -> None:
    key, token = platform.keys.create("seoul", Role.steward)
    secret = token.removeprefix(f"gyk_{key.key_id}_")
    with sqlite3.connect(platform.workspace.catalog_db) as db:
        stored = db.execute("SELECT * FROM gongyu_api_keys").fetchall()
    text = json.dumps(stored, default=str)
    assert secret not in text and token not in text
    assert hashlib.sha256(secret.encode()).hexdigest() in text


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "",
        lambda t: "gyk_",
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: t[:-1] + ("B" if t[-1] != "B" else "C"),  # wrong secret, right key id
        lambda t: "gyk_0000000000000000_" + t[-43:],  # unknown key id
        lambda t: t.upper(),
        lambda t: " " + t,
    ],
)
def test_malformed_unknown_and_wrong_tokens_are_refused(
    platform: Platform, mangle: Callable[[str], str]
) -> None:
    _, token = platform.keys.create("kotsa", Role.analyst)
    assert platform.keys.verify(token) is not None
    assert platform.keys.verify(mangle(token)) is None


def test_unknown_agency_and_key_are_errors(platform: Platform) -> None:
    with pytest.raises(UnknownAgency, match=r"unknown agency 'nowhere'; known: .*kotsa"):
        platform.keys.create("nowhere", Role.analyst)
    with pytest.raises(UnknownKey, match="no API key 'feedfacefeedface'"):
        platform.keys.revoke("feedfacefeedface")


def test_keys_cli(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    made = gongyu("keys", "create", "--agency", "koroad", "--role", "steward", "-w", ws)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("gyk_") and len(made.stdout.splitlines()) == 1
    assert "only time it is shown" in made.stderr
    listed = json.loads(gongyu("keys", "list", "--json", "-w", ws).stdout)
    assert [(k["agency"], k["role"], k["revoked_at"]) for k in listed] == [
        ("koroad", "steward", None)
    ]
    assert token not in json.dumps(listed)
    key_id = listed[0]["key_id"]
    revoked = gongyu("keys", "revoke", key_id, "-w", ws)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert json.loads(gongyu("keys", "list", "--json", "-w", ws).stdout)[0]["revoked_at"]

    unknown = gongyu("keys", "revoke", "0123456789abcdef", "-w", ws)
    assert unknown.returncode == 1 and "no API key '0123456789abcdef'" in unknown.stderr
    bad = gongyu("keys", "create", "--agency", "nowhere", "--role", "analyst", "-w", ws)
    assert bad.returncode == 1 and "unknown agency 'nowhere'" in bad.stderr
