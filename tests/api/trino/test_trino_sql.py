"""Trino statements planned against a caller's catalog, and Arrow values in Trino's JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from api.trino.dialect import Session
from api.trino.errors import TrinoError
from api.trino.metadata import Catalog, ColumnInfo, TableInfo
from api.trino.plan import Done, Run, plan
from api.trino.types import BIGINT, VARCHAR, TrinoType, rows_json, trino_type

CATALOG = Catalog(
    (
        TableInfo(
            "welfare_safety",
            "cases_public",
            (ColumnInfo("sido", VARCHAR, "시·도"), ColumnInfo("n", BIGINT)),
            "cases",
        ),
        TableInfo("transport_logistics", "centers", (ColumnInfo("name", VARCHAR),)),
    )
)
SESSION = Session(user="key-1", catalog="gongyu", schema="welfare_safety")


def duckdb_rows(sql: str, session: Session = SESSION) -> list[tuple]:
    """Plan a statement and run the DuckDB SQL it becomes (metadata needs no tables)."""
    planned = plan(sql, session, CATALOG)
    assert isinstance(planned, Run)
    return duckdb.sql(planned.sql).fetchall()


def error(sql: str, session: Session = SESSION) -> TrinoError:
    with pytest.raises(TrinoError) as raised:
        plan(sql, session, CATALOG)
    return raised.value


def test_tables_resolve_against_the_session() -> None:
    assert plan("SELECT n FROM cases_public;", SESSION, CATALOG) == Run(
        "SELECT n FROM welfare_safety.cases_public"
    )
    assert plan('SELECT c.n FROM "gongyu".welfare_safety.CASES_PUBLIC c', SESSION, CATALOG) == Run(
        "SELECT c.n FROM welfare_safety.cases_public AS c"
    )
    with_cte = plan(
        "WITH cases_public AS (SELECT 1 AS n) SELECT n FROM cases_public", SESSION, CATALOG
    )
    assert isinstance(with_cte, Run) and "welfare_safety" not in with_cte.sql
    missing = error("SELECT 1 FROM cases_public", Session(user="k"))
    assert (missing.name, missing.location) == ("MISSING_SCHEMA_NAME", (1, 15))
    assert error("SELECT 1 FROM hive.s.t").name == "CATALOG_NOT_FOUND"


@pytest.mark.parametrize(
    "template",
    [
        "SELECT * FROM welfare_safety.{}",
        "SELECT * FROM {}",
        "DESCRIBE {}",
        "SHOW COLUMNS FROM welfare_safety.{}",
        "SHOW CREATE TABLE {}",
        "SELECT * FROM cases_public JOIN (SELECT * FROM {}) x ON true",
    ],
)
def test_a_table_not_in_the_catalog_fails_as_missing(template: str) -> None:
    # The catalog is what the caller sees: a hidden table and a typo are the same to it.
    failed = error(template.format("cases_private"))
    assert failed.name == "TABLE_NOT_FOUND"
    assert "Table 'gongyu.welfare_safety.cases_private' does not exist" in failed.message


def test_a_schema_without_visible_tables_fails_as_missing() -> None:
    for sql in ("SHOW TABLES FROM finance_insurance", "USE finance_insurance"):
        assert error(sql).name == "SCHEMA_NOT_FOUND"
    assert error("SELECT * FROM finance_insurance.x").message.endswith(
        "Schema 'finance_insurance' does not exist"
    )


def test_metadata_lists_only_the_catalog() -> None:
    assert duckdb_rows("SHOW CATALOGS") == [("gongyu",)]
    assert duckdb_rows("SHOW SCHEMAS") == [
        ("information_schema",),
        ("transport_logistics",),
        ("welfare_safety",),
    ]
    assert duckdb_rows("SHOW TABLES LIKE 'cases\\_%' ESCAPE '\\'") == [("cases_public",)]
    assert duckdb_rows("DESCRIBE cases_public") == [
        ("sido", "varchar", "", "시·도"),
        ("n", "bigint", "", None),
    ]
    tables = "SELECT table_schema, table_name, table_comment FROM information_schema.tables "
    assert duckdb_rows(tables + "WHERE table_schema <> 'information_schema'") == [
        ("welfare_safety", "cases_public", "cases"),
        ("transport_logistics", "centers", None),
    ]
    # Hidden columns (as Trino's) appear only when named.
    assert len(duckdb_rows("SELECT * FROM information_schema.tables")[0]) == 4
    assert duckdb_rows("SELECT * FROM system.jdbc.table_types ORDER BY 1") == [
        ("TABLE",),
        ("VIEW",),
    ]
    assert duckdb_rows("SELECT count(*) FROM system.jdbc.types")[0][0] > 10
    assert error("SELECT * FROM system.runtime.nodes").name == "TABLE_NOT_FOUND"
    assert error("SELECT * FROM information_schema.roles").name == "TABLE_NOT_FOUND"


def test_session_functions_and_statements() -> None:
    assert duckdb_rows("SELECT current_user, current_catalog, current_schema, version()") == [
        ("key-1", "gongyu", "welfare_safety", "476")
    ]
    assert plan("USE gongyu.transport_logistics", SESSION, CATALOG) == Done(
        "USE", {"X-Trino-Set-Schema": "transport_logistics", "X-Trino-Set-Catalog": "gongyu"}
    )
    assert plan("SET SESSION query_max_run_time = '10m'", SESSION, CATALOG) == Done(
        "SET SESSION", {"X-Trino-Set-Session": "query_max_run_time=10m"}
    )
    started = plan("START TRANSACTION READ ONLY", SESSION, CATALOG)
    assert isinstance(started, Done) and started.headers["X-Trino-Started-Transaction-Id"]
    assert plan("COMMIT", SESSION, CATALOG) == Done(
        "COMMIT", {"X-Trino-Clear-Transaction-Id": "true"}
    )
    assert plan("PREPARE q1 FROM SELECT ?", SESSION, CATALOG) == Done(
        "PREPARE", {"X-Trino-Added-Prepare": "q1=SELECT+%3F"}
    )


def test_execute_binds_parameters_in_order() -> None:
    session = Session(
        user="k",
        schema="welfare_safety",
        prepared={"q1": "SELECT n, '?' FROM cases_public WHERE sido = ? AND n > ?"},
    )
    assert plan("EXECUTE q1 USING 'it''s', 3", session, CATALOG) == Run(
        "SELECT n, '?' AS _col1 FROM welfare_safety.cases_public WHERE sido = 'it''s' AND n > 3"
    )
    immediate = "EXECUTE IMMEDIATE 'SELECT ?, ?' USING DATE '2024-01-02', 1.5"
    assert duckdb_rows(immediate) == [(date(2024, 1, 2), Decimal("1.5"))]
    assert error("EXECUTE q1 USING 1", session).name == "INVALID_PARAMETER_USAGE"
    assert error("EXECUTE q1 USING 1, 2 FROM cases_public", session).name == "SYNTAX_ERROR"
    assert error("EXECUTE nowhere").name == "NOT_FOUND"
    assert error("SELECT ?").name == "INVALID_PARAMETER_USAGE"


def test_integers_divide_as_in_trino() -> None:
    assert duckdb_rows("SELECT 7 / 2, -7 / 2, CAST(7 AS double) / 2") == [(3, -3, 3.5)]
    planned = plan("SELECT sum(n) / count(*), n / 2.5 FROM cases_public", SESSION, CATALOG)
    assert planned == Run(  # Trino's sum of integers is a bigint; dividing by zero fails
        "SELECT CAST(SUM(n) AS BIGINT) // CASE WHEN COUNT(*) = 0 THEN ERROR('Division by zero') "
        "ELSE COUNT(*) END AS _col0, n / 2.5 AS _col1 FROM welfare_safety.cases_public"
    )


def test_statements_that_are_not_queries_are_refused() -> None:
    assert error("SELECT * FORM cases_public").name == "SYNTAX_ERROR"
    assert error("SHOW GRANTS").name == "SYNTAX_ERROR"
    assert error("").name == "SYNTAX_ERROR"
    for sql in ("INSERT INTO cases_public VALUES ('x', 1)", "DROP TABLE cases_public"):
        assert error(sql).name == "PERMISSION_DENIED"
    assert error("DESCRIBE OUTPUT q1").name == "NOT_SUPPORTED"


@pytest.mark.parametrize(
    ("arrow", "name"),
    [
        (pa.int64(), "bigint"),
        (pa.int32(), "integer"),
        (pa.float32(), "real"),
        (pa.string(), "varchar"),
        (pa.decimal128(12, 3), "decimal(12,3)"),
        (pa.timestamp("ms"), "timestamp(3)"),
        (pa.timestamp("us", tz="Asia/Seoul"), "timestamp(6) with time zone"),
        (pa.time64("us"), "time(6)"),
        (pa.list_(pa.string()), "array(varchar)"),
        (pa.map_(pa.string(), pa.int64()), "map(varchar, bigint)"),
        (pa.struct([("a b", pa.int8())]), 'row("a b" tinyint)'),
        (pa.dictionary(pa.int32(), pa.string()), "varchar"),
        (pa.month_day_nano_interval(), "varchar"),
    ],
)
def test_arrow_types_as_trino_types(arrow: pa.DataType, name: str) -> None:
    assert trino_type(arrow).name == name


def test_type_signatures() -> None:
    row = trino_type(pa.struct([("x", pa.timestamp("s"))]))
    assert row.signature() == {
        "rawType": "row",
        "arguments": [
            {
                "kind": "NAMED_TYPE",
                "value": {
                    "typeSignature": {
                        "rawType": "timestamp",
                        "arguments": [{"kind": "LONG", "value": 0}],
                    },
                    "fieldName": {"name": "x"},
                },
            }
        ],
    }
    assert TrinoType("array", params=((None, BIGINT),)).signature()["arguments"] == [
        {"kind": "TYPE", "value": {"rawType": "bigint", "arguments": []}}
    ]


def test_values_in_trino_json() -> None:
    moment = datetime(2024, 1, 1, 5, 0, 0, 123456)
    batch = pa.RecordBatch.from_pydict(
        {
            "ts": pa.array([moment, None], pa.timestamp("us")),
            "ts0": pa.array([moment, None], pa.timestamp("s")),
            "tz": pa.array([moment.replace(tzinfo=UTC), None], pa.timestamp("us", tz="Asia/Seoul")),
            "d": pa.array([date(2024, 1, 2), None]),
            "t": pa.array([time(12, 0, 1, 500000), None], pa.time64("us")),
            "dec": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
            "f": pa.array([float("nan"), float("-inf")]),
            "b": pa.array([b"\x01\x02", None]),
            "l": pa.array([[moment], None], pa.list_(pa.timestamp("ms"))),
            "s": pa.array([{"x": 1, "y": "a"}, None]),
            "m": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
            "i": pa.array([pa.MonthDayNano([1, 2, 3_000_000_000]), None]),
            "text": pa.array(["한국", None]),
        }
    )
    types = [trino_type(f.type) for f in batch.schema]
    first, second = json.loads(rows_json(batch, types))
    assert first == [
        "2024-01-01 05:00:00.123456",
        "2024-01-01 05:00:00",
        "2024-01-01 05:00:00.123456 UTC",
        "2024-01-02",
        "12:00:01.500000",
        "1.50",
        "NaN",
        "AQI=",
        ["2024-01-01 05:00:00.123"],
        [1, "a"],
        {"k": 1},
        "P1M2DT3S",
        "한국",
    ]
    assert second[:6] == [None] * 6 and second[6] == "-Infinity" and second[7:] == [None] * 6
