"""The audit log: one chain under concurrent writers (threads and processes), every kind of
tampering found at the right record, filters, export; and `gongyu audit` as run."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.access.audit import (
    CHAINED_FIELDS,
    AuditKind,
    AuditLog,
    Outcome,
    chain_hash,
    verify_chain,
)
from catalog.access.principal import Principal, Role
from catalog.db import connect
from gongyu.platform import Platform
from tests.conftest import REPO

GONGYU = str(Path(sys.executable).with_name("gongyu"))
ANALYST = Principal(
    subject="k1", agency="koroad", role=Role.analyst, via="api_key", purpose="사고 분석"
)
KNPA = "police_drunk_driving_detections"
KOTSA = "kotsa_car_inspection_centers"


def fill(audit: AuditLog, n: int = 6) -> None:
    for i in range(n):
        audit.append(
            ANALYST,
            AuditKind.sql,
            f"SELECT {i} FROM welfare_safety.{KNPA}",
            datasets=[KNPA] if i % 2 else [KOTSA, KNPA],
            rows=i,
            bytes_out=100 * i,
            duration_ms=1.25 * i,
        )


def execute(platform: Platform, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Change the catalog database behind the library's back, as an intruder would."""
    with closing(sqlite3.connect(platform.workspace.catalog_db)) as db, db:
        for sql in statements:
            db.execute(sql, params if "?" in sql else ())


def test_records_chain_as_documented(platform: Platform) -> None:
    fill(platform.audit, 4)
    out = io.StringIO()
    assert platform.audit.export(out) == 4
    previous = "0" * 64
    for seq, line in enumerate(out.getvalue().splitlines(), start=1):
        record = json.loads(line)
        body = {k: v for k, v in record.items() if k != "hash"}
        assert tuple(sorted(body)) == tuple(sorted(CHAINED_FIELDS))
        assert body["seq"] == seq and body["at"].endswith("Z")
        text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        expected = hashlib.sha256((previous + text).encode("utf-8")).hexdigest()
        assert record["hash"] == expected
        previous = expected
    result = platform.audit.verify()
    assert result.ok and result.count == 4 and result.head == previous


def test_many_threads_keep_one_chain(platform: Platform) -> None:
    # Two engines on one file, as two API workers would have: a pool each.
    logs = [platform.audit, AuditLog(connect(platform.workspace.catalog_url))]
    start = threading.Barrier(8)

    def write(n: int) -> None:
        start.wait()
        for i in range(25):
            logs[n % 2].append(ANALYST, AuditKind.sql, f"thread {n} query {i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = platform.audit.verify()
    assert result.ok, result
    assert result.count == 200
    assert [e["seq"] for e in platform.audit.entries()] == list(range(1, 201))


WRITER = """
import sys, threading, time
from pathlib import Path
from catalog.access.principal import Principal, Role
from catalog.access.audit import AuditKind, AuditLog
from catalog.db import connect

url, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
log = AuditLog(connect(url))
who = Principal(subject=name, agency="kotsa", role=Role.analyst, via="token")
while not go.exists():
    time.sleep(0.002)

def write(t):
    for i in range(20):
        log.append(who, AuditKind.trino, f"{name} thread {t} query {i}", rows=i)

threads = [threading.Thread(target=write, args=(t,)) for t in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_many_processes_keep_one_chain(platform: Platform, tmp_path: Path) -> None:
    fill(platform.audit, 1)  # the tables exist before the writers race
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, platform.workspace.catalog_url, str(go), f"p{n}"],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    time.sleep(1.5)  # let every process import and connect, then start them together
    go.touch()
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    result = platform.audit.verify()
    assert result.ok, result
    assert result.count == 1 + 4 * 3 * 20
    subjects = [e["subject"] for e in platform.audit.entries()]
    assert {s: subjects.count(s) for s in set(subjects)} == {
        "k1": 1,
        "p0": 60,
        "p1": 60,
        "p2": 60,
        "p3": 60,
    }


def _rehash_third(platform: Platform) -> None:
    """Edit record 3 and give it the hash its new content would have: the next one breaks."""
    entries = list(platform.audit.entries())
    forged = {**entries[2], "rows": 0}
    digest = chain_hash(entries[1]["hash"], forged)
    execute(
        platform, "UPDATE gongyu_audit_log SET rows = 0, hash = ? WHERE seq = 3", params=(digest,)
    )


def _insert_at_third(platform: Platform) -> None:
    """Move records 3.. up by one and slip a well-formed record in at 3."""
    entries = list(platform.audit.entries())
    forged = {**entries[2], "statement": "SELECT 'nothing to see'"}
    forged["hash"] = chain_hash(entries[1]["hash"], forged)
    execute(
        platform,
        "UPDATE gongyu_audit_log SET seq = seq + 100 WHERE seq >= 3",
        "UPDATE gongyu_audit_log SET seq = seq - 99 WHERE seq >= 100",
    )
    columns = ", ".join(forged)
    values = [json.dumps(v) if k == "datasets" else v for k, v in forged.items()]
    execute(
        platform,
        f"INSERT INTO gongyu_audit_log ({columns}) VALUES ({', '.join('?' * len(forged))})",
        params=tuple(values),
    )


TAMPERING = {
    "edited rows": (lambda p: execute(p, "UPDATE gongyu_audit_log SET rows=7 WHERE seq=3"), 3),
    "edited statement": (
        lambda p: execute(p, "UPDATE gongyu_audit_log SET statement='SELECT 1' WHERE seq=4"),
        4,
    ),
    "edited datasets": (
        lambda p: execute(p, "UPDATE gongyu_audit_log SET datasets='[]' WHERE seq=2"),
        2,
    ),
    "edited and rehashed": (_rehash_third, 4),
    "deleted": (lambda p: execute(p, "DELETE FROM gongyu_audit_log WHERE seq=3"), 3),
    "reordered": (
        lambda p: execute(
            p,
            "UPDATE gongyu_audit_log SET seq=-1 WHERE seq=3",
            "UPDATE gongyu_audit_log SET seq=3 WHERE seq=4",
            "UPDATE gongyu_audit_log SET seq=4 WHERE seq=-1",
        ),
        3,
    ),
    "inserted": (_insert_at_third, 4),
    "appended with a made-up hash": (
        lambda p: execute(
            p,
            "INSERT INTO gongyu_audit_log SELECT 7, at, subject, via, agency, role, purpose, "
            "kind, statement, datasets, rows, bytes_out, duration_ms, outcome, error, "
            "'" + "f" * 64 + "', NULL, NULL, NULL FROM gongyu_audit_log WHERE seq = 6",
        ),
        7,
    ),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_is_found_at_the_right_record(platform: Platform, how: str) -> None:
    fill(platform.audit, 6)
    assert platform.audit.verify().ok
    change, broken_at = TAMPERING[how]
    change(platform)
    result = platform.audit.verify()
    assert not result.ok
    assert result.broken_at == broken_at, result
    assert result.count == broken_at - 1


def test_records_filter_by_agency_dataset_and_time(platform: Platform) -> None:
    fill(platform.audit, 6)
    steward = Principal(subject="s", agency="kotsa", role=Role.steward, via="token")
    platform.audit.append(
        steward,
        AuditKind.catalog,
        "GET /catalog",
        outcome=Outcome.denied,
        error="no",
        at=datetime.now(UTC) + timedelta(hours=1),
    )
    audit = platform.audit
    assert [r.seq for r in audit.records()] == [7, 6, 5, 4, 3, 2, 1]
    assert [r.seq for r in audit.records(limit=2)] == [7, 6]
    assert [r.seq for r in audit.records(agency="kotsa")] == [7]
    assert [r.seq for r in audit.records(dataset_ids=[KOTSA])] == [5, 3, 1]
    assert [r.seq for r in audit.records(dataset_ids=[KOTSA, KNPA])] == [6, 5, 4, 3, 2, 1]
    assert audit.records(dataset_ids=[]) == []
    assert audit.records(dataset_ids=["police_drunk"]) == []  # whole ids only
    assert [r.seq for r in audit.records(since=datetime.now(UTC) + timedelta(minutes=30))] == [7]
    first = audit.records(limit=7)[-1]
    assert first.purpose == "사고 분석" and first.datasets == (KOTSA, KNPA)
    assert (first.kind, first.outcome, first.via, first.role) == ("sql", "ok", "api_key", "analyst")


def test_audit_cli(platform: Platform, tmp_path: Path) -> None:
    fill(platform.audit, 5)
    ws = str(platform.workspace.root)
    # PYTHONPATH: the command runs this checkout's code, as the tests' own imports do.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(REPO)}

    def gongyu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [GONGYU, *args, "-w", ws], capture_output=True, text=True, cwd=REPO, env=env
        )

    ok = gongyu("audit", "verify")
    assert ok.returncode == 0 and "intact: 5 record(s)" in ok.stdout
    exported = tmp_path / "audit.jsonl"
    assert gongyu("audit", "export", "--out", str(exported)).returncode == 0
    assert len(exported.read_text(encoding="utf-8").splitlines()) == 5
    assert gongyu("audit", "verify", "--file", str(exported)).returncode == 0
    stdout_export = gongyu("audit", "export")
    assert stdout_export.stdout == exported.read_text(encoding="utf-8")
    listed = json.loads(gongyu("audit", "list", "--limit", "2", "--json").stdout)
    assert [r["seq"] for r in listed] == [5, 4]
    assert json.loads(gongyu("audit", "list", "--agency", "kotsa", "--json").stdout) == []

    execute(platform, "UPDATE gongyu_audit_log SET outcome='ok', rows=0 WHERE seq=4")
    broken = gongyu("audit", "verify")
    assert broken.returncode == 1
    assert "audit chain broken at record 4" in broken.stderr
    lines = exported.read_text(encoding="utf-8").splitlines()
    exported.write_text("\n".join(lines[:1] + lines[2:]) + "\n", encoding="utf-8")
    dropped = gongyu("audit", "verify", "--file", str(exported))
    assert dropped.returncode == 1 and "broken at record 2" in dropped.stderr


def test_a_request_that_returns_data_is_opened_then_completed(platform: Platform) -> None:
    audit = platform.audit
    fill(audit, 2)  # records as every version wrote them: no `completes`
    old_export = io.StringIO()
    audit.export(old_export)
    opened = audit.append(ANALYST, AuditKind.trino, "SELECT 1", outcome=Outcome.opened)
    cut_off = audit.append(ANALYST, AuditKind.sql, "SELECT 2", outcome=Outcome.opened)
    done = audit.append(ANALYST, AuditKind.trino, "SELECT 1", rows=9, completes=opened.seq)
    assert (opened.seq, cut_off.seq, done.seq, done.completes) == (3, 4, 5, 3)
    # Verified across both shapes; the request never completed is named.
    result = audit.verify()
    assert (result.ok, result.count, result.unfinished) == (True, 5, [4])
    # Old records hash as they always did: their export lines are unchanged and verify.
    out = io.StringIO()
    audit.export(out)
    lines = out.getvalue().splitlines()
    assert lines[:2] == old_export.getvalue().splitlines()
    assert "completes" not in json.loads(lines[2]) and json.loads(lines[4])["completes"] == 3
    assert verify_chain(json.loads(line) for line in lines).ok
    # Read back: each opening record says what became of it.
    states = {r.seq: (r.completed_by, r.state) for r in audit.records(limit=3)}
    assert states == {
        5: (None, "ok (completes #3)"),
        4: (None, "opened, never completed (still running, or the server stopped)"),
        3: (5, "opened, completed by #5"),
    }
    with pytest.raises(ValueError, match="not `opened`"):
        audit.append(ANALYST, AuditKind.sql, "x", outcome=Outcome.opened, completes=4)


def test_a_completion_must_name_an_open_request(platform: Platform) -> None:
    audit = platform.audit
    opened = audit.append(ANALYST, AuditKind.sql, "SELECT 1", outcome=Outcome.opened)
    audit.append(ANALYST, AuditKind.sql, "SELECT 1", completes=opened.seq)
    audit.append(ANALYST, AuditKind.sql, "SELECT 1", completes=opened.seq)  # twice
    result = audit.verify()
    assert (result.ok, result.broken_at) == (False, 3)
    assert "completes record 1" in (result.reason or "")


def test_audit_cli_shows_requests_never_completed(platform: Platform) -> None:
    platform.audit.append(ANALYST, AuditKind.trino, "SELECT 1", outcome=Outcome.opened)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(REPO)}
    ws = str(platform.workspace.root)

    def gongyu(*args: str) -> str:
        done = subprocess.run(
            [GONGYU, *args, "-w", ws], capture_output=True, text=True, cwd=REPO, env=env
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "opened, never completed: 1" in gongyu("audit", "verify")
    [listed] = json.loads(gongyu("audit", "list", "--json"))
    assert (listed["outcome"], listed["completed_by"]) == ("opened", None)
    assert listed["state"].startswith("opened, never completed")
    assert "opened, never" in gongyu("audit", "list")
