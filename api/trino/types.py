"""Trino's types on the wire: Arrow types as Trino type signatures, values in Trino's JSON.

Trino clients decode each value by its column's type signature: dates, times and timestamps are
strings (`2024-01-01 05:00:00.000000`, with ` UTC` for zoned ones), decimals are strings, binary
is base64, non-finite doubles are `"NaN"`/`"Infinity"`, rows are arrays and maps objects. Whole
columns are converted with Arrow compute; only rare types (binary, nested, intervals, a double
column holding NaN) take the per-value path.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

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
        for field, param in self.params:
            if self.raw == "row":
                value = {"typeSignature": param.signature()}
                if field is not None:
                    value["fieldName"] = {"name": field}
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


def column(name: str, t: TrinoType) -> dict[str, Any]:
    """A result column as the protocol spells it."""
    return {"name": name, "type": t.name, "typeSignature": t.signature()}


def _timestamp_text(array: pa.Array) -> pa.Array:
    t = array.type
    if t.tz:  # zoned values are shown in UTC, the zone named after them as Trino does
        utc = array.cast(pa.timestamp(t.unit, tz="UTC"))
        return pc.binary_join_element_wise(
            pc.strftime(utc, format="%Y-%m-%d %H:%M:%S"), pa.scalar(" UTC"), pa.scalar("")
        )
    return pc.strftime(array, format="%Y-%m-%d %H:%M:%S")


def _interval(value: pa.MonthDayNano) -> str:
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
        return _interval(value)
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
        return _timestamp_text(array).to_pylist()
    if pa.types.is_date(kind) or pa.types.is_time(kind) or t.raw == "decimal":
        return array.cast(pa.string()).to_pylist()
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
