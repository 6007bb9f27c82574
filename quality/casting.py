"""Cast raw delivery columns to contract types in one vectorised DuckDB query.

Every contract column arrives as text (CSV) or as whatever type the file carried (XLSX cells,
Parquet, JSON). A cell that will not cast becomes NULL and is counted; the caller gets the
typed table plus one `types` check per failing column, with sample rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import ARROW_TYPES, Column, LogicalType
from quality.results import ROW, CheckKind, CheckResult, Sample
from quality.temporal import java_to_strptime, parse_strict
from quality.wording import Phrase

TRUE_WORDS = ("y", "yes", "t", "true", "1", "예", "o")
FALSE_WORDS = ("n", "no", "f", "false", "0", "아니오", "아니요", "x")
# Full-width (U+3000) and no-break spaces pad many Korean spreadsheets' cells.
WHITESPACE = " \t\r\n\u00a0\u3000\ufeff"
THOUSANDS = r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?"

# Message keys per type: what its cells should be, and how to fix them.
WHAT_KEYS = {
    LogicalType.integer: "types.what.integer",
    LogicalType.number: "types.what.number",
    LogicalType.boolean: "types.what.boolean",
    LogicalType.date: "types.what.date",
    LogicalType.timestamp: "types.what.timestamp",
}
HINT_KEYS = {
    LogicalType.integer: "types.hint.integer",
    LogicalType.number: "types.hint.number",
    LogicalType.boolean: "types.hint.boolean",
    LogicalType.date: "types.hint.date",
    LogicalType.timestamp: "types.hint.timestamp",
}


@dataclass
class _Prepared:
    """A column made ready to cast: cleaned text (or typed cells) and what may be null."""

    column: Column
    raw: pa.ChunkedArray  # as delivered, for samples
    value: pa.ChunkedArray  # trimmed text, or the typed cells for a direct cast
    sql: str | None  # cast expression over x{i} (and n{i}); None: `value` is final
    nullish: pa.ChunkedArray | None = None  # cells that are nulls by the contract's nullValues
    expected_nulls: int = 0  # nulls the cast may produce without any cell being bad


class Caster:
    """Casts a delivery to its contract's types piece by piece, tallying the bad cells.

    Text is trimmed and null-mapped by pyarrow kernels; the casts run
    as one DuckDB query of TRY_CASTs per piece. A cell is bad when it was not null before the
    cast and is after: counted from null counts, located only when there are any. Pieces keep
    a multi-GB file from ever sitting in memory as text.
    """

    def __init__(self, columns: list[Column], null_values: tuple[str, ...], sample_rows: int):
        self.columns = columns
        self.null_values = null_values
        self.sample_rows = sample_rows
        self.bad = [0] * len(columns)
        self.samples: list[list[Sample]] = [[] for _ in columns]
        self._con = duckdb.connect()

    def __enter__(self) -> Caster:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()

    def cast(self, raw: list[pa.Array | pa.ChunkedArray], rows: pa.Array) -> pa.Table:
        """One piece: raw columns in contract order and their source row numbers → typed."""
        cols = [_chunked(c) for c in raw]
        # Sequential on purpose: pyarrow kernels are fast, and a thread per column only adds
        # GIL hand-offs (measured 2x slower); the file's parser runs in its own thread anyway.
        prepared = [_prepare(i, c, self.columns[i], self.null_values) for i, c in enumerate(cols)]
        results = self._run_sql(prepared)
        out = []
        for i, prep in enumerate(prepared):
            value = results.get(i, prep.value).cast(ARROW_TYPES[prep.column.logical_type])
            out.append(value)
            bad = value.null_count - prep.expected_nulls
            if bad > 0:
                self.bad[i] += bad
                room = self.sample_rows - len(self.samples[i])
                if room > 0:
                    self.samples[i] += _samples(prep, value, rows, room)
        names = [*(c.name for c in self.columns), ROW]
        return pa.table([*out, _chunked(rows).cast(pa.int64())], names=names)

    def checks(self) -> list[CheckResult]:
        """One failed `types` check per column with bad cells, in contract order."""
        return [
            _failure(col, self.bad[i], self.samples[i])
            for i, col in enumerate(self.columns)
            if self.bad[i]
        ]

    def _run_sql(self, prepared: list[_Prepared]) -> dict[int, pa.ChunkedArray]:
        """Every column's cast expression in one DuckDB query; results by column index."""
        todo = [i for i, p in enumerate(prepared) if p.sql is not None]
        if not todo:
            return {}
        inputs: dict[str, pa.ChunkedArray] = {}
        for i in todo:
            inputs[f"x{i}"] = prepared[i].value
            if prepared[i].nullish is not None:
                inputs[f"n{i}"] = prepared[i].nullish
        sql = "SELECT " + ", ".join(f"{prepared[i].sql} AS v{i}" for i in todo) + " FROM src"
        self._con.register("src", pa.table(inputs))
        try:
            out = self._con.execute(sql).to_arrow_table()
        finally:
            self._con.unregister("src")
        return {i: out[f"v{i}"] for i in todo}


def _chunked(col: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])


def _prepare(
    i: int, raw: pa.ChunkedArray, column: Column, null_values: tuple[str, ...]
) -> _Prepared:
    target = column.logical_type
    direct = _direct(f"x{i}", raw.type, target)
    if direct is not None:
        return _Prepared(column, raw, raw, direct, expected_nulls=raw.null_count)
    text = raw if _is_text(raw.type) else _as_text(raw)
    trimmed = pc.utf8_trim_whitespace(text)
    nulls = {v.strip(WHITESPACE) for v in null_values}
    if target is not LogicalType.string:
        nulls.add("")  # an empty cell is missing, never a badly typed number or date
    # is_in, not equal: pyarrow's string == scalar kernel is ~100x slower.
    nullish = pc.is_in(trimmed, value_set=pa.array(sorted(nulls), pa.string()))
    declared = pc.sum(nullish).as_py() or 0
    if target is LogicalType.string:
        if declared:
            trimmed = pc.if_else(nullish, pa.scalar(None, pa.string()), trimmed)
        return _Prepared(column, raw, trimmed, None, expected_nulls=trimmed.null_count)
    if target in (LogicalType.integer, LogicalType.number):
        fast = _strict(trimmed, nullish if declared else None, target)
        if fast is not None:
            return _Prepared(column, raw, fast, None, expected_nulls=fast.null_count)
    if target in (LogicalType.date, LogicalType.timestamp):
        # Cells all written exactly in a fixed-width format: read from their bytes (about half
        # TRY_STRPTIME's cost); anything else is the query's, which locates the bad cells.
        fmt = java_to_strptime(column.format) if column.format else None
        masked = pc.if_else(nullish, pa.scalar(None, pa.string()), trimmed) if declared else trimmed
        fast = parse_strict(masked, fmt, target)
        if fast is not None:
            return _Prepared(column, raw, fast, None, expected_nulls=fast.null_count)
    cast = _from_text(f"x{i}", column, trimmed)
    if declared:
        # Declared markers ('-', '9999') must be null even where they would cast.
        cast = f"(CASE WHEN n{i} THEN NULL ELSE {cast} END)"
    return _Prepared(column, raw, trimmed, cast, nullish, declared + trimmed.null_count)


def _strict(
    text: pa.ChunkedArray, nullish: pa.ChunkedArray | None, target: LogicalType
) -> pa.ChunkedArray | None:
    """Numbers parsed by pyarrow's strict cast when every cell is a plain number; else None.

    Clean columns are the common case, and this parse is several times cheaper than the
    DuckDB query. Whatever pyarrow accepts ('-12', '+3', '1.5e3', '.5'), DuckDB's TRY_CAST
    reads as the same value; anything else (thousands separators, '1.0' for an integer, a
    stray word) makes it raise, and the column takes the DuckDB path with its bad-cell counts.
    """
    if nullish is not None:
        text = pc.if_else(nullish, pa.scalar(None, pa.string()), text)
    try:
        return text.cast(ARROW_TYPES[target])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Typed cells as text; pyarrow writes 20170101.0 as '20170101', as a steward typed it."""
    try:
        return pc.cast(col, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        con = duckdb.connect()
        try:
            con.register("t", pa.table({"x": col}))
            return con.execute("SELECT CAST(x AS VARCHAR) AS x FROM t").to_arrow_table()["x"]
        finally:
            con.close()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_text(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )


def _direct(col: str, dtype: pa.DataType, target: LogicalType) -> str | None:
    """A cast straight from a typed source column (XLSX, Parquet, JSON), when one applies."""
    numeric = (
        pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
    )
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


def _from_text(s: str, column: Column, text: pa.ChunkedArray) -> str:
    """SQL casting the trimmed text `s` to the column's type; NULL where it does not cast.

    Looks at the column first (cheap vectorised scans) so the common case stays one TRY_CAST.
    """
    target = column.logical_type
    if target in (LogicalType.integer, LogicalType.number):
        n = s
        if pc.any(pc.match_substring(text, ",")).as_py():
            # Strip thousands separators only where they group digits properly.
            n = (
                f"(CASE WHEN NOT contains({s}, ',') THEN {s} "
                f"WHEN regexp_full_match({s}, '{THOUSANDS}') THEN replace({s}, ',', '') END)"
            )
        if target is LogicalType.number:
            return f"TRY_CAST({n} AS DOUBLE)"
        if not pc.any(pc.match_substring_regex(text, "[.eE]")).as_py():
            return f"TRY_CAST({n} AS BIGINT)"
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


def _samples(prep: _Prepared, value: pa.ChunkedArray, rows: pa.Array, k: int) -> list[Sample]:
    bad = pc.and_(pc.is_valid(prep.value), pc.is_null(value))
    if prep.nullish is not None:
        bad = pc.and_(bad, pc.invert(prep.nullish))
    first = pc.indices_nonzero(_chunked(bad).combine_chunks()).slice(0, k)
    values = prep.raw.take(first).to_pylist()
    numbers = _chunked(rows).take(first).to_pylist()
    name = prep.column.name
    return [
        Sample(row=row, values={name: _sample_text(v)})
        for row, v in zip(numbers, values, strict=True)
    ]


def _failure(column: Column, count: int, samples: list[Sample]) -> CheckResult:
    first = samples[0] if samples else Sample()
    what = {"count": count, "format": column.format or ""}
    return CheckResult(
        kind=CheckKind.types,
        rule=f"types:{column.name}",
        column=column.name,
        passed=False,
        count=count,
        samples=samples,
        key="types.failed",
        hint_key="types.hint.formatted" if column.format else HINT_KEYS[column.logical_type],
        params={
            "column": _quoted(column),
            "physical": column.physical_name,
            "name": column.name,
            "type": column.logical_type.value,
            "format": column.format or "",
            "what": Phrase(
                key="types.what.formatted" if column.format else WHAT_KEYS[column.logical_type],
                params={**what, "what": Phrase(key=WHAT_KEYS[column.logical_type], params=what)},
            ),
            "shown": ", ".join(repr(s.values[column.name]) for s in samples[:3]),
            "row": "?" if first.row is None else first.row,
            "value": repr(first.values.get(column.name, "")),
        },
    )


def _quoted(column: Column) -> str:
    """How a message names a column: "'측정일시' (measured_on)", or "'n'" when they match."""
    quoted = f"'{column.physical_name}'"
    return quoted if column.physical_name == column.name else f"{quoted} ({column.name})"


def _sample_text(value: object) -> object:
    """Raw cell as shown in reports: text as is, floats without a spurious '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)
