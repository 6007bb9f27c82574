"""The statements BI tools send beyond queries, through the real `trino` client over TLS:
`SHOW STATS`, `SHOW SESSION`, `SHOW FUNCTIONS`, `EXPLAIN` (text, JSON, IO, VALIDATE),
`system.metadata.catalogs`, `system.runtime.queries` and `CALL system.runtime.kill_query` — each
limited to what the caller may read and audited, and tried as an attacker with a low-privilege
key of another sector (kotsa), who must never learn of knpa's hidden tables or statements.

The world is `tests.api.world`'s: knpa owns four tables (public, sector, restricted, private),
hira holds a grant on the restricted one (rows of 부산, `amount` unmasked), kotsa is in another
sector and reads only the public one, with `amount` masked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from trino.exceptions import TrinoUserError

from api.app import create_app
from catalog.access.principal import Role
from tests.api.trino.test_trino import Served, serve_tls
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, ROWS, build_platform

# What no answer may hold: DuckDB's plan and sandbox internals, the lakehouse's files.
INTERNALS = ("parquet", "read_", "policy_source", "/tmp", "file:", "duckdb", "SEQ_SCAN", "ERROR(")


@pytest.fixture(scope="module")
def bi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The served world with a trino key for knpa, a second knpa analyst, hira and kotsa."""
    root = tmp_path_factory.mktemp("trino-bi")
    platform = build_platform(root)
    keys = {
        agency: platform.keys.create(agency, Role.analyst, f"{agency} bi")[1]
        for agency in (OWNER, GRANTEE, OTHER_SECTOR)
    }
    keys["second"] = platform.keys.create(OWNER, Role.analyst, "another knpa analyst")[1]
    with pytest.MonkeyPatch.context() as env, serve_tls(create_app(platform), root) as server:
        env.delenv("REQUESTS_CA_BUNDLE", raising=False)
        env.delenv("CURL_CA_BUNDLE", raising=False)
        yield Served(platform=platform, server=server, keys=keys)


def described(served: Served, sql: str, caller: str = OWNER) -> tuple[list[str], list[list[Any]]]:
    """Column names and rows of one statement."""
    with served.connect(caller) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        return [d[0] for d in cursor.description], rows


def refused(served: Served, sql: str, caller: str = OWNER) -> TrinoUserError:
    with pytest.raises(TrinoUserError) as raised:
        served.query(sql, caller)
    return raised.value


STATS_COLUMNS = [
    "column_name",
    "data_size",
    "distinct_values_count",
    "nulls_fraction",
    "row_count",
    "low_value",
    "high_value",
]


def test_show_stats_counts_only_what_the_caller_sees(bi: Served) -> None:
    columns, rows = described(bi, "SHOW STATS FOR cases_public")
    assert columns == STATS_COLUMNS
    by_name = {r[0]: r for r in rows}
    assert list(by_name) == ["person", "sido", "n", "amount", None]  # the table's order
    assert by_name[None] == [None, None, None, None, float(ROWS), None, None]
    assert by_name["n"] == ["n", None, float(ROWS), 0.0, None, "1", str(ROWS)]
    assert by_name["sido"][1:5] == [6.0 * ROWS, 4.0, 0.0, None]  # 4 시·도 of 6 UTF-8 bytes
    assert by_name["amount"][2:4] == [float(ROWS), 0.0]  # the owner reads it

    # kotsa reads the public table with `amount` masked: all NULL, nothing distinct.
    _, rows = described(bi, "SHOW STATS FOR welfare_safety.cases_public", OTHER_SECTOR)
    amount = next(r for r in rows if r[0] == "amount")
    assert amount[2:4] == [0.0, 1.0] and amount[5:] == [None, None]

    # hira reads the restricted table through its grant: 부산's rows only, `amount` shown.
    _, rows = described(bi, "SHOW STATS FOR cases_restricted", GRANTEE)
    by_name = {r[0]: r for r in rows}
    assert by_name[None][4] == float(ROWS / 4)
    assert by_name["sido"][2] == 1.0 and by_name["amount"][3] == 0.0
    assert (by_name["n"][5], by_name["n"][6]) == ("2", "38")  # n of 부산's rows: 2, 6, … 38

    # Stats are a statement like any other: audited with the dataset read.
    record = next(
        r for r in bi.platform.audit.records(limit=10) if "cases_restricted" in r.statement
    )
    assert (record.kind, record.agency, record.datasets) == (
        "trino",
        GRANTEE,
        ("cases_restricted",),
    )


@pytest.mark.parametrize("table", ["cases_sector", "cases_restricted", "cases_private"])
def test_show_stats_of_a_hidden_table_fails_as_a_missing_one(bi: Served, table: str) -> None:
    hidden = refused(bi, f"SHOW STATS FOR welfare_safety.{table}", OTHER_SECTOR)
    missing = refused(bi, "SHOW STATS FOR welfare_safety.cases_nowhere", OTHER_SECTOR)
    assert hidden.error_name == missing.error_name == "TABLE_NOT_FOUND"
    assert hidden.message == missing.message.replace("cases_nowhere", table)
    assert refused(bi, "SHOW STATS FOR (SELECT 1)").error_name == "NOT_SUPPORTED"


def test_show_session_lists_the_limits_that_apply(bi: Served) -> None:
    columns, rows = described(bi, "SHOW SESSION")
    assert columns == ["Name", "Value", "Default", "Type", "Description"]
    limit = f"{bi.platform.settings.sql_timeout_seconds:g}s"
    assert [r[:4] for r in rows if r[0] == "query_max_run_time"] == [
        ["query_max_run_time", limit, limit, "varchar"]
    ]
    _, like = described(bi, "SHOW SESSION LIKE 'query\\_max\\_%time' ESCAPE '\\'")
    assert [r[0] for r in like] == ["query_max_execution_time", "query_max_run_time"]
    assert described(bi, "SHOW SESSION LIKE 'nothing%'")[1] == []


def test_show_functions_has_trinos_columns_and_like(bi: Served) -> None:
    columns, rows = described(bi, "SHOW FUNCTIONS LIKE 'date\\_%' ESCAPE '\\'")
    assert columns == [
        "Function",
        "Return Type",
        "Argument Types",
        "Function Type",
        "Deterministic",
        "Description",
    ]
    assert {r[0] for r in rows} >= {"date_format", "date_parse", "date_trunc", "date_add"}
    assert all(r[0].startswith("date_") for r in rows)
    assert described(bi, "SHOW FUNCTIONS FROM welfare_safety")[1] == []  # no catalog functions
    assert refused(bi, "SHOW FUNCTIONS FROM nowhere").error_name == "SCHEMA_NOT_FOUND"
    # The same list for everyone: it says nothing about data.
    assert described(bi, "SHOW FUNCTIONS", OTHER_SECTOR) == described(bi, "SHOW FUNCTIONS")


def plan_text(served: Served, sql: str, caller: str = OWNER) -> str:
    columns, rows = described(served, sql, caller)
    assert columns == ["Query Plan"] and len(rows) == 1
    text = rows[0][0]
    assert not [word for word in INTERNALS if word in text], text
    return text


def test_explain_draws_a_trino_plan_of_the_callers_own_tables(bi: Served) -> None:
    sql = (
        "SELECT sido, count(*) AS n FROM cases_private WHERE n > 3 "
        "GROUP BY sido ORDER BY n DESC LIMIT 3"
    )
    text = plan_text(bi, f"EXPLAIN {sql}")
    assert text.startswith("Trino version: 476\nFragment 0 [SINGLE]\n")
    assert "Output[columnNames = [sido, n]]" in text
    assert "TopN[count = 3" in text and "Aggregate[keys = [" in text
    assert "TableScan[table = gongyu:welfare_safety.cases_private]" in text
    logical = plan_text(bi, f"EXPLAIN (TYPE LOGICAL) {sql}")
    assert "Fragment" not in logical and logical.splitlines()[1].startswith("Output[")
    document = json.loads(plan_text(bi, f"EXPLAIN (TYPE LOGICAL, FORMAT JSON) {sql}"))
    assert document["name"] == "Output" and document["outputs"] == [
        {"symbol": "sido", "type": "varchar"},
        {"symbol": "n", "type": "bigint"},
    ]
    distributed = json.loads(plan_text(bi, f"EXPLAIN (FORMAT JSON) {sql}"))
    assert distributed["0"]["name"] == "Output"
    assert described(bi, f"EXPLAIN (TYPE VALIDATE) {sql}") == (["Valid"], [[True]])
    # The statement is checked as it would run, but never run.
    assert refused(bi, "EXPLAIN SELECT nowhere FROM cases_public").error_name == "COLUMN_NOT_FOUND"
    assert plan_text(bi, "EXPLAIN SELECT 1 / 0")  # would fail if it ran
    assert refused(bi, "EXPLAIN ANALYZE SELECT 1").error_name == "NOT_SUPPORTED"
    assert refused(bi, "EXPLAIN (FORMAT GRAPHVIZ) SELECT 1").error_name == "NOT_SUPPORTED"
    assert refused(bi, "EXPLAIN (TYPE IO) SELECT 1").error_name == "NOT_SUPPORTED"
    assert "TableScan[table = gongyu:information_schema.tables]" in plan_text(
        bi, "EXPLAIN SHOW TABLES"
    )


def test_explain_io_counts_the_rows_the_caller_may_read(bi: Served) -> None:
    sql = "EXPLAIN (TYPE IO, FORMAT JSON) SELECT amount FROM cases_restricted WHERE n > 1"
    owner = json.loads(plan_text(bi, sql))
    grantee = json.loads(plan_text(bi, sql, GRANTEE))
    for document, rows in ((owner, ROWS), (grantee, ROWS / 4)):
        [table] = document["inputTableColumnInfos"]
        assert table["table"] == {
            "catalog": "gongyu",
            "schemaTable": {"schema": "welfare_safety", "table": "cases_restricted"},
        }
        assert table["estimate"]["outputRowCount"] == rows
        assert set(document["estimate"]) == {
            "outputRowCount",
            "outputSizeInBytes",
            "cpuCost",
            "maxMemory",
            "networkCost",
        }


@pytest.mark.parametrize(
    "template",
    [
        "EXPLAIN SELECT * FROM welfare_safety.{}",
        "EXPLAIN (TYPE IO, FORMAT JSON) SELECT * FROM welfare_safety.{}",
        "EXPLAIN (TYPE VALIDATE) SELECT * FROM welfare_safety.{}",
        "EXPLAIN (TYPE LOGICAL, FORMAT JSON) SELECT p.n FROM cases_public p "
        "JOIN welfare_safety.{} x ON p.n = x.n",
    ],
)
def test_explain_of_a_hidden_table_fails_as_a_missing_one(bi: Served, template: str) -> None:
    hidden = refused(bi, template.format("cases_private"), OTHER_SECTOR)
    missing = refused(bi, template.format("cases_nowhere"), OTHER_SECTOR)
    assert hidden.error_name == missing.error_name == "TABLE_NOT_FOUND"
    assert hidden.message == missing.message.replace("cases_nowhere", "cases_private")


def test_system_metadata_catalogs(bi: Served) -> None:
    columns, rows = described(bi, "SELECT * FROM system.metadata.catalogs ORDER BY 1")
    assert columns == ["catalog_name", "connector_id", "connector_name"]
    assert rows == [["gongyu", "gongyu", "gongyu"], ["system", "system", "system"]]


def victim(served: Served, caller: str, marker: str) -> dict[str, Any]:
    """A statement left running: its first answer (the client asks for nothing more)."""
    sql = f"SELECT x FROM UNNEST(sequence(1, 5000000)) AS t(x) -- {marker}"
    with served.http(caller) as http:
        answer = http.post(f"{served.server.url}/v1/statement", content=sql).json()
        first = http.get(answer["nextUri"]).json()  # rows are produced, the statement lives
    assert "error" not in first
    return first


def running(served: Served, caller: str) -> list[list[Any]]:
    return served.query(
        "SELECT query_id, state, query, error_code FROM system.runtime.queries", caller
    )


def test_runtime_queries_lists_the_callers_own_statements_only(bi: Served) -> None:
    mine = victim(bi, OWNER, "knpa's secret statement")
    try:
        owner = running(bi, OWNER)
        assert [r[1] for r in owner if r[0] == mine["id"]] == ["RUNNING"]
        # The statement asking is listed too, running, as Trino lists it.
        assert any("system.runtime.queries" in r[2] and r[1] == "RUNNING" for r in owner)
        columns, _ = described(bi, "SELECT * FROM system.runtime.queries")
        assert columns == [
            "query_id",
            "state",
            "user",
            "source",
            "query",
            "resource_group_id",
            "queued_time_ms",
            "analysis_time_ms",
            "planning_time_ms",
            "created",
            "started",
            "last_heartbeat",
            "end",
            "error_type",
            "error_code",
        ]
        for other in (OTHER_SECTOR, "second", GRANTEE):  # another sector, agency colleague…
            seen = running(bi, other)
            assert mine["id"] not in {r[0] for r in seen}
            assert not [r for r in seen if "secret" in r[2]]
    finally:
        with bi.http(OWNER) as http:
            http.delete(mine["nextUri"])
    # Finished statements stay listed for their caller, with how they ended.
    finished = [r for r in running(bi, OWNER) if r[0] == mine["id"]]
    assert finished == [[mine["id"], "FAILED", finished[0][2], "USER_CANCELED"]]


def test_kill_query_cancels_only_the_callers_own_statement(bi: Served) -> None:
    mine = victim(bi, OWNER, "to be killed")
    unknown = "20240101_000000_00001_abcde"

    def kill(query_id: str, caller: str) -> TrinoUserError:
        return refused(
            bi,
            f"CALL system.runtime.kill_query(query_id => '{query_id}', message => 'stop')",
            caller,
        )

    # Anyone else — another sector or a colleague of the same agency — learns nothing: the
    # statement is "not found", exactly as one that never existed, and keeps running.
    for other in (OTHER_SECTOR, "second"):
        theirs, nothing = kill(mine["id"], other), kill(unknown, other)
        assert theirs.error_name == nothing.error_name == "NOT_FOUND"
        assert theirs.message == nothing.message.replace(unknown, mine["id"])
    assert [r[1] for r in running(bi, OWNER) if r[0] == mine["id"]] == ["RUNNING"]

    # Its caller kills it, as Superset cancels a query.
    with bi.connect(OWNER) as conn:
        cursor = conn.cursor()
        cursor.execute(
            f"CALL system.runtime.kill_query(query_id => '{mine['id']}', "
            "message => 'Query cancelled by Superset')"
        )
        assert cursor.fetchall() == [[True]]
    with bi.http(OWNER) as http:
        answer = http.get(mine["nextUri"]).json()
    assert answer["stats"]["state"] == "FAILED"
    assert (answer["error"]["errorName"], answer["error"]["errorCode"]) == (
        "ADMINISTRATIVELY_KILLED",
        38,
    )
    assert answer["error"]["message"] == "Query killed. Message: Query cancelled by Superset"
    assert kill(mine["id"], OWNER).error_name == "NOT_SUPPORTED"  # not running any more
    assert kill(unknown, OWNER).error_name == "NOT_FOUND"
    assert refused(bi, "CALL system.runtime.nothing()").error_name == "PROCEDURE_NOT_FOUND"
    bad = refused(bi, "CALL system.runtime.kill_query(query_id => 'x''; --')")
    assert bad.error_name == "INVALID_PROCEDURE_ARGUMENT"

    records = [r for r in bi.platform.audit.records(limit=30) if "to be killed" in r.statement]
    completed = [r for r in records if r.outcome != "opened"]
    assert [(r.outcome, r.error) for r in completed] == [
        ("cancelled", "Query killed. Message: Query cancelled by Superset")
    ]
    calls = [r for r in bi.platform.audit.records(limit=30) if "kill_query" in r.statement]
    assert {r.agency for r in calls} >= {OWNER, OTHER_SECTOR}
    assert bi.platform.audit.verify().ok


def test_kill_query_stops_a_statement_its_client_is_reading(bi: Served) -> None:
    """A client reading pages (as Superset's SQL Lab does) gets the kill on its next page, and
    the query stops."""
    tables = ", ".join(f"cases_public t{i}" for i in range(6))
    product = " * ".join(f"t{i}.n" for i in range(6))
    sql = f"SELECT {product} FROM {tables} -- read on"  # billions of rows
    outcome: dict[str, Any] = {}
    reading = threading.Event()

    def run() -> None:
        with bi.connect(OWNER) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute(sql)
                while cursor.fetchmany(10_000):
                    reading.set()
            except TrinoUserError as error:
                outcome["error"] = (error.error_name, error.message)

    thread = threading.Thread(target=run)
    thread.start()
    assert reading.wait(30)
    [query_id] = [r[0] for r in running(bi, OWNER) if "-- read on" in r[2] and r[1] == "RUNNING"]
    bi.query(f"CALL system.runtime.kill_query('{query_id}', 'enough')")
    thread.join(timeout=30)
    assert outcome == {"error": ("ADMINISTRATIVELY_KILLED", "Query killed. Message: enough")}
    state = [r[1:] for r in running(bi, OWNER) if r[0] == query_id]
    assert [(s[0], s[2]) for s in state] == [("FAILED", "ADMINISTRATIVELY_KILLED")]
