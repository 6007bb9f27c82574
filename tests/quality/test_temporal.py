"""The strict pyarrow fast path for dates and timestamps, and its DuckDB fallback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa

from contracts.model import LogicalType
from quality import casting
from quality.readers import read_delivery
from quality.results import ROW, CheckKind
from quality.temporal import layout, parse_strict
from tests.quality.test_readers import col, contract

HOURS = "%Y-%m-%d %H"


def duckdb_parse(values: list[str | None], fmt: str, sql_type: str) -> list[object]:
    con = duckdb.connect()
    con.register("t", pa.table({"x": pa.array(values, pa.string())}))
    sql = f"SELECT CAST(TRY_STRPTIME(x, '{fmt}') AS {sql_type}) AS v FROM t"
    return con.execute(sql).to_arrow_table()["v"].to_pylist()


def as_ints(values: pa.ChunkedArray | None) -> list[int | None] | None:
    """Days or microseconds since the epoch (Python's datetime stops at year 1)."""
    if values is None:
        return None
    return values.cast(pa.int32() if values.type == pa.date32() else pa.int64()).to_pylist()


def duckdb_ints(values: list[str], fmt: str, sql_type: str) -> list[int | None]:
    con = duckdb.connect()
    con.register("t", pa.table({"x": pa.array(values, pa.string())}))
    value = f"CAST(TRY_STRPTIME(x, '{fmt}') AS {sql_type})"
    since = f"epoch_us({value})" if sql_type == "TIMESTAMP" else f"{value} - DATE '1970-01-01'"
    sql = f"SELECT {since} AS v FROM t"
    return con.execute(sql).to_arrow_table()["v"].to_pylist()


def test_layout_fixed_fields_only():
    shape = layout(HOURS)
    assert shape is not None and (shape.width, shape.placeholder) == (13, "2000-01-01 00")
    assert shape.fields == {"Y": 0, "m": 5, "d": 8, "H": 11}
    assert shape.literals == [(4, ord("-")), (7, ord("-")), (10, ord(" "))]
    assert layout("%Y%m%d").fields == {"Y": 0, "m": 4, "d": 6}
    assert layout("%Y년 %m월 %d일").width == 4 + 4 + 2 + 4 + 2 + 3  # literals in UTF-8 bytes
    assert layout("%Y.%-m.%-d") is None  # unpadded fields: DuckDB only
    assert layout("%d/%m/%y") is None  # two-digit years: DuckDB's pivot, not ours


def test_agrees_with_duckdb_cell_by_cell():
    """Each cell alone: the fast path accepts it and agrees with DuckDB, or declines."""
    years, months, days = (
        (1, 1600, 1900, 1969, 1970, 2000, 2023, 2024, 9999),
        (1, 2, 12),
        (1, 28, 29, 30, 31),
    )
    valid = [
        f"{y:04d}-{m:02d}-{d:02d} {h:02d}"
        for y in years
        for m in months
        for d in days
        for h in (0, 23)
    ]
    odd = [
        "2020-02-30 05",
        "2020-13-01 05",
        "2020-00-01 05",
        "2020-01-00 05",
        "0000-01-01 05",
        "2020-01-01 24",
        "2020-1-01 05",
        "2020-01-1 05",
        "2020/01/01 05",
        "2020-01-01T05",
        "２020-01-01 05",
        "2020-01-01 0５",
        "+020-01-01 05",
        "2020-01-01 -5",
        "2020-01-01 5 ",
    ]
    accepted = []
    for cell in valid + odd:
        fast = parse_strict(pa.chunked_array([pa.array([cell])]), HOURS, LogicalType.timestamp)
        expected = duckdb_ints([cell], HOURS, "TIMESTAMP")
        if fast is not None:
            assert as_ints(fast) == expected, cell
            accepted.append(cell)
        else:  # declined: DuckDB rejects it too, or it is not in the canonical spelling
            assert expected == [None] or cell not in valid, cell
    assert "2024-02-29 23" in accepted and "2023-02-29 00" not in accepted
    assert not set(accepted) & set(odd)
    dates = ["2020-02-30", "2021-02-29", "1900-02-29", "2000-02-29", "2024-04-31", "2024-12-31"]
    for date in dates:
        fast = parse_strict(pa.chunked_array([pa.array([date])]), None, LogicalType.date)
        expected = duckdb_ints([date], "%Y-%m-%d", "DATE")
        assert (as_ints(fast) or [None]) == expected, date


def test_clean_hour_only_timestamps_match_duckdb():
    values = ["2020-01-01 05", None, "2020-12-31 23", "2024-02-29 00", "1969-07-20 20"]
    text = pa.chunked_array([pa.array(values, pa.string())])
    fast = parse_strict(text, HOURS, LogicalType.timestamp)
    assert fast is not None and fast.type == pa.timestamp("us")
    assert fast.to_pylist() == duckdb_parse(values, HOURS, "TIMESTAMP")
    assert fast.to_pylist()[0] == dt.datetime(2020, 1, 1, 5)


def test_clean_iso_dates_without_a_format():
    values = ["2024-01-02", "0999-12-31", None]
    fast = parse_strict(pa.chunked_array([pa.array(values)]), None, LogicalType.date)
    assert fast is not None and fast.to_pylist() == [
        dt.date(2024, 1, 2),
        dt.date(999, 12, 31),
        None,
    ]


def test_impossible_or_unusual_cells_fall_back():
    def strict(*values: str) -> pa.ChunkedArray | None:
        return parse_strict(pa.chunked_array([pa.array(values)]), HOURS, LogicalType.timestamp)

    assert strict("2020-02-30 05") is None  # pyarrow alone reads March 1st
    assert strict("2021-02-29 05", "2021-03-01 05") is None
    assert strict("2020-01-01 24") is None
    assert strict("2020-1-01 05") is None  # unpadded: right or wrong, DuckDB decides
    assert strict("2020-01-01 05x") is None
    seconds = pa.chunked_array([pa.array(["2020-01-01 05:00:60"])])
    assert parse_strict(seconds, "%Y-%m-%d %H:%M:%S", LogicalType.timestamp) is None


def test_impossible_date_in_hour_only_timestamps_is_a_located_bad_cell(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text(
        "시각,비고\n2020-01-01 05,a\n2020-02-30 05,b\n - ,c\n2020-02-29 23,d\n2021-02-29 00,e\n",
        encoding="cp949",
    )
    c = contract(
        col("at", "시각", "timestamp", format="yyyy-MM-dd HH"),
        col("note", "비고"),
        null_values=("", "-"),
    )
    r = read_delivery(path, c)
    assert r.table.column("at").to_pylist() == [
        dt.datetime(2020, 1, 1, 5),
        None,
        None,
        dt.datetime(2020, 2, 29, 23),
        None,
    ]
    bad = [c for c in r.checks if c.kind == CheckKind.types]
    assert [(b.rule, b.count) for b in bad] == [("types:at", 2)]
    assert [(s.row, s.values) for s in bad[0].samples] == [
        (3, {"at": "2020-02-30 05"}),
        (6, {"at": "2021-02-29 00"}),
    ]
    assert "yyyy-MM-dd HH" in bad[0].message
    assert r.table.column(ROW).to_pylist() == [2, 3, 4, 5, 6]


def test_clean_hour_only_column_reads_without_failures(tmp_path: Path, monkeypatch):
    parsed: list[pa.ChunkedArray | None] = []

    def spy(*args: object) -> pa.ChunkedArray | None:
        parsed.append(out := parse_strict(*args))
        return out

    monkeypatch.setattr(casting, "parse_strict", spy)
    path = tmp_path / "d.csv"
    path.write_text("시각\n2020-01-01 05\n-\n2020-12-31 23\n", encoding="utf-8")
    c = contract(col("at", "시각", "timestamp", format="yyyy-MM-dd HH"), null_values=("", "-"))
    r = read_delivery(path, c)
    assert not [c for c in r.checks if c.kind == CheckKind.types and not c.passed]
    assert parsed and all(p is not None for p in parsed)  # the fast path, no DuckDB query
    assert r.table.column("at").to_pylist() == [
        dt.datetime(2020, 1, 1, 5),
        None,
        dt.datetime(2020, 12, 31, 23),
    ]
