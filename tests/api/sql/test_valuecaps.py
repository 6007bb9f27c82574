"""Values a query builds are capped where DuckDB's memory limit does not count them: every
function whose output size an argument's value sets (found in DuckDB's own function list, not
guessed) is guarded or bounded by DuckDB itself; bombs of each kind are refused over HTTP with
an error naming the cap; guarded calls answer exactly as before; aggregates over huge inputs
are held by the sandbox's memory limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot

from gongyu.query.valuecaps import cap_values
from tests.api.world import OTHER_SECTOR, World, table, world

CAP = 65_536
# A call of each function the rewrite guards (DuckDB's names), small enough to run.
GUARDED = {
    "repeat": "repeat('ab', 3)",
    "lpad": "lpad('x', 4, '0')",
    "rpad": "rpad('x', 4, '0')",
    "list_resize": "list_resize([1, 2], 4)",
    "array_resize": "array_resize([1, 2], 4, 0)",
    "range": "range(1, 9, 2)",
    "generate_series": "generate_series(1, 5)",
    "bitstring": "bitstring('101', 8)",
    "equi_width_bins": "equi_width_bins(0, 10, 5, true)",
    "replace": "replace('a-b-c', '-', '--')",
    "regexp_replace": r"regexp_replace('a1b22', '(\d+)', '<\1>', 'g')",
    "concat": "concat('a', 1, NULL, 'b')",
    "concat_ws": "concat_ws('/', 'a', 'b', 'c')",
    "||": "'ab' || 'cd'",
    "list_concat": "list_concat([1], [2, 3])",
    "array_to_string": "array_to_string([1, 2, 3], '-')",
    "list_aggr": "list_aggr(['a', 'b'], 'string_agg', '+')",
}
# Functions DuckDB itself bounds, whatever their arguments (its error when asked for more).
BOUNDED_BY_DUCKDB = {
    "bar": "Max bar width must be <= 1000",
    "to_base": "min_length must be between 0 and 64",
}
# Functions whose output is no larger than their input, a small constant, or a list the
# statement spells out (an integer picks a part, a position or a type, not a size).
NO_LARGER_THAN_INPUT = {
    "->>", "<<", ">>", "__internal_decompress_string", "alias", "array_extract", "array_slice",
    "bin", "cast_to_type", "chr", "constant_or_null", "create_sort_key", "enum_code",
    "enum_first", "enum_last", "enum_range", "enum_range_boundary", "formatReadableDecimalSize",
    "formatReadableSize", "format_bytes", "greatest", "hex", "json_extract", "json_extract_path",
    "json_extract_path_text", "json_extract_string", "json_value", "least", "left",
    "left_grapheme", "list_element", "list_extract", "list_pack", "list_slice", "list_value",
    "regexp_extract", "regexp_extract_all", "remap_struct", "replace_type", "right",
    "right_grapheme", "set_bit", "stats", "struct_extract", "struct_extract_at", "struct_keys",
    "substr", "substring", "substring_grapheme", "to_binary", "to_hex", "typeof", "vector_type",
}  # fmt: skip
# Higher-order functions: what they build is their lambda's output, whose calls are guarded.
LAMBDAS = {"array_reduce", "list_reduce", "reduce"}


def enumerated() -> set[str]:
    """DuckDB's scalar functions that build a string, blob, bit string, list or map and take
    an integer (or any value) that could set its size."""
    rows = (
        duckdb.connect()
        .execute(
            """
        SELECT DISTINCT function_name FROM duckdb_functions()
        WHERE function_type = 'scalar'
          AND (return_type IN ('VARCHAR', 'BLOB', 'BIT', 'ANY', 'JSON')
               OR return_type LIKE '%[]' OR return_type LIKE 'MAP%' OR return_type LIKE '%[%]')
          AND list_has_any(parameter_types, ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT',
              'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'ANY', 'T'])
        """
        )
        .fetchall()
    )
    return {name for (name,) in rows}


def capped(sql: str) -> str:
    return cap_values(sqlglot.parse_one(sql, read="duckdb"), CAP).sql(dialect="duckdb")


def test_every_function_sized_by_an_argument_is_guarded_or_bounded() -> None:
    found = enumerated()
    known = set(GUARDED) | set(BOUNDED_BY_DUCKDB) | NO_LARGER_THAN_INPUT | LAMBDAS
    assert found - known == set(), "classify these in gongyu/query/valuecaps.py or here"
    con = duckdb.connect()
    for name, call in GUARDED.items():
        rewritten = capped(f"SELECT {call}")
        assert "value cap" in rewritten, name
        # Guarded, the call answers what it did unguarded.
        assert con.execute(rewritten).fetchall() == con.execute(f"SELECT {call}").fetchall()
    for name, refusal in BOUNDED_BY_DUCKDB.items():
        huge = {"bar": "bar(1, 0, 1, 1000000000)", "to_base": "to_base(1, 2, 1000000000)"}
        with pytest.raises(duckdb.Error, match=refusal):
            con.execute(f"SELECT {huge[name]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("valuecaps"), sql_memory_limit="256MB") as w:
        yield w


BOMBS = {
    "repeat": "SELECT length(repeat('x', 300000000))",
    "repeat in every row": "SELECT sum(length(repeat('y', 1000000 + (i % 2)::INT))) "
    "FROM range(3000) t(i)",
    "nested repeat": "SELECT length(repeat(repeat('x', 20000), 20000))",
    "lpad": "SELECT length(lpad('x', 300000000, 'y'))",
    "printf width": "SELECT length(printf('%300000000d', 1))",
    "format width": "SELECT length(format('{:>300000000}', 1))",
    "range as a list": "SELECT len(range(30000000))",
    "list_resize": "SELECT len(list_resize([1], 30000000))",
    "replace": "SELECT length(replace(repeat('a', 20000), 'a', repeat('b', 20000)))",
    "doubling CTE": "WITH RECURSIVE r(s, n) AS (SELECT 'x', 0 UNION ALL "
    "SELECT s || s, n + 1 FROM r WHERE n < 40) SELECT max(length(s)) FROM r",
}


# Trino's `format` is Java's (`%d`), not DuckDB's (`{}`): the same bomb in its own words.
IN_TRINO = {"SELECT length(format('{:>300000000}', 1))": "SELECT length(format('%300000000d', 1))"}


@pytest.mark.parametrize("sql", BOMBS.values(), ids=BOMBS)
def test_bombs_are_refused_naming_the_cap(served: World, sql: str) -> None:
    started = time.monotonic()
    answer = served.sql(OTHER_SECTOR, sql)
    assert answer.status_code == 400, answer.text[:300]
    message = answer.json()["error"]["message"]
    assert "value cap" in message and "GONGYU_SQL_MAX_VALUE_BYTES" in message, message
    assert time.monotonic() - started < 10  # refused before it was built
    assert served.sql(OTHER_SECTOR, "SELECT 1").json()["rows"] == [[1]]
    trino = served.trino(OTHER_SECTOR, IN_TRINO.get(sql, sql))
    assert "value cap" in trino["error"]["message"]


def test_guarded_calls_answer_as_before(served: World) -> None:
    sql = (
        f"SELECT n, sido || '-' || n AS label, lpad(n::VARCHAR, 3, '0') AS padded, "
        f"repeat(sido, 2) AS twice, len(range(n)) AS listed FROM {table('public')} ORDER BY n"
    )
    answer = served.sql(OTHER_SECTOR, sql).json()
    first = answer["rows"][0]
    assert first == [1, "서울-1", "001", "서울서울", 1]
    assert answer["row_count"] == 40


def test_a_series_unnested_in_from_streams(served: World) -> None:
    # Built as a list, 8 bytes a row would be refused; as rows it streams.
    rows = served.sql(OTHER_SECTOR, "SELECT count(*) FROM UNNEST(range(10000000)) AS t(x)")
    assert rows.json()["rows"] == [[10_000_000]]
    trino = served.trino(OTHER_SECTOR, "SELECT count(x) FROM UNNEST(sequence(1, 2000000)) t(x)")
    assert trino["data"] == [[2_000_000]]


def test_aggregates_over_huge_inputs_are_held_by_the_memory_limit(served: World) -> None:
    for sql in (
        "SELECT length(string_agg(repeat('y', 200), '')) FROM range(10000000)",
        "SELECT len(list(i)) FROM range(200000000) t(i)",
        "SELECT len(array_agg(repeat('y', 100))) FROM range(20000000) t(i)",
    ):
        answer = served.sql(OTHER_SECTOR, sql)
        assert answer.status_code == 400 and "Out of Memory" in answer.text, answer.text[:300]


def test_the_cap_is_a_setting_and_bounds_values_not_rows(tmp_path: Path) -> None:
    with world(tmp_path, sql_max_value_bytes=1024) as w:
        ok = w.sql(OTHER_SECTOR, "SELECT count(*) FROM range(100000) t(i), range(3) u(j)")
        assert ok.json()["rows"] == [[300_000]]
        refused = w.sql(OTHER_SECTOR, "SELECT repeat('x', 2000)")
        assert "at most 1,024 bytes" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    "sql",
    [
        # A lambda runs its calls once per element: 8,000 values of 60 KB each, in one row.
        "SELECT sum(len(list_transform(range(8000), x -> repeat('y', 60000 + x % 2)))) "
        "FROM range(4) t(i)",
        "SELECT len(list_transform(range(1000), x -> lpad('', 60000, 'y')))",
        # Many calls in one expression are built for a vector of rows at once: they share.
        "SELECT len([" + ", ".join(["repeat('y', 60000)"] * 40) + "]) FROM range(3000)",
        "SELECT len(" + " || ".join(["repeat('y', 30000)"] * 40) + ") FROM range(3000)",
    ],
    ids=["lambda-fan-out", "lambda-lpad", "wide-list", "wide-concat"],
)
def test_fan_out_within_a_vector_is_capped(served: World, sql: str) -> None:
    answer = served.sql(OTHER_SECTOR, sql)
    assert answer.status_code == 400, answer.text[:300]
    assert "value cap:" in answer.json()["error"]["message"]


def test_a_lambda_may_still_add_short_literals(served: World) -> None:
    answer = served.sql(OTHER_SECTOR, "SELECT list_transform(['a', 'b'], x -> 'Mr. ' || x)")
    assert answer.json()["rows"] == [[["Mr. a", "Mr. b"]]]
