"""One key cannot exhaust the server (issue 13): the server runs in a process of its own, so
its own resident memory (`VmHWM`, its peak) is what is judged. Statements past a caller's cap
get Trino's QUERY_QUEUE_FULL; string bombs are refused; the process's memory budget cancels
the oldest query when it is reached; the time limit answers even while DuckDB is stuck in one
long call; other callers keep getting answers all along."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from catalog.access.principal import Role
from gongyu.query.memory_budget import parse_size
from tests.api.served_process import Process, served_process
from tests.api.world import OTHER_SECTOR, OWNER, table

STATEMENT = "SELECT i, repeat('y', 200) FROM range(100000000) t(i)"
BOMB = "SELECT length(repeat('x', 1200000000))"
TRINO_HEADERS = {"X-Trino-Catalog": "gongyu", "X-Trino-Schema": "welfare_safety"}


def post_statement(w: Process, agency: str, sql: str) -> dict[str, Any]:
    """POST one Trino statement and never poll it: its first answer."""
    with w.client(agency, X_Trino_User=agency, **TRINO_HEADERS) as c:
        return c.post("/v1/statement", content=sql.encode()).json()


def others_are_answered(w: Process) -> None:
    """Another agency's caller gets `SELECT 1` and a real table, over both protocols."""
    assert w.sql(OTHER_SECTOR, "SELECT 1").json()["rows"] == [[1]]
    counted = w.sql(OTHER_SECTOR, f"SELECT count(*) FROM {table('public')}")
    assert counted.json()["rows"] == [[40]], counted.text
    assert w.trino(OTHER_SECTOR, "SELECT count(*) FROM cases_public")["data"] == [[40]]


def threads(w: Process) -> int:
    assert w.proc is not None
    return len(list(Path(f"/proc/{w.proc.pid}/task").iterdir()))


def test_one_key_cannot_exhaust_the_server(tmp_path: Path) -> None:
    budget = "1200MB"
    settings = {
        "sql_memory_limit": "256MB",  # 1200 MB holds 3 running queries, 1 a caller
        "sql_memory_budget": budget,
        "sql_queue_seconds": 2.0,
        "sql_timeout_seconds": 20.0,
        "trino_client_timeout_seconds": 5.0,
    }
    with served_process(tmp_path, **settings) as w, ThreadPoolExecutor(24) as pool:
        # 60 statements never polled, and string bombs, all from one key at once.
        posted = [pool.submit(post_statement, w, OWNER, STATEMENT) for _ in range(60)]
        bombs: list[Future[Any]] = [pool.submit(w.sql, OWNER, BOMB) for _ in range(3)]
        bombs.append(pool.submit(post_statement, w, OWNER, BOMB))
        others_are_answered(w)  # meanwhile
        answers = [f.result() for f in posted]
        full = [a["error"] for a in answers if "error" in a]
        live = [a for a in answers if "error" not in a]
        assert len(live) == 8, "a caller holds trino_max_statements_per_caller statements"
        assert {(e["errorName"], e["errorCode"], e["errorType"]) for e in full} == {
            ("QUERY_QUEUE_FULL", 131074, "INSUFFICIENT_RESOURCES")
        }
        assert all("GONGYU_TRINO_MAX_STATEMENTS_PER_CALLER" in e["message"] for e in full)
        for done in bombs[:3]:
            answer: httpx.Response = done.result()
            # Refused by the value cap, or turned away: the caller's one slot is taken.
            assert answer.status_code in (400, 429), answer.text[:300]
            kind = answer.json()["error"]["kind"]
            assert (kind == "sql" and "value cap" in answer.text) or kind == "busy"
            if kind == "busy":
                assert answer.headers["Retry-After"] == "2"
        assert "error" in bombs[3].result()
        others_are_answered(w)
        assert threads(w) < 60
        assert w.status("VmHWM") <= parse_size(budget), w.status("VmHWM")
        # Abandoned once their client timeout passes: the caller may start statements again.
        deadline = time.monotonic() + 30
        while len(abandoned(w)) < 8:
            assert time.monotonic() < deadline, "the unpolled statements were never abandoned"
            time.sleep(0.5)
        assert "error" not in post_statement(w, OWNER, "SELECT 1")


def abandoned(w: Process) -> list[dict[str, Any]]:
    return [
        e
        for e in w.platform.audit.entries()
        if e["statement"] == STATEMENT and e["error"] == "abandoned by the client"
    ]


def test_the_memory_budget_cancels_the_oldest_query(tmp_path: Path) -> None:
    budget = "1GB"
    settings = {
        "sql_memory_limit": "8GB",  # DuckDB's own limit would let it grow: the budget stops it
        "sql_memory_budget": budget,
        "sql_max_running": 3,
        "sql_max_running_per_caller": 2,
    }
    grows = "SELECT len(list(i)) FROM range(150000000) t(i)"  # ~500 MB a second, to 2.4 GB
    with served_process(tmp_path, **settings) as w:
        answer = w.sql(OWNER, grows)
        assert answer.status_code == 400, answer.text[:300]
        error = answer.json()["error"]
        assert error["kind"] == "memory"
        assert (
            "memory budget" in error["message"] and "GONGYU_SQL_MEMORY_BUDGET" in error["message"]
        )
        body = w.trino(OWNER, grows)
        assert body["error"]["errorName"] == "EXCEEDED_GLOBAL_MEMORY_LIMIT"
        others_are_answered(w)
        # Cancelled 5 % below the budget: the peak stays under it, give or take a late reading
        # on a busy machine.
        assert w.status("VmHWM") <= parse_size(budget) + parse_size("64MiB")
    # It ran: opened while DuckDB worked, then completed with the abort.
    opened, record = sorted(
        (r for r in w.platform.audit.records(limit=20) if r.statement == grows and r.kind == "sql"),
        key=lambda r: r.seq,
    )
    assert (opened.outcome, record.completes) == ("opened", opened.seq)
    assert record.outcome == "error" and "memory budget" in (record.error or "")


def test_the_time_limit_answers_while_duckdb_is_stuck(tmp_path: Path) -> None:
    # One call DuckDB cannot interrupt: ~2 billion steps of edit distance, ~5 s, little memory.
    stuck = "SELECT levenshtein(repeat('a', 45000), repeat('b', 45000))"
    with served_process(tmp_path, sql_timeout_seconds=1.0) as w:

        def timed(call: Callable[[], Any]) -> tuple[float, Any]:
            started = time.monotonic()
            result = call()
            return time.monotonic() - started, result

        took, answer = timed(lambda: w.sql(OWNER, stuck))
        assert answer.status_code == 400 and answer.json()["error"]["kind"] == "timeout"
        assert took < 1.0 + 1.5, took  # the limit, and a second of slack
        took, body = timed(lambda: w.trino(OWNER, stuck))
        assert body["error"]["errorName"] == "EXCEEDED_TIME_LIMIT"
        assert took < 1.0 + 1.5 + 1.0, took  # a page request waits up to a second for rows
        assert w.sql(OWNER, "SELECT 1", role=Role.steward).json()["rows"] == [[1]]
