"""Hostile queries against the SQL API and the Trino endpoint: every one refused or contained.

The cases are generated from the tables below (readers × argument forms, statements, bombs,
Unicode tricks, paths to another agency's private table). Each must come back refused (400
with a SQL error, or a Trino error) or contained by the time and memory limits, never a 5xx nor
a stack trace, and the server must still answer `SELECT 1` afterwards. Figures:
`pytest tests/api/sql/test_hostile.py -q -s` prints how many attempts were tried and refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.world import OTHER_SECTOR, OWNER, World, world

PRIVATE = "welfare_safety.cases_private"

READERS = (
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "read_json",
    "read_json_auto",
    "read_text",
    "read_blob",
    "glob",
    "parquet_scan",
    "parquet_metadata",
    "sniff_csv",
    "iceberg_scan",
    "delta_scan",
    "sqlite_scan",
)
TARGETS = ("/etc/passwd", "http://127.0.0.1:1/x.csv", "s3://gongyu/warehouse/x.parquet")
FILE_CASES = (
    [f"SELECT * FROM {r}('{t}')" for r in READERS for t in TARGETS]
    + [f"SELECT {r}('/etc/passwd')" for r in ("read_text", "read_blob", "glob")]
    + [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'file.csv'",
        'SELECT * FROM "/etc/passwd"',
        "SELECT * FROM 'http://127.0.0.1:1/x.parquet'",
        "SELECT * FROM 's3://gongyu/warehouse/x.parquet'",
        "FROM '/etc/hosts'",
        "SELECT * FROM read_csv(['/etc/passwd', '/etc/hosts'])",
        "SELECT * FROM (SELECT * FROM read_text('/etc/passwd'))",
        "WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM t",
        "SELECT (SELECT content FROM read_text('/etc/passwd'))",
    ]
)

STATEMENTS = [
    "ATTACH '/tmp/x.db' AS x",
    "ATTACH ':memory:' AS m",
    "ATTACH 'http://127.0.0.1:1/x.db' AS x (READ_ONLY)",
    "DETACH gongyu",
    "DETACH DATABASE gongyu",
    "USE memory",
    "COPY (SELECT 1) TO '/tmp/hostile.csv'",
    f"COPY {PRIVATE} TO '/tmp/hostile.parquet' (FORMAT parquet)",
    "COPY welfare_safety.cases_public FROM '/etc/passwd'",
    "EXPORT DATABASE '/tmp/hostile'",
    "IMPORT DATABASE '/tmp/hostile'",
    "INSTALL httpfs",
    "FORCE INSTALL httpfs",
    "LOAD httpfs",
    "INSTALL shellfs FROM community",
    "SET enable_external_access = true",
    "SET memory_limit = '100GB'",
    "SET threads = 64",
    "RESET memory_limit",
    "SET GLOBAL allow_unsigned_extensions = true",
    "PRAGMA database_list",
    "PRAGMA show_tables",
    "PRAGMA enable_profiling",
    "CALL pragma_database_list()",
    "CALL pragma_table_info('welfare_safety.cases_private')",
    "CREATE TABLE x AS SELECT 1",
    "CREATE MACRO f() AS 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "DROP VIEW welfare_safety.cases_public",
    "DELETE FROM welfare_safety.cases_public",
    "UPDATE welfare_safety.cases_public SET n = 0",
    "INSERT INTO welfare_safety.cases_public VALUES ('x', 'y', 1, 2)",
    "CHECKPOINT",
    "VACUUM",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "SUMMARIZE welfare_safety.cases_private",
    "DESCRIBE welfare_safety.cases_private",
    "EXPLAIN ANALYZE SELECT 1",
]

INTROSPECTION = [
    "SELECT current_setting('memory_limit')",
    "SELECT current_setting('home_directory')",
    "SELECT getenv('HOME')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_views()",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_functions()",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM pg_catalog.pg_settings",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM information_schema.views",
    "SELECT view_definition FROM information_schema.views",
    "SELECT * FROM information_schema.tables WHERE table_name = 'cases_private'",
    "SELECT * FROM gongyu.information_schema.views",
    "SELECT * FROM system.main.duckdb_settings",
    "SELECT * FROM temp.information_schema.tables",
    "SELECT * FROM which_secret('s3://gongyu/x', 's3')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM query_table('welfare_safety.cases_private')",
    "SELECT getvariable('x')",
    "SELECT current_database()",
    "SELECT * FROM pragma_database_list()",
    "SELECT * FROM pragma_table_info('welfare_safety.cases_private')",
    "SELECT * FROM pragma_storage_info('welfare_safety.cases_private')",
]

MULTIPLE = [
    "SELECT 1; SELECT 2",
    "SELECT 1; ATTACH '/tmp/x.db' AS x",
    f"SELECT 1; SELECT * FROM {PRIVATE}",
    "SELECT 1 /* ; */; COPY (SELECT 1) TO '/tmp/x.csv'",
    "SELECT 1 -- \n; INSTALL httpfs",
    "/* SELECT 1; */ INSTALL httpfs",
    "-- SELECT 1\nLOAD httpfs",
    "SELECT 1;;;SET threads = 64",
    "SELECT 1 /* unterminated",
    "SELECT '1'';SET threads=64;--'",
]

UNICODE = [
    "ＳＥＬＥＣＴ * FROM welfare_safety.cases_private",
    "SELECT * FROM welfare_safety.cases_prіvate",  # Cyrillic і
    "SELECT * FROM welfare_safety.cases\u200b_private",
    "SELECT * FROM welfare_safety.\u200bcases_private",
    "SELECT 1\x00; ATTACH '/tmp/x.db' AS x",
    "SELECT * FROM welfare_safety.cases_private\x00",
    "SELECT * FROM welfare\u202e_safety.cases_private",
    "SELECT \u202e1",
    "SELECT * FROM read\u200b_csv('/etc/passwd')",
    'SELECT * FROM "welfare_safety.cases_private"',
    "SELECT * FROM ＷＥＬＦＡＲＥ_SAFETY.cases_private",
    "SELECT 1 \ufeff; INSTALL httpfs",
]

BOMBS = [
    # time-bounded
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n FROM r, range(2)) SELECT count(*) FROM r",
    "SELECT count(*) FROM range(100000) a, range(100000) b, range(100000) c",
    "SELECT count(*) FROM welfare_safety.cases_public a, welfare_safety.cases_public b, "
    "welfare_safety.cases_public c, welfare_safety.cases_public d, "
    "welfare_safety.cases_public e, welfare_safety.cases_public f",
    "SELECT length(repeat('x', 10000000000))",
    "SELECT length(repeat('x', 1e10::BIGINT))",
    "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(100000000)",
    "SELECT list(range) FROM range(1000000000)",
    "SELECT max(md5(range::VARCHAR)) FROM range(10000000000)",
    "SELECT * FROM generate_series(1, 9223372036854775807)",
    "SELECT count(*) FROM generate_series(1, 9223372036854775807)",
    "SELECT length(repeat(repeat('x', 100000), 100000))",
    # deep nesting
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT " + "(" * 100_001,
    "SELECT * FROM " + "(SELECT * FROM " * 2000 + "range(1)" + ") t" * 2000,
    "SELECT 1" + " + 1" * 20000,
    "SELECT " + "abs(" * 3000 + "1" + ")" * 3000,
    "SELECT " + "[" * 3000 + "1" + "]" * 3000,
    "SELECT 1 WHERE " + " AND ".join(["1 = 1"] * 10000),
    "SELECT " + "CASE WHEN 1 = 1 THEN " * 2000 + "1" + " END" * 2000,
]

# Every path from another agency's caller to the owner's private table.
PRIVATE_PATHS = [
    f"SELECT * FROM {PRIVATE}",
    "SELECT * FROM WELFARE_SAFETY.CASES_PRIVATE",
    'SELECT * FROM "welfare_safety"."cases_private"',
    "SELECT * FROM gongyu.welfare_safety.cases_private",
    'SELECT * FROM "gongyu"."welfare_safety"."cases_private"',
    "SELECT * FROM memory.welfare_safety.cases_private",
    "SELECT * FROM main.welfare_safety.cases_private",
    "SELECT * FROM cases_private",
    f"WITH cases_private AS (SELECT * FROM {PRIVATE}) SELECT * FROM cases_private",
    f"WITH x AS (SELECT 1) SELECT * FROM x, {PRIVATE}",
    f"WITH welfare_safety AS (SELECT 1) SELECT * FROM {PRIVATE}",
    "WITH cases_public AS (SELECT 1) SELECT * FROM welfare_safety.cases_private",
    f"SELECT * FROM (SELECT * FROM {PRIVATE})",
    f"SELECT (SELECT sum(amount) FROM {PRIVATE})",
    f"SELECT 1 WHERE EXISTS (SELECT 1 FROM {PRIVATE} WHERE amount > 0)",
    f"SELECT n FROM welfare_safety.cases_public UNION ALL SELECT amount FROM {PRIVATE}",
    f"SELECT * FROM welfare_safety.cases_public a, LATERAL (SELECT * FROM {PRIVATE}) b",
    f"SELECT * FROM welfare_safety.cases_public JOIN {PRIVATE} USING (person)",
    "SELECT * FROM information_schema.columns WHERE table_name = 'cases_private'",
    "SELECT * FROM information_schema.views WHERE table_name = 'cases_private'",
    f"SELECT * FROM {PRIVATE} AT (VERSION => 1)",
    f"PIVOT {PRIVATE} ON sido USING sum(amount)",
    f"SELECT * FROM {PRIVATE} TABLESAMPLE 50%",
    f"DESCRIBE {PRIVATE}",
    "SELECT * FROM query_table('welfare_safety.cases_private')",
    "SELECT * FROM query('SELECT * FROM welfare_safety.cases_private')",
    "SELECT * FROM read_parquet('**/cases_private/**/*.parquet')",
    "SELECT * FROM glob('**/*')",
]

TRINO_CASES = [
    "EXECUTE IMMEDIATE 'ATTACH ''/tmp/x.db'' AS x'",
    "EXECUTE IMMEDIATE 'SELECT * FROM welfare_safety.cases_private'",
    "EXECUTE IMMEDIATE 'INSTALL httpfs'",
    "EXECUTE IMMEDIATE 'SELECT * FROM read_csv(''/etc/passwd'')'",
    "PREPARE p FROM SELECT * FROM welfare_safety.cases_private",
    "SELECT * FROM welfare_safety.cases_private",
    "SELECT * FROM gongyu.welfare_safety.cases_private",
    "SELECT * FROM cases_private",
    "SHOW COLUMNS FROM cases_private",
    "DESCRIBE cases_private",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SET SESSION query_max_run_time = '1d'",
    "RESET SESSION query_max_run_time",
    "CREATE TABLE x AS SELECT 1",
    "INSERT INTO cases_public VALUES ('x', 'y', 1, 2)",
    "DELETE FROM cases_public",
    "CALL system.runtime.kill_query('x')",
    "SELECT 1; SELECT 2",
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "SELECT length(repeat('x', 10000000000))",
    "SELECT * FROM information_schema.views",
    "SELECT * FROM system.metadata.catalogs",
    "USE memory.main",
]

SQL_CASES = [
    *(("file", s) for s in FILE_CASES),
    *(("statement", s) for s in STATEMENTS),
    *(("introspection", s) for s in INTROSPECTION),
    *(("multiple", s) for s in MULTIPLE),
    *(("unicode", s) for s in UNICODE),
    *(("bomb", s) for s in BOMBS),
    *(("private", s) for s in PRIVATE_PATHS),
]
# Cases that may run: harmless as written (a literal, a bounded answer, the caller's own
# metadata, a Trino session statement); they must then show nothing of what is hidden.
MAY_RUN = {
    "SELECT * FROM information_schema.tables WHERE table_name = 'cases_private'",
    "SELECT * FROM information_schema.columns WHERE table_name = 'cases_private'",
    "SELECT '1'';SET threads=64;--'",
    "SELECT count(*) FROM welfare_safety.cases_public a, welfare_safety.cases_public b, "
    "welfare_safety.cases_public c, welfare_safety.cases_public d, "
    "welfare_safety.cases_public e, welfare_safety.cases_public f",
    "SELECT * FROM generate_series(1, 9223372036854775807)",
    "PREPARE p FROM SELECT * FROM welfare_safety.cases_private",
    "SET SESSION query_max_run_time = '1d'",
    "RESET SESSION query_max_run_time",
    "SELECT * FROM information_schema.views",
    "SELECT * FROM system.metadata.catalogs",  # answered as Trino does: names no table
}
LEAKS = ("cases_private", "person-", "read_parquet", "iceberg", "/ws/", "warehouse")
STACK_MARKERS = ("Traceback", 'File "/', "RecursionError", "Internal Server Error")
TALLY: dict[str, int] = {"tried": 0, "refused": 0, "contained": 0, "harmless": 0}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hostile")
    with world(root, sql_timeout_seconds=2, sql_memory_limit="256MB") as w:
        yield w
    print(
        f"\nhostile queries: {TALLY['tried']} tried, {TALLY['refused']} refused, "
        f"{TALLY['contained']} contained by limits, {TALLY['harmless']} ran harmlessly, "
        "0 server errors"
    )


def assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    for marker in STACK_MARKERS:
        assert marker not in response.text, response.text[:500]


def still_answers(w: World) -> None:
    ok = w.sql(OTHER_SECTOR, "SELECT 1 AS one")
    assert ok.status_code == 200, ok.text
    assert ok.json()["rows"] == [[1]]


def contained(message: str) -> bool:
    text = message.lower()
    return any(w in text for w in ("time limit", "timeout", "interrupt", "out of memory", "memory"))


def short(s: str) -> str:
    return s[:60].encode("unicode_escape").decode()


@pytest.mark.parametrize(
    ("kind", "sql"), SQL_CASES, ids=[f"{k}-{i}-{short(s)}" for i, (k, s) in enumerate(SQL_CASES)]
)
def test_sql_api_refuses_or_contains(served: World, kind: str, sql: str) -> None:
    started = time.monotonic()
    response = served.sql(OTHER_SECTOR, sql)
    TALLY["tried"] += 1
    assert_clean(response)
    if sql in MAY_RUN and response.status_code == 200:
        TALLY["harmless"] += 1
        assert not any(leak in response.text for leak in LEAKS), response.text[:300]
        assert response.json()["row_count"] <= served.platform.settings.sql_max_rows
        still_answers(served)
        return
    assert response.status_code == 400, f"{kind} ran: {response.text[:300]}"
    error = response.json()["error"]
    assert error["message"]
    TALLY["contained" if contained(error["message"]) else "refused"] += 1
    assert time.monotonic() - started < 30
    if kind == "private":
        assert "1000" not in response.text and "person-" not in response.text
    still_answers(served)


def trino(w: World, sql: str) -> dict[str, Any]:
    """One statement over the Trino protocol to its end, every page checked clean."""
    return w.trino(OTHER_SECTOR, sql, check=assert_clean)


@pytest.mark.parametrize(
    "sql", TRINO_CASES, ids=[f"{i}-{short(s)}" for i, s in enumerate(TRINO_CASES)]
)
def test_trino_refuses_or_contains(served: World, sql: str) -> None:
    body = trino(served, sql)
    TALLY["tried"] += 1
    if sql in MAY_RUN and "error" not in body:
        TALLY["harmless"] += 1
        assert not any(leak in str(body) for leak in LEAKS), str(body)[:300]
        return
    assert "error" in body, f"ran: {str(body)[:300]}"
    assert not any(m in str(body["error"].get("message", "")) for m in STACK_MARKERS)
    assert "failureInfo" not in body["error"] or "Traceback" not in str(body["error"])
    TALLY["contained" if contained(body["error"]["message"]) else "refused"] += 1
    assert "person-" not in str(body)
    assert trino(served, "SELECT 1").get("data") == [[1]]


def test_owner_still_reads_private(served: World) -> None:
    """The refusals above are about the caller, not the table: its owner reads it."""
    response = served.sql(OWNER, f"SELECT count(*) FROM {PRIVATE}")
    assert response.status_code == 200 and response.json()["rows"] == [[40]]


def test_enough_attempts() -> None:
    assert len(SQL_CASES) + len(TRINO_CASES) >= 100
