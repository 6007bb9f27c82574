"""Grants: validated when made, valid through their expiry day in Korea, revocable; and
`gongyu grants` as run."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from catalog.access.grants import Grant, GrantError, UnknownGrant, korean_day, korean_today
from catalog.access.keys import UnknownAgency
from gongyu.platform import Platform
from tests.conftest import REPO

GONGYU = str(Path(sys.executable).with_name("gongyu"))
DATASET = "police_drunk_driving_detections"  # knpa's; `blood_alcohol` is sensitive


def gongyu(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run(
        [GONGYU, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )


def grant(platform: Platform, expires: date, **extra: Any) -> Grant:
    return platform.grants.add(
        platform.contract(DATASET), "koroad", "road safety study", expires, created_by="t", **extra
    )


def test_grant_expiring_today_is_active_and_yesterday_is_not(platform: Platform) -> None:
    today = korean_today()
    yesterday = today - timedelta(days=1)
    lasts = grant(platform, today)
    # Made yesterday to end yesterday: a grant that has run out, with nothing done since.
    ended = grant(platform, yesterday, today=yesterday)
    assert [g.grant_id for g in platform.grants.active("koroad", DATASET)] == [lasts.grant_id]
    assert platform.grants.active("koroad", DATASET, today=today + timedelta(days=1)) == []
    assert {g.grant_id for g in platform.grants.active("koroad", DATASET, today=yesterday)} == {
        lasts.grant_id,
        ended.grant_id,
    }
    assert platform.grants.active("kotsa", DATASET) == []
    assert platform.grants.active("koroad", "kotsa_car_inspection_centers") == []
    everything = platform.grants.list(include_expired=True)
    assert {g.grant_id for g in everything} == {lasts.grant_id, ended.grant_id}


def test_the_day_ends_at_midnight_in_korea() -> None:
    # 15:00 UTC is midnight in Seoul (UTC+9, no daylight saving).
    assert korean_day(datetime(2026, 3, 31, 14, 59, 59, tzinfo=UTC)) == date(2026, 3, 31)
    assert korean_day(datetime(2026, 3, 31, 15, 0, 0, tzinfo=UTC)) == date(2026, 4, 1)


def test_revoked_grant_stops_at_once(platform: Platform) -> None:
    made = grant(platform, korean_today() + timedelta(days=30), columns=("blood_alcohol",))
    assert made.columns == ("blood_alcohol",)
    revoked = platform.grants.revoke(made.grant_id)
    assert revoked.revoked_at is not None
    assert platform.grants.active("koroad", DATASET) == []
    assert platform.grants.list(include_expired=True)[0].revoked_at is not None
    with pytest.raises(UnknownGrant, match="no grant 'nope'"):
        platform.grants.revoke("nope")


def test_what_a_grant_may_not_be(platform: Platform) -> None:
    future = korean_today() + timedelta(days=7)
    with pytest.raises(GrantError, match="in the past"):
        grant(platform, korean_today() - timedelta(days=1))
    with pytest.raises(GrantError, match=f"{DATASET} has no column\\(s\\) nope, zzz; its columns"):
        grant(platform, future, columns=("sex", "nope", "zzz"))
    with pytest.raises(GrantError, match="empty"):
        grant(platform, future, columns=())
    with pytest.raises(GrantError, match="named twice: sex"):
        grant(platform, future, columns=("sex", "sex"))
    with pytest.raises(GrantError, match="purpose"):
        platform.grants.add(platform.contract(DATASET), "koroad", " ", future, created_by="t")
    with pytest.raises(UnknownAgency, match="unknown agency 'nowhere'"):
        platform.grants.add(platform.contract(DATASET), "nowhere", "x", future, created_by="t")
    with pytest.raises(GrantError, match="Could not find field with name no_such_column"):
        grant(platform, future, row_filter="no_such_column = 1")
    with pytest.raises(GrantError, match="does not parse"):
        grant(platform, future, row_filter="sex IN (SELECT 1)")
    with pytest.raises(GrantError, match="does not parse"):
        grant(platform, future, row_filter="sex = 'F'; DROP TABLE x")
    # The contract says `age` is a number; the lakehouse publishes it as a 5-year band.
    with pytest.raises(GrantError, match=r"does not fit the published table.*age \(string\)"):
        grant(platform, future, row_filter="age >= 60")
    # Filtering on a column the grantee cannot see would reveal its values.
    with pytest.raises(GrantError, match=r"blood_alcohol.*cannot see"):
        grant(platform, future, row_filter="blood_alcohol = '0.1'")
    assert platform.grants.list(include_expired=True) == []
    seen = grant(platform, future, columns=("blood_alcohol",), row_filter="blood_alcohol = '0.1'")
    assert seen.row_filter == "blood_alcohol = '0.1'"
    platform.grants.revoke(seen.grant_id)
    kept = grant(platform, future, row_filter="sex = 'F'")
    assert [g.row_filter for g in platform.grants.active("koroad", DATASET)] == ["sex = 'F'"]
    assert kept.row_filter == "sex = 'F'"


def test_grants_cli(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    expires = str(korean_today() + timedelta(days=10))
    add = (DATASET, "--agency", "koroad", "--purpose", "도로 안전 연구", "-w", ws)
    made = gongyu("grants", "add", *add, "--expires", expires, "--columns", "blood_alcohol, sex")
    assert made.returncode == 0, made.stderr
    listed = json.loads(gongyu("grants", "list", "--json", "-w", ws).stdout)
    assert [(g["agency"], g["purpose"], g["expires"], g["columns"]) for g in listed] == [
        ("koroad", "도로 안전 연구", expires, ["blood_alcohol", "sex"])
    ]
    assert listed[0]["created_by"]

    refused = [
        (("--expires", expires, "--columns", "sex,nope"), "has no column(s) nope"),
        (("--expires", "2001-01-01"), "is in the past"),
        (("--expires", expires, "--row-filter", "DROP TABLE x"), "row filter"),
    ]
    for args, message in refused:
        done = gongyu("grants", "add", *add, *args)
        assert done.returncode == 1 and message in done.stderr, done.stderr
    unknown = gongyu("grants", "add", "no_such_dataset", *add[1:], "--expires", expires)
    assert unknown.returncode == 1 and "unknown dataset 'no_such_dataset'" in unknown.stderr

    grant_id = listed[0]["grant_id"]
    assert gongyu("grants", "revoke", grant_id, "-w", ws).returncode == 0
    assert json.loads(gongyu("grants", "list", "--json", "-w", ws).stdout) == []
    shown = json.loads(gongyu("grants", "list", "--all", "--json", "-w", ws).stdout)
    assert [g["grant_id"] for g in shown] == [grant_id] and shown[0]["revoked_at"]
    assert gongyu("grants", "revoke", "nope", "-w", ws).returncode == 1
