"""Cast raw delivery columns to contract types in one vectorised DuckDB query.

Every contract column arrives as text (CSV) or as whatever type the file carried (XLSX cells,
Parquet, JSON). A cell that will not cast becomes NULL and is counted; the caller gets the
typed table plus one `types` check per failing column, with sample rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import Column, LogicalType
from quality.results import ROW, CheckKind, CheckResult, Sample

ARROW_TYPES: dict[LogicalType, pa.DataType] = {
    LogicalType.string: pa.string(),
    LogicalType.integer: pa.int64(),
    LogicalType.number: pa.float64(),
    LogicalType.boolean: pa.bool_(),
    LogicalType.date: pa.date32(),
    LogicalType.timestamp: pa.timestamp("us"),
}

TRUE_WORDS = ("y", "yes", "t", "true", "1", "예", "o")
FALSE_WORDS = ("n", "no", "f", "false", "0", "아니오", "아니요", "x")
# Full-width (U+3000) and no-break spaces pad many Korean spreadsheets' cells.
WHITESPACE = " \t\r\n\u00a0\u3000\ufeff"
THOUSANDS = r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?"

# Java DateTimeFormatter letters (as ODCS examples use) → DuckDB strptime; longest first.
JAVA_TOKENS = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("d", "%-d"),
    ("HH", "%H"),
    ("H", "%-H"),
    ("hh", "%I"),
    ("h", "%-I"),
    ("mm", "%M"),
    ("m", "%-M"),
    ("ss", "%S"),
    ("s", "%-S"),
    ("SSSSSS", "%f"),
    ("SSS", "%g"),
    ("a", "%p"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("XXX", "%z"),
    ("Z", "%z"),
)
_JAVA_RE = re.compile("|".join(re.escape(t) for t, _ in JAVA_TOKENS) + r"|'[^']*'|%")

HINTS = {
    LogicalType.integer: "write whole numbers without units or decimals (thousands separators "
    "are fine); declare markers like '-' in the contract's nullValues, or declare the column "
    "as string",
    LogicalType.number: "write numbers without units or text (thousands separators are fine); "
    "declare markers like '-' in the contract's nullValues, or declare the column as string",
    LogicalType.boolean: "write Y/N, true/false, 1/0 or 예/아니오, or declare the column as string",
}
WHAT = {
    LogicalType.integer: "whole numbers",
    LogicalType.number: "numbers",
    LogicalType.boolean: "booleans",
    LogicalType.date: "dates",
    LogicalType.timestamp: "timestamps",
}


def java_to_strptime(fmt: str) -> str:
    """`yyyy-MM-dd HH:mm` → `%Y-%m-%d %H:%M`; quoted text ('T') is kept literally."""
    table = dict(JAVA_TOKENS)

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "%":
            return "%%"
        if tok.startswith("'"):
            return tok[1:-1].replace("%", "%%") or "'"
        return table[tok]

    return _JAVA_RE.sub(sub, fmt)


@dataclass(frozen=True)
class CastSpec:
    """One contract column and the raw column (by name in the raw table) that feeds it."""

    column: Column
    source: str


def cast_table(
    raw: pa.Table, specs: list[CastSpec], null_values: tuple[str, ...], sample_rows: int
) -> tuple[pa.Table, list[CheckResult]]:
    """The contract-typed table (contract order, plus `__row`) and the failed `types` checks."""
    names = [f"c{i}" for i in range(len(specs))]
    src = pa.table([raw[s.source] for s in specs] + [raw[ROW]], names=[*names, ROW])
    selects, flags = [], []
    for i, spec in enumerate(specs):
        value, bad = _expressions(f"c{i}", src.schema.field(i).type, spec.column, null_values)
        selects.append(f"{value} AS v{i}")
        if bad is not None:
            flags.append(f"{bad} AS b{i}")
    sql = f"SELECT {', '.join([*selects, *flags])} FROM src"
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("src", src)
        out = con.execute(sql).to_arrow_table()
    finally:
        con.close()
    columns, checks = [], []
    for i, spec in enumerate(specs):
        columns.append(out[f"v{i}"].cast(ARROW_TYPES[spec.column.logical_type]))
        if f"b{i}" in out.column_names:
            check = _failure(spec.column, out[f"b{i}"], src[f"c{i}"], src[ROW], sample_rows)
            if check is not None:
                checks.append(check)
    table = pa.table(
        [*columns, src[ROW].cast(pa.int64())], names=[*(s.column.name for s in specs), ROW]
    )
    return table, checks


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text(col: str, dtype: pa.DataType) -> str:
    """SQL rendering a typed cell as the text a steward would have typed."""
    if pa.types.is_floating(dtype):
        # Excel stores 20170101 and codes like 123 as doubles: render them without '.0'.
        return (
            f"CASE WHEN {col} = trunc({col}) AND abs({col}) < 1e15 "
            f"THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END"
        )
    return f"CAST({col} AS VARCHAR)"


def _expressions(
    col: str, dtype: pa.DataType, column: Column, null_values: tuple[str, ...]
) -> tuple[str, str | None]:
    """(value expression, bad-cell flag expression or None when a cast cannot fail)."""
    target = column.logical_type
    direct = _direct(col, dtype, target)
    if direct is not None:
        return direct, (None if "TRY_" not in direct else f"({col} IS NOT NULL AND {direct} IS NULL)")
    text = col if _is_text(dtype) else _text(col, dtype)
    nulls = {v.strip(WHITESPACE) for v in null_values}
    if target is not LogicalType.string:
        nulls.add("")  # an empty cell is missing, never a badly typed number or date
    trimmed = f"trim({text}, {_quote(WHITESPACE)})"
    s = f"(CASE WHEN {trimmed} IN ({', '.join(map(_quote, sorted(nulls)))}) THEN NULL ELSE {trimmed} END)"
    if not nulls:
        s = trimmed
    if target is LogicalType.string:
        return s, None
    value = _from_text(s, column)
    return value, f"({s} IS NOT NULL AND {value} IS NULL)"


def _is_text(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype)
    )


def _direct(col: str, dtype: pa.DataType, target: LogicalType) -> str | None:
    """A cast straight from a typed source column (XLSX, Parquet, JSON), when one applies."""
    numeric = pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
    temporal = pa.types.is_date(dtype) or pa.types.is_timestamp(dtype)
    if target is LogicalType.integer and pa.types.is_integer(dtype):
        return f"TRY_CAST({col} AS BIGINT)"
    if target is LogicalType.integer and numeric:
        return f"(CASE WHEN {col} = trunc({col}) THEN TRY_CAST({col} AS BIGINT) END)"
    if target is LogicalType.number and numeric:
        return f"CAST({col} AS DOUBLE)"
    if target is LogicalType.boolean and pa.types.is_boolean(dtype):
        return col
    if target is LogicalType.date and temporal:
        return f"CAST({col} AS DATE)"
    if target is LogicalType.timestamp and temporal:
        return f"CAST({col} AS TIMESTAMP)"
    if pa.types.is_null(dtype):
        return f"CAST(NULL AS {_SQL_TYPES[target]})"
    return None


_SQL_TYPES = {
    LogicalType.string: "VARCHAR",
    LogicalType.integer: "BIGINT",
    LogicalType.number: "DOUBLE",
    LogicalType.boolean: "BOOLEAN",
    LogicalType.date: "DATE",
    LogicalType.timestamp: "TIMESTAMP",
}


def _from_text(s: str, column: Column) -> str:
    """SQL casting the cleaned text `s` to the column's type; NULL where it does not cast."""
    target = column.logical_type
    if target in (LogicalType.integer, LogicalType.number):
        # Strip thousands separators only where they group digits properly.
        n = (
            f"(CASE WHEN NOT contains({s}, ',') THEN {s} "
            f"WHEN regexp_full_match({s}, '{THOUSANDS}') THEN replace({s}, ',', '') END)"
        )
        if target is LogicalType.number:
            return f"TRY_CAST({n} AS DOUBLE)"
        # DuckDB rounds '1.5' to 2 when casting to BIGINT: accept only integral values.
        return (
            f"(CASE WHEN TRY_CAST({n} AS DOUBLE) = TRY_CAST({n} AS BIGINT) "
            f"THEN TRY_CAST({n} AS BIGINT) END)"
        )
    if target is LogicalType.boolean:
        low = f"lower({s})"
        return (
            f"(CASE WHEN {low} IN ({', '.join(map(_quote, TRUE_WORDS))}) THEN true "
            f"WHEN {low} IN ({', '.join(map(_quote, FALSE_WORDS))}) THEN false END)"
        )
    sql_type = _SQL_TYPES[target]
    if column.format:
        return f"CAST(TRY_STRPTIME({s}, {_quote(java_to_strptime(column.format))}) AS {sql_type})"
    return f"TRY_CAST({s} AS {sql_type})"


def _failure(
    column: Column, bad: pa.ChunkedArray, raw: pa.ChunkedArray, rows: pa.ChunkedArray, k: int
) -> CheckResult | None:
    count = pc.sum(bad).as_py() or 0
    if not count:
        return None
    first = pc.indices_nonzero(bad.combine_chunks()).slice(0, k)
    values = raw.take(first).to_pylist()
    samples = [
        Sample(row=row, values={column.name: _sample_text(v)})
        for row, v in zip(rows.take(first).to_pylist(), values, strict=True)
    ]
    expected = WHAT[column.logical_type]
    if column.format:
        expected += f" in the format {column.format}"
    shown = ", ".join(repr(s.values[column.name]) for s in samples[:3])
    return CheckResult(
        kind=CheckKind.types,
        rule=f"types:{column.name}",
        column=column.name,
        passed=False,
        count=count,
        samples=samples,
        message=(
            f"{count:,} value(s) in column '{column.physical_name}' ({column.name}) are not "
            f"{expected} ({column.logical_type.value}), e.g. {shown}; they were read as null"
        ),
        hint=HINTS.get(
            column.logical_type,
            f"write {expected}"
            + ("" if column.format else " (ISO: yyyy-MM-dd, yyyy-MM-dd HH:mm:ss)")
            + ", or declare the column's format in the contract",
        ),
    )


def _sample_text(value: object) -> object:
    """Raw cell as shown in reports: text as is, floats without a spurious '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)
