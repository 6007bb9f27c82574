"""What Metabase's and Superset's Trino drivers send when they connect and sync, vendored from
their sources, run through the real `trino` client: each answers as Trino would, or is refused
with a clear Trino error, and none tells a low-privilege caller of tables it may not read.

Provenance (read 2026-12; each statement below names the function that sends it):
- Metabase, `metabase/metabase` @ 50ed6a81c27805d092471a225cfe686281cd0a29,
  `modules/drivers/starburst/src/metabase/driver/starburst.clj` (the Starburst / Trino driver:
  `can-connect?`, `describe-catalog-sql`, `describe-schema-sql`, `describe-table-sql`,
  `have-select-privilege?`, `db-default-timezone`, the query processor's date functions and
  `query->remark`), and `src/metabase/driver/sql_jdbc/connection.clj` (`can-connect-with-spec?`,
  the `SELECT 1` every sql-jdbc driver sends first).
- Superset 6.1.0 (the `apache-superset` wheel on PyPI), `superset/db_engine_specs/presto.py`
  (`PrestoBaseEngineSpec`: `get_catalog_names`, `estimate_statement_cost`,
  `get_function_names`, `_partition_query`, `_show_columns`, `convert_dttm`, `epoch_to_dttm`,
  `_time_grain_expressions`; `PrestoEngineSpec.get_create_view`), `superset/db_engine_specs/
  trino.py` (`TrinoEngineSpec.cancel_query`, `get_columns`, `get_indexes`) and `base.py`
  (`select_star`).
- The trino SQLAlchemy dialect Superset drives, `trino` 0.340.0 (this venv's),
  `trino/sqlalchemy/dialect.py`: `get_catalog_names`, `get_schema_names`, `has_schema`,
  `get_table_names`, `get_view_names`, `get_view_definition`, `has_table`, `_get_columns`,
  `_get_partitions` (from `get_indexes`), `get_table_comment`, `_get_server_version_info`
  (`get_pk_constraint`, `get_foreign_keys` and the other constraint methods send nothing).
  Their `:schema`/`:table` parameters are bound here to the test's names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from trino.auth import JWTAuthentication
from trino.exceptions import TrinoUserError

from tests.api.trino.test_trino import Served
from tests.api.trino.test_trino_bi_statements import bi  # noqa: F401  (the served world)
from tests.api.world import OTHER_SECTOR, OWNER, ROWS

Answer = tuple[list[str], list[list[Any]]]


@dataclass(frozen=True)
class Sent:
    """One statement a driver sends, and what a Trino coordinator answers."""

    source: str  # project: function
    sql: str
    answer: Callable[[list[str], list[list[Any]]], bool] | str  # a check, or Trino's error name


def rows(expected: list[list[Any]]) -> Callable[[list[str], list[list[Any]]], bool]:
    return lambda _, got: got == expected


def column(name: str, values: set[Any]) -> Callable[[list[str], list[list[Any]]], bool]:
    return lambda names, got: names == [name] and {r[0] for r in got} == values


def one(check: Callable[[Any], bool]) -> Callable[[list[str], list[list[Any]]], bool]:
    return lambda _, got: len(got) == 1 and check(got[0][0])


TABLES = {"cases_public", "cases_sector", "cases_restricted", "cases_private"}
COLUMNS = [["person"], ["sido"], ["n"], ["amount"]]
TS = "(VALUES TIMESTAMP '2024-01-03 04:05:06.789') AS t(ts)"  # a chart's time column
METABASE = "metabase starburst.clj"
SUPERSET = "superset 6.1.0 presto.py"
DIALECT = "trino 0.340.0 sqlalchemy/dialect.py"

STATEMENTS = [
    # Metabase connects, then syncs.
    Sent("metabase sql_jdbc/connection.clj: can-connect-with-spec?", "SELECT 1", rows([[1]])),
    Sent(f"{METABASE}: can-connect?", "SHOW CATALOGS LIKE 'gongyu'", rows([["gongyu"]])),
    Sent(
        f"{METABASE}: describe-catalog-sql",
        'SHOW SCHEMAS FROM "gongyu"',
        column("Schema", {"information_schema", "welfare_safety"}),
    ),
    Sent(
        f"{METABASE}: describe-schema-sql",
        'SHOW TABLES FROM "gongyu"."welfare_safety"',
        column("Table", TABLES),
    ),
    Sent(
        f"{METABASE}: describe-table-sql, have-select-privilege?",
        'DESCRIBE "gongyu"."welfare_safety"."cases_private"',
        lambda names, got: (
            names == ["Column", "Type", "Extra", "Comment"]
            and [r[:2] for r in got]
            == [["person", "varchar"], ["sido", "varchar"], ["n", "bigint"], ["amount", "bigint"]]
        ),
    ),
    Sent(
        f"{METABASE}: db-default-timezone",
        'SELECT current_timezone() as "time-zone"',
        lambda names, got: names == ["time-zone"] and got in ([["UTC"]], [["Asia/Seoul"]]),
    ),
    Sent(
        f"{METABASE}: query->remark (sql-jdbc prefixes every query with it)",
        "-- Metabase:: userID: 1 queryType: MBQL queryHash: 0a1b accountID: x cardID: 2\n"
        'SELECT "welfare_safety"."cases_public"."sido" AS "sido", count(*) AS "count" '
        'FROM "welfare_safety"."cases_public" GROUP BY 1 ORDER BY 1 ASC',
        lambda names, got: names == ["sido", "count"] and sum(r[1] for r in got) == ROWS,
    ),
    Sent(
        f"{METABASE}: date bucketing, add-interval, datetime-diff, median, log, mod",
        "SELECT date_trunc('week', ts), day_of_week(ts), date_add('day', 1, ts), "
        "date_diff('day', date(ts), date(ts)), log10(100e0), "
        f"mod(7, 3), regexp_extract('a1', '[0-9]'), week(ts), day_of_year(ts) FROM {TS}",
        lambda _, got: got[0][1:] == [3, got[0][2], 0, 2.0, 1, "1", 1, 3],
    ),
    Sent(
        f"{METABASE}: median, percentile",
        "SELECT approx_percentile(n, 0.5), approx_percentile(CAST(n AS double), 0.9) "
        'FROM "welfare_safety"."cases_public"',
        lambda _, got: 19 <= got[0][0] <= 22 and 35 <= got[0][1] <= 38,
    ),
    Sent(
        f"{METABASE}: cast-temporal-string YYYYMMDDHHMMSSString, unix-timestamp (report zone)",
        "SELECT date_parse('20240103040506', '%Y%m%d%H%i%s'), "
        "from_unixtime(86400, 'UTC'), from_iso8601_timestamp('2024-01-03T04:05:06Z')",
        lambda _, got: got[0][0].isoformat() == "2024-01-03T04:05:06",
    ),
    Sent(
        f"{METABASE}: convert-timezone, in-report-zone",
        "SELECT at_timezone(with_timezone(ts, 'UTC'), 'Asia/Seoul'), "
        f"ts AT TIME ZONE 'Asia/Seoul' FROM {TS}",
        lambda _, got: len(got) == 1,
    ),
    # Superset connects (the dialect), lists catalogs, schemas, tables, then a table's columns.
    Sent("sqlalchemy: do_ping", "SELECT 1", rows([[1]])),
    Sent(f"{DIALECT}: _get_server_version_info", "SELECT version()", rows([["476"]])),
    Sent(
        f"{DIALECT}: get_catalog_names",
        'SELECT "table_cat"\nFROM "system"."jdbc"."catalogs"',
        rows([["gongyu"]]),
    ),
    Sent(f"{SUPERSET}: get_catalog_names", "SHOW CATALOGS", column("Catalog", {"gongyu"})),
    Sent(
        f"{DIALECT}: get_schema_names",
        'SELECT "schema_name"\nFROM "information_schema"."schemata"',
        column("schema_name", {"information_schema", "welfare_safety"}),
    ),
    Sent(
        f"{DIALECT}: has_schema",
        'SELECT "schema_name"\nFROM "information_schema"."schemata"\n'
        "WHERE \"schema_name\" = 'welfare_safety'",
        rows([["welfare_safety"]]),
    ),
    Sent(
        f"{DIALECT}: get_table_names",
        'SELECT "table_name"\nFROM "information_schema"."tables"\n'
        "WHERE \"table_schema\" = 'welfare_safety'\n  AND \"table_type\" = 'BASE TABLE'",
        column("table_name", TABLES),
    ),
    Sent(
        f"{DIALECT}: get_view_names",
        'SELECT "table_name"\nFROM "information_schema"."tables"\n'
        "WHERE \"table_schema\" = 'welfare_safety'\n  AND \"table_type\" = 'VIEW'",
        rows([]),
    ),
    Sent(
        f"{DIALECT}: get_view_definition",
        'SELECT "view_definition"\nFROM "information_schema"."views"\n'
        "WHERE \"table_schema\" = 'welfare_safety'\n  AND \"table_name\" = 'cases_public'",
        rows([]),
    ),
    Sent(
        f"{DIALECT}: has_table",
        'SELECT "table_name"\nFROM "information_schema"."tables"\n'
        "WHERE \"table_schema\" = 'welfare_safety'\n  AND \"table_name\" = 'cases_private'",
        rows([["cases_private"]]),
    ),
    Sent(
        f"{DIALECT}: _get_columns",
        'SELECT\n    "column_name",\n    "data_type",\n    "column_default",\n'
        '    UPPER("is_nullable") AS "is_nullable",\n    "comment"\n'
        'FROM "information_schema"."columns"\n'
        "WHERE \"table_schema\" = 'welfare_safety'\n  AND \"table_name\" = 'cases_private'\n"
        'ORDER BY "ordinal_position" ASC',
        lambda names, got: (
            names == ["column_name", "data_type", "column_default", "is_nullable", "comment"]
            and [r[0] for r in got] == ["person", "sido", "n", "amount"]
            and {r[3] for r in got} == {"YES"}
        ),
    ),
    Sent(
        f"{DIALECT}: get_indexes -> _get_partitions (an error means: no partitions)",
        'SELECT * FROM welfare_safety."cases_public$partitions"',
        "TABLE_NOT_FOUND",
    ),
    Sent(
        f"{DIALECT}: get_table_comment",
        'SELECT "comment"\nFROM "system"."metadata"."table_comments"\n'
        "WHERE \"catalog_name\" = 'gongyu'\n  AND \"schema_name\" = 'welfare_safety'\n"
        "  AND \"table_name\" = 'cases_private'",
        rows([["cases at private"]]),
    ),
    Sent(
        f"{SUPERSET}: _show_columns (get_columns when the dialect finds no table)",
        'SHOW COLUMNS FROM "welfare_safety"."cases_private"',
        lambda names, got: (
            names == ["Column", "Type", "Extra", "Comment"] and [r[:1] for r in got] == COLUMNS
        ),
    ),
    Sent(
        f"{SUPERSET}: PrestoEngineSpec.get_create_view (a table is not a view)",
        "SHOW CREATE VIEW welfare_safety.cases_public",
        "NOT_SUPPORTED",
    ),
    Sent(
        f"{SUPERSET}: _partition_query (only for a table with partition indexes)",
        'SELECT * FROM welfare_safety."cases_public$partitions"\n\nORDER BY sido DESC\nLIMIT 1',
        "TABLE_NOT_FOUND",
    ),
    Sent(
        f"{SUPERSET}: get_function_names",
        "SHOW FUNCTIONS",
        lambda names, got: names[0] == "Function" and len(got) > 100,
    ),
    Sent(
        "superset 6.1.0 base.py: select_star",
        'SELECT *\nFROM "welfare_safety"."cases_public"\nLIMIT 100',
        lambda names, got: names == ["person", "sido", "n", "amount"] and len(got) == ROWS,
    ),
    Sent(
        f"{SUPERSET}: estimate_statement_cost",
        'EXPLAIN (TYPE IO, FORMAT JSON) SELECT * FROM "welfare_safety"."cases_public" LIMIT 100',
        one(
            lambda text: (
                json.loads(text)["inputTableColumnInfos"][0]["estimate"]["outputRowCount"] == ROWS
            )
        ),
    ),
    Sent(
        f"{SUPERSET}: _time_grain_expressions (every grain), convert_dttm, epoch_to_dttm",
        "SELECT date_trunc('second', CAST(ts AS TIMESTAMP)), "
        "date_trunc('second', CAST(ts AS TIMESTAMP)) - interval '1' second * "
        "(second(CAST(ts AS TIMESTAMP)) % 5), "
        "date_trunc('minute', CAST(ts AS TIMESTAMP)) - interval '1' minute * "
        "(minute(CAST(ts AS TIMESTAMP)) % 15), "
        "date_trunc('hour', CAST(ts AS TIMESTAMP)) - interval '1' hour * "
        "(hour(CAST(ts AS TIMESTAMP)) % 6), "
        "date_trunc('quarter', CAST(ts AS TIMESTAMP)), "
        "date_trunc('week', CAST(ts AS TIMESTAMP) + interval '1' day) - interval '1' day, "
        "date_trunc('week', CAST(ts AS TIMESTAMP) + interval '1' day) + interval '5' day, "
        "date_trunc('week', CAST(ts AS TIMESTAMP)) + interval '6' day, "
        "from_unixtime(1700000000) "
        f"FROM {TS} WHERE ts >= TIMESTAMP '2024-01-01 00:00:00.000000' "
        "AND date(ts) < DATE '2024-02-01'",
        lambda _, got: (
            [v.isoformat() for v in got[0][:8]]
            == [
                "2024-01-03T04:05:06",
                "2024-01-03T04:05:05",
                "2024-01-03T04:00:00",
                "2024-01-03T00:00:00",
                "2024-01-01T00:00:00",
                "2023-12-31T00:00:00",
                "2024-01-06T00:00:00",
                "2024-01-07T00:00:00",
            ]
        ),
    ),
    Sent(
        "superset 6.1.0 trino.py: cancel_query (a query that already ended)",
        "CALL system.runtime.kill_query(query_id => '20240101_000000_00001_abcde',"
        "message => 'Query cancelled by Superset')",
        "NOT_FOUND",
    ),
]


def run(served: Served, sql: str, caller: str = OWNER) -> Answer:
    with served.connect(caller) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        got = cursor.fetchall()
        return [d[0] for d in cursor.description], got


@pytest.mark.parametrize("sent", STATEMENTS, ids=[s.source for s in STATEMENTS])
def test_each_statement_answers_as_trino(bi: Served, sent: Sent) -> None:  # noqa: F811
    if isinstance(sent.answer, str):
        with pytest.raises(TrinoUserError) as raised:
            run(bi, sent.sql)
        assert raised.value.error_name == sent.answer
        assert "Traceback" not in raised.value.message
        return
    names, got = run(bi, sent.sql)
    assert sent.answer(names, got), (names, got)


@pytest.mark.parametrize("sent", STATEMENTS, ids=[s.source for s in STATEMENTS])
def test_a_low_privilege_caller_learns_nothing_of_hidden_tables(
    bi: Served,  # noqa: F811
    sent: Sent,
) -> None:
    """kotsa (another sector) reads only cases_public: whatever the statement, no answer or
    error names the other three, and asking about one fails as asking about a missing one."""
    hidden = TABLES - {"cases_public"}
    try:
        names, got = run(bi, sent.sql, OTHER_SECTOR)
    except TrinoUserError as error:
        missing, message = sent.sql, error.message
        for table in hidden:
            missing = missing.replace(table, "cases_nowhere")
            message = message.replace(table, "cases_nowhere")
        if missing != sent.sql:  # the same error, word for word, as for a missing table
            with pytest.raises(TrinoUserError) as raised:
                run(bi, missing, OTHER_SECTOR)
            assert (raised.value.error_name, raised.value.message) == (error.error_name, message)
        else:
            assert not [t for t in hidden if t in error.message], error.message
        return
    text = json.dumps([names, got], default=str, ensure_ascii=False)
    assert not [t for t in hidden if t in text], text


def test_the_sqlalchemy_inspector_superset_uses(bi: Served) -> None:  # noqa: F811
    """The dialect's own methods, as Superset calls them (bound parameters and all)."""
    url = f"trino://knpa@127.0.0.1:{bi.server.port}/gongyu"
    connect_args = {
        "http_scheme": "https",
        "auth": JWTAuthentication(bi.keys[OWNER]),
        "verify": str(bi.server.ca),
    }
    engine = sa.create_engine(url, connect_args=connect_args)
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_schema_names()) == {"information_schema", "welfare_safety"}
        assert set(inspector.get_table_names("welfare_safety")) == TABLES
        assert inspector.get_view_names("welfare_safety") == []
        assert inspector.has_table("cases_private", "welfare_safety")
        assert not inspector.has_table("cases_nowhere", "welfare_safety")
        columns = inspector.get_columns("cases_private", "welfare_safety")
        assert [c["name"] for c in columns] == ["person", "sido", "n", "amount"]
        assert inspector.get_indexes("cases_private", "welfare_safety") == []
        assert inspector.get_pk_constraint("cases_private", "welfare_safety") == {
            "name": None,
            "constrained_columns": [],
        }
        assert inspector.get_table_comment("cases_private", "welfare_safety") == {
            "text": "cases at private"
        }
    finally:
        engine.dispose()
