"""Trino's types through the real `trino` client against the served app: the column types
announced in the protocol, the values' JSON, and what the client (DB-API, SQLAlchemy with
pandas) makes of them. Expected answers are Trino's documented ones, never DuckDB's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from trino.auth import JWTAuthentication

from tests.api.trino.test_trino import Served
from tests.api.trino.test_trino_semantics_zones import semantics_world
from tests.api.world import OWNER, ROWS


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with semantics_world(tmp_path_factory.mktemp("trino-types")) as world:
        yield world


def described(served: Served, sql: str) -> tuple[list[str], list[Any]]:
    """The column types a statement announces and its single row."""
    with served.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        [row] = cursor.fetchall()
        return [d[1] for d in cursor.description], row


def wire(served: Served, sql: str) -> tuple[list[str], list[Any]]:
    """The column types and the single row as the protocol's JSON carries them."""
    with served.http() as client:
        body = client.post(f"{served.server.url}/v1/statement", content=sql).json()
        data: list[Any] = []
        while "nextUri" in body:
            body = client.get(body["nextUri"]).json()
            data += body.get("data", [])
    assert "error" not in body, body.get("error")
    [row] = data
    return [c["type"] for c in body["columns"]], row


def test_sum_of_integers_and_count_if_are_bigints(served: Served) -> None:
    # n runs 1..ROWS in every test table; amount is 1000 * n
    total = ROWS * (ROWS + 1) // 2
    sql = (
        "SELECT sum(n), count_if(n > 10), sum(CAST(n AS integer)), count(*), "
        "sum(amount) / count(*), avg(n), sum(CASE WHEN n > 10 THEN 1.00 ELSE 0.0 END) "
        "FROM cases_public"
    )
    types, row = described(served, sql)
    assert types == ["bigint", "bigint", "bigint", "bigint", "bigint", "double", "decimal(38,2)"]
    assert row[:6] == [total, ROWS - 10, total, ROWS, 1000 * total // ROWS, total / ROWS]
    assert all(type(v) is int for v in row[:5])
    assert str(row[6]) == f"{ROWS - 10}.00"
    assert wire(served, "SELECT sum(n), count_if(n > 10) FROM cases_public") == (
        ["bigint", "bigint"],
        [total, ROWS - 10],
    )


def test_sums_through_sqlalchemy_and_pandas_are_integers(served: Served) -> None:
    engine = sa.create_engine(
        f"trino://{OWNER}@127.0.0.1:{served.server.port}/gongyu/welfare_safety",
        connect_args={
            "auth": JWTAuthentication(served.keys[OWNER]),
            "http_scheme": "https",
            "verify": str(served.server.ca),
        },
    )
    try:
        frame = pd.read_sql(
            sa.text(
                "SELECT sido, sum(n) AS total, count_if(amount > 20000) AS big "
                "FROM cases_public GROUP BY sido ORDER BY sido"
            ),
            engine,
        )
    finally:
        engine.dispose()
    assert str(frame["total"].dtype) == "int64" and str(frame["big"].dtype) == "int64"
    assert int(frame["total"].sum()) == ROWS * (ROWS + 1) // 2
    assert int(frame["big"].sum()) == ROWS - 20


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("n", "bigint"),
        ("sido", "varchar"),
        ("'abc'", "varchar(3)"),
        ("'한국어'", "varchar(3)"),
        ("1", "integer"),
        ("2147483648", "bigint"),
        ("1.50", "decimal(3,2)"),
        ("1e0", "double"),
        ("true", "boolean"),
        ("NULL", "unknown"),
        ("DATE '2024-01-01'", "date"),
        ("TIMESTAMP '2024-01-01 00:00:00.123'", "timestamp(3)"),
        ("TIMESTAMP '2024-01-01 00:00:00'", "timestamp(0)"),
        ("current_timestamp", "timestamp(3) with time zone"),
        ("now()", "timestamp(3) with time zone"),
        ("localtimestamp", "timestamp(3)"),
        ("TIMESTAMP '2024-01-01 00:00:00.123456 UTC'", "timestamp(6) with time zone"),
        ("from_unixtime(0)", "timestamp(3) with time zone"),
        ("CAST(n AS double)", "double"),
        ("CAST(n AS real)", "real"),
        ("CAST(sido AS char(5))", "char(5)"),
        ("CAST(sido AS varchar(2))", "varchar(2)"),
        ("sum(n)", "bigint"),
        ("count_if(n > 1)", "bigint"),
        ("count(*)", "bigint"),
        ("avg(n)", "double"),
        ("max(sido)", "varchar"),
        ("INTERVAL '2' DAY", "interval day to second"),
        ("INTERVAL '1-2' YEAR TO MONTH", "interval year to month"),
        ("uuid()", "uuid"),
        ("to_utf8(sido)", "varbinary"),
        ("ARRAY[1, 2]", "array(integer)"),
        ("n / 2", "bigint"),
        ("CAST(n AS integer) / 2", "integer"),
    ],
)
def test_typeof_names_trino_types(served: Served, expression: str, name: str) -> None:
    types, row = described(served, f"SELECT typeof({expression}) FROM cases_public LIMIT 1")
    assert row == [name]
    assert types == ["varchar"]


def test_intervals_in_trinos_text(served: Served) -> None:
    # Trino's docs: date and time operators
    sql = (
        "SELECT interval '2' day + interval '3' hour, interval '3' year + interval '5' month, "
        "interval '2' day - interval '3' hour, interval '3' year - interval '5' month, "
        "TIMESTAMP '2024-01-02 00:00:00' - TIMESTAMP '2024-01-01 22:30:00.5', "
        "INTERVAL '-1 02:03:04.5' DAY TO SECOND"
    )
    types, row = wire(served, sql)
    assert (
        types
        == ["interval day to second", "interval year to month"] * 2 + ["interval day to second"] * 2
    )
    assert row == [
        "2 03:00:00.000",
        "3-5",
        "1 21:00:00.000",
        "2-7",
        "0 01:29:59.500",
        "-1 02:03:04.500",
    ]
    _, values = described(served, sql)
    assert values == [
        timedelta(days=2, hours=3),
        relativedelta(years=3, months=5),
        timedelta(days=1, hours=21),
        relativedelta(years=2, months=7),
        timedelta(hours=1, minutes=29, seconds=59, milliseconds=500),
        -timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=500),
    ]


def test_interval_arithmetic_on_dates_and_timestamps(served: Served) -> None:
    types, row = wire(
        served,
        "SELECT date '2012-08-08' + interval '2' day, "
        "timestamp '2012-08-08 01:00:00.000' + interval '29' hour, "
        "timestamp '2012-10-31 01:00:00.000' + interval '1' month, "
        "timestamp '2012-10-31 01:00:00.000' - interval '1' month",
    )
    assert types == ["date", "timestamp(3)", "timestamp(3)", "timestamp(3)"]
    assert row == [
        "2012-08-10",
        "2012-08-09 06:00:00.000",
        "2012-11-30 01:00:00.000",
        "2012-09-30 01:00:00.000",
    ]


def test_uuid(served: Served) -> None:
    types, [made, cast, text] = described(
        served,
        "SELECT uuid(), CAST('12151fd2-7586-11e9-8f9e-2a86e4085a59' AS uuid), "
        "CAST(CAST('12151fd2-7586-11e9-8f9e-2a86e4085a59' AS uuid) AS varchar)",
    )
    assert types == ["uuid", "uuid", "varchar"]
    assert isinstance(made, uuid.UUID) and made.version == 4
    assert cast == uuid.UUID("12151fd2-7586-11e9-8f9e-2a86e4085a59")
    assert text == "12151fd2-7586-11e9-8f9e-2a86e4085a59"


def test_char_pads_to_its_length(served: Served) -> None:
    types, row = described(
        served,
        "SELECT CAST('ab' AS char(5)), length(CAST('ab' AS char(5))), "
        "CAST('ab' AS char(5)) = 'ab', CAST('abcdef' AS char(3)), CAST('abcdef' AS varchar(2)), "
        "CAST('서울' AS char(3))",
    )
    assert types == ["char(5)", "bigint", "boolean", "char(3)", "varchar", "char(3)"]
    assert row == ["ab   ", 5, True, "abc", "ab", "서울 "]


def test_varbinary_of_korean_text_is_its_utf8_bytes(served: Served) -> None:
    sql = "SELECT to_utf8('한국'), to_hex(to_utf8('한국')), from_utf8(to_utf8('한국')), X'ED959C'"
    types, row = described(served, sql)
    assert types == ["varbinary", "varchar", "varchar", "varbinary"]
    assert row == ["한국".encode(), "ED959CEAB5AD", "한국", "한".encode()]
    # on the wire, as Trino sends varbinary: base64 of the bytes
    assert wire(served, sql)[1][0] == "7ZWc6rWt"


def test_integer_division_and_remainder(served: Served) -> None:
    types, row = described(
        served, "SELECT 7 / 2, -7 / 2, 7 % 3, -7 % 3, CAST(7 AS double) / 2, 1e0 / 0, 9 / 2.0"
    )
    assert types[:5] == ["integer", "integer", "integer", "integer", "double"]
    assert row[:6] == [3, -3, 1, -1, 3.5, float("inf")]
