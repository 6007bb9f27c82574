"""Trino's types on the wire: Arrow types as Trino type signatures, values in Trino's JSON.

Trino clients decode each value by its column's type signature: dates, times and timestamps are
strings (`2024-01-01 05:00:00.000000`, zoned ones followed by their zone, `… Asia/Seoul`), decimals
are strings, binary is base64, non-finite doubles are `"NaN"`/`"Infinity"`, intervals are Trino's
text (`1 02:00:00.000`, `1-2`), rows are arrays and maps objects. Whole columns are converted
with Arrow compute; only rare types (binary, nested, intervals, a double column holding NaN) take
the per-value path.

A column's type comes from its Arrow type unless the translation knows the Trino type DuckDB
cannot say (`result_types`): a zone, a precision, `char(n)`, `uuid`, an interval's kind, `bigint`
for a sum DuckDB widens.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc

VARCHAR_UNBOUNDED = 2_147_483_647
PRECISION = {"s": 0, "ms": 3, "us": 6, "ns": 9}


@dataclass(frozen=True)
class TrinoType:
    """A Trino type: raw name, numeric arguments (length, precision, scale), nested types."""

    raw: str
    longs: tuple[int, ...] = ()
    params: tuple[tuple[str | None, TrinoType], ...] = ()  # (field name, type); names for rows
    # The zone every value of a `timestamp with time zone` column is shown in (not part of the
    # type: Trino's values each carry one; a translation knows it for a whole column).
    zone: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """The type as Trino prints it, e.g. `decimal(10,2)`, `timestamp(6) with time zone`."""
        if self.raw == "varchar" and self.longs == (VARCHAR_UNBOUNDED,):
            return "varchar"
        if self.raw in ("timestamp with time zone", "time with time zone"):
            base = self.raw.removesuffix(" with time zone")
            return f"{base}({self.longs[0]}) with time zone"
        if self.longs:
            return f"{self.raw}({','.join(map(str, self.longs))})"
        if self.raw == "row":
            fields = ", ".join(f"{_field(n)} {t.name}" for n, t in self.params)
            return f"row({fields})"
        if self.params:
            return f"{self.raw}({', '.join(t.name for _, t in self.params)})"
        return self.raw

    def signature(self) -> dict[str, Any]:
        """The `typeSignature` object clients read (`rawType`, `arguments`)."""
        arguments: list[dict[str, Any]] = [{"kind": "LONG", "value": n} for n in self.longs]
        for name, param in self.params:
            if self.raw == "row":
                value = {"typeSignature": param.signature()}
                if name is not None:
                    value["fieldName"] = {"name": name}
                arguments.append({"kind": "NAMED_TYPE", "value": value})
            else:
                arguments.append({"kind": "TYPE", "value": param.signature()})
        return {"rawType": self.raw, "arguments": arguments}


def _field(name: str | None) -> str:
    if name is None or name.isidentifier():
        return name or ""
    return '"' + name.replace('"', '""') + '"'


def simple(raw: str) -> TrinoType:
    """A type without arguments (`bigint`, `boolean`, `date`…)."""
    return TrinoType(raw)


VARCHAR = TrinoType("varchar", (VARCHAR_UNBOUNDED,))
BIGINT = simple("bigint")
BOOLEAN = simple("boolean")
INTEGER = simple("integer")
SMALLINT = simple("smallint")
TINYINT = simple("tinyint")
DOUBLE = simple("double")
REAL = simple("real")
DATE = simple("date")
UNKNOWN = simple("unknown")
VARBINARY = simple("varbinary")
UUID_TYPE = simple("uuid")
JSON_TYPE = simple("json")
INTERVAL_DAY_TO_SECOND = simple("interval day to second")
INTERVAL_YEAR_TO_MONTH = simple("interval year to month")
ZONED = {"timestamp with time zone", "time with time zone"}


def varchar(length: int | None = None) -> TrinoType:
    """`varchar(n)`, or `varchar` without a length."""
    return TrinoType("varchar", (VARCHAR_UNBOUNDED if length is None else length,))


def char(length: int) -> TrinoType:
    """`char(n)`: values padded with spaces to n characters."""
    return TrinoType("char", (length,))


def decimal(precision: int, scale: int) -> TrinoType:
    """`decimal(p,s)`."""
    return TrinoType("decimal", (precision, scale))


def timestamp(precision: int, zone: str | None = None, *, zoned: bool = False) -> TrinoType:
    """`timestamp(p)`, or `timestamp(p) with time zone` (shown in `zone`, when one is known)."""
    raw = "timestamp with time zone" if zoned or zone else "timestamp"
    return TrinoType(raw, (precision,), zone=zone)


def time_type(precision: int) -> TrinoType:
    """`time(p)`."""
    return TrinoType("time", (precision,))


def array(element: TrinoType) -> TrinoType:
    """`array(T)`."""
    return TrinoType("array", params=((None, element),))


def map_type(key: TrinoType, value: TrinoType) -> TrinoType:
    """`map(K, V)`."""
    return TrinoType("map", params=((None, key), (None, value)))


def row(fields: list[tuple[str | None, TrinoType]]) -> TrinoType:
    """`row(name T, …)`."""
    return TrinoType("row", params=tuple(fields))


_SIMPLE = {
    pa.bool_(): "boolean",
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.uint8(): "smallint",
    pa.uint16(): "integer",
    pa.uint32(): "bigint",
    pa.float16(): "real",
    pa.float32(): "real",
    pa.float64(): "double",
    pa.date32(): "date",
    pa.date64(): "date",
    pa.null(): "unknown",
}


def trino_type(t: pa.DataType) -> TrinoType:
    """The Trino type clients see for an Arrow type (anything unknown reads as varchar)."""
    if t in _SIMPLE:
        return simple(_SIMPLE[t])
    if pa.types.is_dictionary(t):
        return trino_type(t.value_type)
    if pa.types.is_decimal(t):
        return TrinoType("decimal", (t.precision, t.scale))
    if t == pa.uint64():
        return TrinoType("decimal", (20, 0))
    if pa.types.is_timestamp(t):
        raw = "timestamp with time zone" if t.tz else "timestamp"
        return TrinoType(raw, (PRECISION[t.unit],))
    if pa.types.is_time(t):
        return TrinoType("time", (PRECISION[t.unit],))
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return simple("varbinary")
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return TrinoType("array", params=((None, trino_type(t.value_type)),))
    if pa.types.is_map(t):
        key, item = trino_type(t.key_type), trino_type(t.item_type)
        return TrinoType("map", params=((None, key), (None, item)))
    if pa.types.is_struct(t):
        return TrinoType("row", params=tuple((f.name, trino_type(f.type)) for f in t))
    return VARCHAR


def _fits(hint: TrinoType, arrow: pa.DataType) -> bool:
    """Whether a translation's type can describe values DuckDB returned as `arrow` (a hint that
    does not fit is ignored: the Arrow type is then the truth)."""
    if pa.types.is_dictionary(arrow):
        arrow = arrow.value_type
    raw = hint.raw
    if raw in ("tinyint", "smallint", "integer", "bigint"):
        return pa.types.is_integer(arrow) or (
            pa.types.is_decimal(arrow) and arrow.scale == 0 and raw == "bigint"
        )
    if raw in ("varchar", "char", "json"):
        return pa.types.is_string(arrow) or pa.types.is_large_string(arrow)
    if raw == "uuid":
        return pa.types.is_string(arrow) or pa.types.is_fixed_size_binary(arrow)
    if raw in ("timestamp", "timestamp with time zone"):
        return pa.types.is_timestamp(arrow) and (raw == "timestamp") == (arrow.tz is None)
    if raw.startswith("interval"):
        return arrow == pa.month_day_nano_interval()
    if raw == "decimal":  # the digits DuckDB returned are the ones shown
        return trino_type(arrow) == hint
    return trino_type(arrow).raw == raw


def _shown(hint: TrinoType) -> TrinoType:
    """The type a result column is announced with: bounded varchars as plain `varchar` (what
    Gongyu's tables hold; clients treat both alike)."""
    if hint.raw == "varchar":
        return VARCHAR
    if hint.params:
        params = tuple((n, _shown(t)) for n, t in hint.params)
        return TrinoType(hint.raw, hint.longs, params, hint.zone)
    return hint


def result_types(schema: pa.Schema, hints: tuple[TrinoType | None, ...] = ()) -> list[TrinoType]:
    """The Trino type of each result column: the translation's, where it knows one that fits
    the values DuckDB returned, else the one the Arrow type implies."""
    types = []
    for position, f in enumerate(schema):
        hint = hints[position] if position < len(hints) else None
        types.append(
            _shown(hint) if hint is not None and _fits(hint, f.type) else trino_type(f.type)
        )
    return types


class Translated(str):
    """DuckDB SQL, with the Trino types its result columns have where DuckDB cannot say them
    (see `result_types`); it compares and prints as the SQL it is."""

    hints: tuple[TrinoType | None, ...] = ()

    @classmethod
    def of(cls, sql: str, hints: tuple[TrinoType | None, ...]) -> Translated:
        """`sql` carrying `hints`."""
        translated = cls(sql)
        translated.hints = hints
        return translated


def hints_of(sql: str) -> tuple[TrinoType | None, ...]:
    """The result types a translated statement carries (none for other SQL)."""
    return sql.hints if isinstance(sql, Translated) else ()


def column(name: str, t: TrinoType) -> dict[str, Any]:
    """A result column as the protocol spells it."""
    return {"name": name, "type": t.name, "typeSignature": t.signature()}


def _timestamp_text(array: pa.Array, t: TrinoType) -> pa.Array:
    """Timestamps as Trino's text: in their zone (UTC unless the column's type names one), with
    as many fractional digits as the type's precision."""
    kind = array.type
    zone = (t.zone or "UTC") if kind.tz else None
    if zone:
        array = array.cast(pa.timestamp(kind.unit, tz=zone))
    text = pc.strftime(array, format="%Y-%m-%d %H:%M:%S")
    if t.raw.startswith("timestamp") and t.longs:
        digits, have = t.longs[0], PRECISION[kind.unit]
        if digits < have:
            text = pc.utf8_slice_codeunits(text, 0, 20 + digits if digits else 19)
        elif digits > have:
            padding = ("" if have else ".") + "0" * (digits - have)
            text = pc.binary_join_element_wise(text, pa.scalar(padding), pa.scalar(""))
    if zone:
        text = pc.binary_join_element_wise(text, pa.scalar(" " + zone), pa.scalar(""))
    return text


def _interval(value: pa.MonthDayNano, t: TrinoType) -> str:
    """An interval as Trino writes it: `D HH:MM:SS.mmm` (day to second) or `Y-M` (year to
    month); one DuckDB made without a known kind in ISO 8601."""
    if t == INTERVAL_YEAR_TO_MONTH:
        sign = "-" if value.months < 0 else ""
        years, months = divmod(abs(value.months), 12)
        return f"{sign}{years}-{months}"
    if t == INTERVAL_DAY_TO_SECOND:
        millis = value.days * 86_400_000 + value.nanoseconds // 1_000_000
        sign = "-" if millis < 0 else ""
        seconds, millis = divmod(abs(millis), 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        days, hours = divmod(hours, 24)
        return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    seconds = Decimal(value.nanoseconds) / 1_000_000_000
    return f"P{value.months}M{value.days}DT{seconds.normalize():f}S"


def _python(value: Any, t: TrinoType) -> Any:
    """One value of a rare or nested type in Trino's JSON encoding."""
    if value is None:
        return None
    if t.raw == "array":
        return [_python(v, t.params[0][1]) for v in value]
    if t.raw == "map":
        key, item = t.params[0][1], t.params[1][1]
        return {str(_python(k, key)): _python(v, item) for k, v in value}
    if t.raw == "row":
        return [_python(value.get(n), ft) for n, ft in t.params]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        if t.raw == "uuid":
            return str(UUID(bytes=value))
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")[: 20 + t.longs[0]].rstrip(".")
        return f"{text} UTC" if value.tzinfo else text
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.%f")[: 9 + t.longs[0]].rstrip(".")
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, pa.MonthDayNano):
        return _interval(value, t)
    if t == VARCHAR and not isinstance(value, str):
        return str(value)
    return value


def values(array: pa.Array | pa.ChunkedArray, t: TrinoType) -> list[Any]:
    """A column's values in Trino's JSON encoding."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type
    if pa.types.is_timestamp(kind):
        return _timestamp_text(array, t).to_pylist()
    if pa.types.is_time(kind) and t.raw == "time" and t.longs and t.longs[0] < 6:
        digits = t.longs[0]  # DuckDB's times are microseconds: shown to the type's precision
        text = pc.utf8_slice_codeunits(array.cast(pa.string()), 0, 9 + digits if digits else 8)
        return text.to_pylist()
    if pa.types.is_date(kind) or pa.types.is_time(kind) or t.raw == "decimal":
        return array.cast(pa.string()).to_pylist()
    if pa.types.is_decimal(kind) and t.raw == "bigint":
        return array.cast(pa.int64()).to_pylist()
    if pa.types.is_floating(kind) and pc.all(pc.is_finite(array)).as_py() is not False:
        return array.to_pylist()  # every value finite (or none at all): plain JSON numbers
    simple_kind = pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind)
    if simple_kind or pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array.to_pylist()
    return [_python(v, t) for v in array.to_pylist()]


def rows_json(batch: pa.RecordBatch, types: list[TrinoType]) -> str:
    """A page of rows as Trino's `data` JSON: a list of rows, each a list of values."""
    columns = [values(batch.column(i), t) for i, t in enumerate(types)]
    return json.dumps(list(zip(*columns, strict=True)), ensure_ascii=False, allow_nan=False)
