"""Errors as Trino reports them, through the real `trino` client against the served app: the
error's name, code and type from Trino's StandardErrorCode, its `errorLocation` where Trino
gives one, and Trino's wording, never DuckDB's (`Binder Error`, `Catalog Error`, `LINE 1:`).
A table the caller may not read answers exactly as one that does not exist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from trino.exceptions import TrinoUserError

from api.trino.errors import CODES
from tests.api.trino.test_trino import Served
from tests.api.trino.test_trino_semantics_zones import semantics_world
from tests.api.world import OTHER_SECTOR, OWNER

DUCKDB_WORDS = ("Binder Error", "Catalog Error", "Conversion Error", "Parser Error", "LINE 1")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with semantics_world(tmp_path_factory.mktemp("trino-errors")) as world:
        yield world


def failure(served: Served, sql: str, caller: str = OWNER) -> TrinoUserError:
    with pytest.raises(TrinoUserError) as raised:
        served.query(sql, caller)
    error = raised.value
    assert error.error_type == "USER_ERROR"
    assert not any(word in error.message for word in DUCKDB_WORDS), error.message
    return error


@pytest.mark.parametrize(
    ("sql", "name", "code", "message", "where"),
    [
        (
            "SELECT nowhere FROM cases_public",
            "COLUMN_NOT_FOUND",
            47,
            "line 1:8: Column 'nowhere' cannot be resolved",
            (1, 8),
        ),
        (
            "SELECT sido,\n  c.nowhere FROM cases_public c",
            "COLUMN_NOT_FOUND",
            47,
            "line 2:3: Column 'c.nowhere' cannot be resolved",
            (2, 3),
        ),
        (
            "SELECT n FROM cases_public WHERE x.n > 1",
            "COLUMN_NOT_FOUND",
            47,
            "line 1:34: Column 'x.n' cannot be resolved",
            (1, 34),
        ),
        (
            "SELECT sido AS s, count(*) FROM cases_public GROUP BY s",  # no aliases in GROUP BY
            "COLUMN_NOT_FOUND",
            47,
            "line 1:55: Column 's' cannot be resolved",
            (1, 55),
        ),
        (
            "SELECT * FROM nowhere",
            "TABLE_NOT_FOUND",
            46,
            "line 1:15: Table 'gongyu.welfare_safety.nowhere' does not exist",
            (1, 15),
        ),
        (
            "SELECT nowhere(n) FROM cases_public",
            "FUNCTION_NOT_FOUND",
            6,
            "line 1:8: Function 'nowhere' not registered",
            (1, 8),
        ),
        (
            "SELECT n FROM cases_public WHERE sido = 1",
            "TYPE_MISMATCH",
            58,
            "line 1:39: Cannot apply operator: varchar = integer",
            (1, 39),
        ),
        (
            "SELECT 'a' + 1",
            "TYPE_MISMATCH",
            58,
            "line 1:12: Cannot apply operator: varchar(1) + integer",
            (1, 12),
        ),
        ("SELECT n / 0 FROM cases_public", "DIVISION_BY_ZERO", 8, "Division by zero", None),
        ("SELECT n % (n - n) FROM cases_public", "DIVISION_BY_ZERO", 8, "Division by zero", None),
        (
            "SELECT CAST('abc' AS integer)",
            "INVALID_CAST_ARGUMENT",
            9,
            "Cannot cast 'abc' to INT",
            None,
        ),
        (
            "SELECT CAST('abc' AS bigint)",
            "INVALID_CAST_ARGUMENT",
            9,
            "Cannot cast 'abc' to BIGINT",
            None,
        ),
        (
            "SELECT CAST('x' AS date)",
            "INVALID_CAST_ARGUMENT",
            9,
            "Value cannot be cast to date: x",
            None,
        ),
        (
            "SELECT 9223372036854775807 + n FROM cases_public",
            "NUMERIC_VALUE_OUT_OF_RANGE",
            19,
            "bigint addition overflow: 9223372036854775807 + 1",
            None,
        ),
        (
            "SELECT date_trunc('fortnight', DATE '2024-01-01')",
            "INVALID_FUNCTION_ARGUMENT",
            7,
            "line 1:8: 'fortnight' is not a valid DATE field",
            (1, 8),
        ),
        (
            "SELECT DATE '2024-01-01' + INTERVAL '1' HOUR",
            "INVALID_FUNCTION_ARGUMENT",
            7,
            "Cannot add hour, minutes or seconds to a date",
            None,
        ),
        (
            "SELECT current_time",
            "NOT_SUPPORTED",
            13,
            "current_time (time with time zone) is not supported: use localtime",
            None,
        ),
    ],
)
def test_errors_are_trinos(
    served: Served, sql: str, name: str, code: int, message: str, where: tuple[int, int] | None
) -> None:
    error = failure(served, sql)
    assert (error.error_name, error.error_code, error.message) == (name, code, message)
    assert error.error_location == where


def test_error_codes_are_trinos_standard_ones() -> None:
    # io.trino.spi.StandardErrorCode
    assert {
        name: CODES[name] for name in ("SYNTAX_ERROR", "DIVISION_BY_ZERO", "TYPE_MISMATCH")
    } == {
        "SYNTAX_ERROR": (1, "USER_ERROR"),
        "DIVISION_BY_ZERO": (8, "USER_ERROR"),
        "TYPE_MISMATCH": (58, "USER_ERROR"),
    }
    assert CODES["INVALID_LITERAL"] == (59, "USER_ERROR")
    assert CODES["AMBIGUOUS_NAME"] == (62, "USER_ERROR")
    assert CODES["GENERIC_INTERNAL_ERROR"] == (65536, "INTERNAL_ERROR")
    assert CODES["SERVER_SHUTTING_DOWN"] == (65545, "INTERNAL_ERROR")
    assert CODES["EXCEEDED_TIME_LIMIT"] == (131075, "INSUFFICIENT_RESOURCES")
    assert CODES["EXCEEDED_SCAN_LIMIT"] == (131081, "INSUFFICIENT_RESOURCES")


def test_syntax_errors_carry_their_location(served: Served) -> None:
    error = failure(served, "SELECT n\nFROM cases_public WHERE")
    assert (error.error_name, error.error_code) == ("SYNTAX_ERROR", 1)
    assert error.error_location is not None and error.error_location[0] == 2


@pytest.mark.parametrize(
    "template",
    [
        "SELECT * FROM welfare_safety.{}",
        "SELECT person FROM {}",
        "SELECT nowhere FROM {}",  # an unknown column of a hidden table says nothing either
        "SELECT p.amount FROM cases_public c JOIN {} p ON c.person = p.person",
        "SELECT (SELECT count(*) FROM {})",
        "WITH x AS (SELECT * FROM {}) SELECT * FROM x",
        "DESCRIBE {}",
        "SHOW COLUMNS FROM {}",
        "SELECT typeof(amount) FROM gongyu.welfare_safety.{}",
    ],
)
def test_a_hidden_table_answers_exactly_as_an_unknown_one(served: Served, template: str) -> None:
    hidden = failure(served, template.format("cases_private"), OTHER_SECTOR)
    missing = failure(served, template.format("cases_nowhere"), OTHER_SECTOR)
    assert hidden.error_name == missing.error_name == "TABLE_NOT_FOUND"
    assert hidden.error_code == missing.error_code == 46
    assert hidden.error_location == missing.error_location
    assert hidden.message == missing.message.replace("cases_nowhere", "cases_private")
    served.query(template.format("cases_private").replace("nowhere", "person"), OWNER)  # theirs
