"""The functions BI tools send, through the real `trino` client: every signature `SHOW
FUNCTIONS` lists runs and returns the type it claims, with Trino's value; Trino's date and text
formatting functions (`format`, `format_datetime`, `parse_datetime`, `to_iso8601`,
`date_format` / `date_parse` with MySQL patterns) answer as Trino does, and patterns Trino
refuses are refused with its errors.

Expected values are Trino's (its documentation and behaviour), in a UTC session unless a test
says otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from trino.exceptions import TrinoUserError

from api.trino.metadata import FUNCTIONS
from tests.api.trino.test_trino import Served
from tests.api.trino.test_trino_bi_statements import bi  # noqa: F401  (the served world)
from tests.api.world import GRANTEE, OWNER

# One row of every type the examples take.
ROW = (
    "(VALUES (CAST(2.25 AS double), CAST(7 AS bigint), 'Gongyu', DATE '2024-02-29', "
    "TIMESTAMP '2024-02-29 13:04:05.123456', true, ARRAY[CAST(3 AS bigint), 1], to_utf8('가'))) "
    "AS t(d, b, s, dt, ts, flag, arr, bin)"
)
# Three rows for aggregates and windows.
ROWS = (
    "(VALUES (CAST(1 AS bigint), CAST(2.5 AS double), 'a', true), "
    "(CAST(2 AS bigint), CAST(3.5 AS double), 'b', false), "
    "(CAST(3 AS bigint), CAST(NULL AS double), 'c', true)) AS t(b, d, s, flag)"
)

Check = Any  # an expected value, or a predicate on the value


def near(expected: float) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, float) and math.isclose(value, expected, rel_tol=1e-9)


def among(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value in values


# (function, argument types as SHOW FUNCTIONS lists them) -> (example, Trino's answer)
AGGREGATES: dict[tuple[str, str], tuple[str, Check]] = {
    ("any_value", "T"): ("any_value(s)", among("a", "b", "c")),
    ("approx_distinct", "T"): ("approx_distinct(s)", 3),
    ("approx_percentile", "bigint, double"): ("approx_percentile(b, 0.5)", 2),
    ("approx_percentile", "double, double"): ("approx_percentile(d, 0.5)", among(2.5, 3.0, 3.5)),
    ("arbitrary", "T"): ("arbitrary(s)", among("a", "b", "c")),
    ("array_agg", "T"): ("array_agg(b ORDER BY b)", [1, 2, 3]),
    ("avg", "bigint"): ("avg(b)", 2.0),
    ("avg", "double"): ("avg(d)", 3.0),
    ("bool_and", "boolean"): ("bool_and(flag)", False),
    ("bool_or", "boolean"): ("bool_or(flag)", True),
    ("count", ""): ("count(*)", 3),
    ("count", "T"): ("count(d)", 2),
    ("count_if", "boolean"): ("count_if(flag)", 2),
    ("max", "T"): ("max(s)", "c"),
    ("max_by", "V, K"): ("max_by(s, b)", "c"),
    ("min", "T"): ("min(b)", 1),
    ("min_by", "V, K"): ("min_by(s, b)", "a"),
    ("stddev", "double"): ("stddev(d)", near(math.sqrt(0.5))),
    ("stddev_pop", "double"): ("stddev_pop(d)", 0.5),
    ("stddev_samp", "double"): ("stddev_samp(d)", near(math.sqrt(0.5))),
    ("sum", "bigint"): ("sum(b)", 6),
    ("sum", "decimal(p,s)"): ("sum(CAST(b AS decimal(10,2)))", Decimal("6.00")),
    ("sum", "double"): ("sum(d)", 6.0),
    ("var_pop", "double"): ("var_pop(d)", 0.25),
    ("var_samp", "double"): ("var_samp(d)", 0.5),
    ("variance", "double"): ("variance(d)", 0.5),
}
# Windows over ROWS ordered by b: the first row's values.
WINDOWS: dict[tuple[str, str], tuple[str, Check]] = {
    ("cume_dist", ""): ("cume_dist() OVER (ORDER BY b)", near(1 / 3)),
    ("dense_rank", ""): ("dense_rank() OVER (ORDER BY b)", 1),
    ("first_value", "T"): ("first_value(s) OVER (ORDER BY b)", "a"),
    ("lag", "T"): ("lag(s) OVER (ORDER BY b)", None),
    (
        "last_value",
        "T",
    ): (
        "last_value(s) OVER (ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
        "c",
    ),
    ("lead", "T"): ("lead(s) OVER (ORDER BY b)", "b"),
    ("ntile", "bigint"): ("ntile(2) OVER (ORDER BY b)", 1),
    ("percent_rank", ""): ("percent_rank() OVER (ORDER BY b)", 0.0),
    ("rank", ""): ("rank() OVER (ORDER BY b)", 1),
    ("row_number", ""): ("row_number() OVER (ORDER BY b)", 1),
}
MOMENT = datetime(2024, 2, 29, 13, 4, 5, 123456)
SCALARS: dict[tuple[str, str], tuple[str, Check]] = {
    ("abs", "bigint"): ("abs(-b)", 7),
    ("abs", "double"): ("abs(-d)", 2.25),
    ("array_join", "array(T), varchar"): ("array_join(arr, ',')", "3,1"),
    ("cardinality", "array(T)"): ("cardinality(arr)", 2),
    ("cbrt", "double"): ("cbrt(CAST(27 AS double))", near(3.0)),
    ("ceil", "double"): ("ceil(d)", 3.0),
    ("ceiling", "double"): ("ceiling(d)", 3.0),
    ("chr", "bigint"): ("chr(CAST(44032 AS bigint))", "가"),
    ("concat", "varchar"): ("concat(s, '-', s)", "Gongyu-Gongyu"),
    ("contains", "array(T), T"): ("contains(arr, CAST(3 AS bigint))", True),
    ("current_date", ""): ("current_date", lambda v: isinstance(v, date)),
    ("date", "varchar"): ("date('2024-02-29')", date(2024, 2, 29)),
    ("date", "timestamp(p)"): ("date(ts)", date(2024, 2, 29)),
    ("date_add", "varchar, bigint, timestamp(p)"): (
        "date_add('day', 1, ts)",
        datetime(2024, 3, 1, 13, 4, 5, 123456),
    ),
    ("date_diff", "varchar, date, date"): ("date_diff('day', dt, DATE '2024-03-31')", 31),
    ("date_diff", "varchar, timestamp(p), timestamp(p)"): (
        "date_diff('hour', ts, TIMESTAMP '2024-03-01 13:04:05.123456')",
        24,
    ),
    ("date_format", "timestamp(p), varchar"): (
        "date_format(ts, '%Y-%m-%d %H:%i:%s %W %D %b %e %p %r %f')",
        "2024-02-29 13:04:05 Thursday 29th Feb 29 PM 01:04:05 PM 123456",
    ),
    ("date_parse", "varchar, varchar"): (
        "date_parse('29/02/2024 13:04:05.250', '%d/%m/%Y %H:%i:%s.%f')",
        datetime(2024, 2, 29, 13, 4, 5, 250000),
    ),
    ("date_trunc", "varchar, timestamp(p)"): ("date_trunc('month', ts)", datetime(2024, 2, 1)),
    ("day", "date"): ("day(dt)", 29),
    ("day_of_month", "date"): ("day_of_month(dt)", 29),
    ("day_of_week", "date"): ("day_of_week(dt)", 4),
    ("day_of_year", "date"): ("day_of_year(dt)", 60),
    ("degrees", "double"): ("degrees(pi())", near(180.0)),
    ("dow", "date"): ("dow(dt)", 4),
    ("doy", "date"): ("doy(dt)", 60),
    ("element_at", "array(E), bigint"): ("element_at(arr, 2)", 1),
    ("exp", "double"): ("exp(CAST(0 AS double))", 1.0),
    ("floor", "double"): ("floor(d)", 2.0),
    ("format", "varchar, T"): (
        "format('%s has %d rows, %.2f%% %S|%5s|%-4s|%,d|%x|%b|%2$03d', s, b, d, s, 'ab', 'ab', "
        "1234567, 255, flag)",
        "Gongyu has 7 rows, 2.25% GONGYU|   ab|ab  |1,234,567|ff|true|007",
    ),
    ("format_datetime", "timestamp(p), varchar"): (
        "format_datetime(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS EEEE, MMM d, h a, D, ww, e')",
        "2024-02-29T13:04:05.123 Thursday, Feb 29, 1 PM, 60, 09, 4",
    ),
    ("from_hex", "varchar"): ("from_hex('4A')", b"J"),
    ("from_iso8601_date", "varchar"): ("from_iso8601_date('2024-02-29')", date(2024, 2, 29)),
    ("from_iso8601_timestamp", "varchar"): (
        "from_iso8601_timestamp('2024-02-29T13:04:05Z')",
        lambda v: v.astimezone(UTC) == datetime(2024, 2, 29, 13, 4, 5, tzinfo=UTC),
    ),
    ("from_unixtime", "double"): (
        "from_unixtime(CAST(86400 AS double))",
        lambda v: v.astimezone(UTC) == datetime(1970, 1, 2, tzinfo=UTC),
    ),
    ("from_utf8", "varbinary"): ("from_utf8(bin)", "가"),
    ("greatest", "T, T"): ("greatest(b, 9)", 9),
    ("hour", "timestamp(p)"): ("hour(ts)", 13),
    ("is_nan", "double"): ("is_nan(d)", False),
    ("last_day_of_month", "date"): ("last_day_of_month(DATE '2023-02-10')", date(2023, 2, 28)),
    ("least", "T, T"): ("least(b, 9)", 7),
    ("length", "varchar"): ("length(s)", 6),
    ("levenshtein_distance", "varchar, varchar"): ("levenshtein_distance(s, 'Gongju')", 1),
    ("ln", "double"): ("ln(CAST(1 AS double))", 0.0),
    ("log10", "double"): ("log10(CAST(1000 AS double))", near(3.0)),
    ("log2", "double"): ("log2(CAST(8 AS double))", near(3.0)),
    ("lower", "varchar"): ("lower(s)", "gongyu"),
    ("lpad", "varchar, bigint, varchar"): ("lpad(s, 8, '*')", "**Gongyu"),
    ("ltrim", "varchar"): ("ltrim('  x ')", "x "),
    ("md5", "varbinary"): ("md5(to_utf8('a'))", bytes.fromhex("0cc175b9c0f1b6a831c399e269772661")),
    ("minute", "timestamp(p)"): ("minute(ts)", 4),
    ("mod", "bigint, bigint"): ("mod(b, 3)", 1),
    ("now", ""): ("now()", lambda v: abs(v - datetime.now(UTC)).total_seconds() < 60),
    ("month", "date"): ("month(dt)", 2),
    ("parse_datetime", "varchar, varchar"): (
        "parse_datetime('2024-02-29 13:04:05', 'yyyy-MM-dd HH:mm:ss')",
        lambda v: v.astimezone(UTC) == datetime(2024, 2, 29, 13, 4, 5, tzinfo=UTC),
    ),
    ("pi", ""): ("pi()", math.pi),
    ("pow", "double, double"): ("pow(d, 2)", 5.0625),
    ("power", "double, double"): ("power(d, 2)", 5.0625),
    ("quarter", "date"): ("quarter(dt)", 1),
    ("radians", "double"): ("radians(CAST(180 AS double))", near(math.pi)),
    ("rand", ""): ("rand()", lambda v: 0 <= v < 1),
    ("random", ""): ("random()", lambda v: 0 <= v < 1),
    ("regexp_extract", "varchar, varchar"): ("regexp_extract(s, '[a-z]+')", "ongyu"),
    ("regexp_like", "varchar, varchar"): ("regexp_like(s, '^G')", True),
    ("regexp_replace", "varchar, varchar, varchar"): (
        "regexp_replace(s, '[aeiou]', '_')",
        "G_ngy_",
    ),
    ("replace", "varchar, varchar, varchar"): ("replace(s, 'yu', 'ju')", "Gongju"),
    ("reverse", "varchar"): ("reverse(s)", "uygnoG"),
    ("round", "double"): ("round(d)", 2.0),
    ("round", "double, bigint"): ("round(CAST(2.26 AS double), 1)", 2.3),
    ("rpad", "varchar, bigint, varchar"): ("rpad(s, 8, '*')", "Gongyu**"),
    ("rtrim", "varchar"): ("rtrim('  x ')", "  x"),
    ("second", "timestamp(p)"): ("second(ts)", 5),
    ("sha256", "varbinary"): (
        "sha256(to_utf8('a'))",
        bytes.fromhex("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
    ),
    ("split", "varchar, varchar"): ("split('a,b', ',')", ["a", "b"]),
    ("split_part", "varchar, varchar, bigint"): ("split_part('a,b,c', ',', 2)", "b"),
    ("sqrt", "double"): ("sqrt(d)", 1.5),
    ("starts_with", "varchar, varchar"): ("starts_with(s, 'Go')", True),
    ("strpos", "varchar, varchar"): ("strpos(s, 'ng')", 3),
    ("substr", "varchar, bigint"): ("substr(s, 3)", "ngyu"),
    ("substr", "varchar, bigint, bigint"): ("substr(s, 3, 2)", "ng"),
    ("substring", "varchar, bigint"): ("substring(s, 3)", "ngyu"),
    ("substring", "varchar, bigint, bigint"): ("substring(s, 3, 2)", "ng"),
    ("to_hex", "varbinary"): ("to_hex(bin)", "EAB080"),
    ("to_iso8601", "date"): ("to_iso8601(dt)", "2024-02-29"),
    ("to_iso8601", "timestamp(p)"): ("to_iso8601(ts)", "2024-02-29T13:04:05.123456"),
    ("to_iso8601", "timestamp(p) with time zone"): (
        "to_iso8601(from_iso8601_timestamp('2024-02-29T13:04:05+09:00'))",
        "2024-02-29T13:04:05.000+09:00",
    ),
    ("to_unixtime", "timestamp(p)"): ("to_unixtime(TIMESTAMP '1970-01-02 00:00:00')", 86400.0),
    ("to_utf8", "varchar"): ("to_utf8(s)", b"Gongyu"),
    ("trim", "varchar"): ("trim('  x ')", "x"),
    ("truncate", "double"): ("truncate(d)", 2.0),
    ("upper", "varchar"): ("upper(s)", "GONGYU"),
    ("version", ""): ("version()", "476"),
    ("week", "date"): ("week(dt)", 9),
    ("week_of_year", "date"): ("week_of_year(dt)", 9),
    ("year", "date"): ("year(dt)", 2024),
    ("year_of_week", "date"): ("year_of_week(DATE '2021-01-01')", 2020),
}
EXAMPLES = {
    "aggregate": (AGGREGATES, ROWS, ""),
    "window": (WINDOWS, ROWS, "ORDER BY b LIMIT 1"),
    "scalar": (SCALARS, ROW, ""),
}


def utc(served: Served) -> Any:
    return served.connect(OWNER, timezone="UTC")


def returns(declared: str, actual: str) -> bool:
    """Whether a column type is an instance of a declared one (`T`, `timestamp(p)`, …)."""
    pattern = re.escape(declared)
    pattern = re.sub(r"\\\(p\\\)|\(p\)", r"\\(\\d+\\)", pattern)
    pattern = pattern.replace(r"decimal\(38,s\)", r"decimal\(38,\d+\)")
    pattern = re.sub(r"\b[TVEK]\b", ".+", pattern)
    return re.fullmatch(pattern, actual) is not None


def holds(check: Check, value: Any) -> bool:
    return bool(check(value)) if callable(check) else value == check


def test_show_functions_lists_exactly_the_examples_here(bi: Served) -> None:  # noqa: F811
    with utc(bi) as conn:
        cursor = conn.cursor()
        cursor.execute("SHOW FUNCTIONS")
        listed = cursor.fetchall()
    assert listed == sorted(listed, key=lambda r: (r[0], r[1], r[2]))
    assert [tuple(r) for r in listed] == sorted(
        (f.name, f.return_type, f.argument_types, f.kind, f.deterministic, f.description)
        for f in FUNCTIONS
    )
    for kind, (examples, _, _) in EXAMPLES.items():
        assert {(r[0], r[2]) for r in listed if r[3] == kind} == set(examples), kind


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_every_listed_function_answers_as_it_claims(bi: Served, kind: str) -> None:  # noqa: F811
    examples, source, tail = EXAMPLES[kind]
    declared = {(f.name, f.argument_types): f.return_type for f in FUNCTIONS if f.kind == kind}
    keys = sorted(examples)
    calls = ", ".join(f"{examples[k][0]} AS c{i}" for i, k in enumerate(keys))
    with utc(bi) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT {calls} FROM {source} {tail}")
        [row] = cursor.fetchall()
        types = [d[1] for d in cursor.description]
    wrong = [
        (key, declared[key], kind_of, value)
        for key, kind_of, value in zip(keys, types, row, strict=True)
        if not returns(declared[key], kind_of) or not holds(examples[key][1], value)
    ]
    assert not wrong, "\n".join(map(repr, wrong))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # MySQL patterns (date_format / date_parse), as Trino reads them.
        (
            "date_format(TIMESTAMP '2024-01-02 03:04:05', '%c/%e/%y %k:%i %l%p %j %T')",
            "1/2/24 3:04 3AM 002 03:04:05",
        ),
        (
            "date_format(TIMESTAMP '2024-01-02 03:04:05', '%M %a %h %I %S %s %%%q')",
            "January Tue 03 03 05 05 %q",
        ),
        ("date_format(DATE '2024-01-03', '%D %D')", "3rd 3rd"),
        ("date_format(TIMESTAMP '2024-01-11 00:00:00', '%D|%v|%x')", "11th|02|2024"),
        ("date_parse('20240102030405', '%Y%m%d%H%i%s')", datetime(2024, 1, 2, 3, 4, 5)),
        ("date_parse('Jan 2 2024 3:04 PM', '%b %e %Y %l:%i %p')", datetime(2024, 1, 2, 15, 4)),
        # Joda patterns (format_datetime / parse_datetime).
        (
            "format_datetime(TIMESTAMP '2024-01-02 03:04:05.678', 'yy-M-d H:m:s S SS SSSS')",
            "24-1-2 3:4:5 6 67 6780",
        ),
        (
            "format_datetime(TIMESTAMP '2024-01-02 00:04:05', 'K k hh a G C x xx w')",
            "0 24 12 AM AD 20 2024 24 1",
        ),
        (
            "format_datetime(TIMESTAMP '2024-01-02 03:04:05', '''it''''s'' z Z ZZ')",
            "it's UTC +0000 +00:00",
        ),
        ("format_datetime(DATE '2024-01-02', 'EEE dd/MM/yyyy')", "Tue 02/01/2024"),
        ("to_iso8601(TIMESTAMP '2024-01-02 03:04:05')", "2024-01-02T03:04:05"),
        ("to_iso8601(TIMESTAMP '2024-01-02 03:04:05.120')", "2024-01-02T03:04:05.120"),
        (
            "to_iso8601(CAST(TIMESTAMP '2024-01-02 03:04:05.123456' AS timestamp))",
            "2024-01-02T03:04:05.123",
        ),
        # Java's format strings.
        ("format('%s and %s', 1.5, NULL)", "1.5 and null"),
        ("format('%B %b %n|%<s', true, NULL)", "TRUE false \n|null"),
        ("format('%08.3f|%+d|%e', 3.14159, 5, 12345.678)", "0003.142|+5|1.234568e+04"),
        ("format('%X %o', 255, 8)", "FF 10"),
    ],
)
def test_patterns_answer_as_trino(bi: Served, sql: str, expected: Any) -> None:  # noqa: F811
    with utc(bi) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT {sql}")
        assert cursor.fetchall() == [[expected]]


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("date_format(TIMESTAMP '2024-01-02 03:04:05', '%U')", "INVALID_FUNCTION_ARGUMENT"),
        ("date_format(TIMESTAMP '2024-01-02 03:04:05', '%X-%V')", "INVALID_FUNCTION_ARGUMENT"),
        ("date_parse('2024-01-02', '%Y-%m-%d %D')", "INVALID_FUNCTION_ARGUMENT"),
        ("format_datetime(TIMESTAMP '2024-01-02 03:04:05', 'yyyy q')", "INVALID_FUNCTION_ARGUMENT"),
        ("format('%s %s', 1)", "INVALID_FUNCTION_ARGUMENT"),
        ("format('%q', 1)", "INVALID_FUNCTION_ARGUMENT"),
        ("format('%tY', DATE '2024-01-02')", "NOT_SUPPORTED"),
        ("format(s, 1) FROM (VALUES ('%s')) AS t(s)", "NOT_SUPPORTED"),
        (
            "date_format(TIMESTAMP '2024-01-02 03:04:05', s) FROM (VALUES ('%Y')) AS t(s)",
            "NOT_SUPPORTED",
        ),
        ("parse_datetime('2024 Seoul', 'yyyy zzzz')", "NOT_SUPPORTED"),
    ],
)
def test_patterns_trino_refuses_are_refused(bi: Served, sql: str, error: str) -> None:  # noqa: F811
    with pytest.raises(TrinoUserError) as raised:
        bi.query(f"SELECT {sql}")
    assert raised.value.error_name == error


def test_parse_datetime_reads_a_zone_less_text_in_the_session_zone(bi: Served) -> None:  # noqa: F811
    with bi.connect(OWNER, timezone="Asia/Seoul") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT parse_datetime('2024-02-29 13:04:05', 'yyyy-MM-dd HH:mm:ss')")
        [[value]] = cursor.fetchall()
    assert value.astimezone(UTC) == datetime(2024, 2, 29, 4, 4, 5, tzinfo=UTC)


def test_functions_over_a_callers_view_see_only_its_rows(bi: Served) -> None:  # noqa: F811
    sql = (
        "SELECT date_format(date_add('day', max(n), TIMESTAMP '2024-01-01 00:00:00'), '%M %D'), "
        "format('%s of %d', max(sido), count(*)), count_if(amount IS NULL) "
        "FROM welfare_safety.cases_restricted"
    )
    # hira's grant: 부산's ten rows (n 2, 6, … 38), `amount` shown.
    assert bi.query(sql, GRANTEE) == [["February 8th", "부산 of 10", 0]]
