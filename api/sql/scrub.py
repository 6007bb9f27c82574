"""Null slots zeroed before Arrow buffers leave the process.

Arrow leaves the bytes under a null undefined, and DuckDB's Arrow export does not clear them:
a masked column (`CAST(NULL AS BIGINT)`) was seen carrying heap pointers, and any null can
carry what the allocator last held — another query's, another caller's values. JSON, CSV,
Parquet and Trino answers write only valid values; Arrow IPC writes buffers as they are, so
every column with a null is rebuilt here from its valid values, with zeros (or empty strings)
under its nulls and a validity bitmap whose unused bits are zero.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _has_nulls(array: pa.Array) -> bool:
    """True when the array or any array nested in it holds a null."""
    if array.null_count:
        return True
    if isinstance(array, pa.StructArray):
        return any(_has_nulls(array.field(i)) for i in range(array.type.num_fields))
    if isinstance(array, pa.ListArray | pa.LargeListArray | pa.FixedSizeListArray | pa.MapArray):
        return _has_nulls(array.flatten())
    return False


def _validity(array: pa.Array) -> pa.Buffer:
    """A fresh validity bitmap of the array: a bit a value, unused bits zero."""
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _zero_value(kind: pa.DataType) -> pa.Scalar:
    """The all-zero-bytes value of a fixed-width type (0, 1970-01-01, 00:00, …)."""
    width = kind.byte_width if isinstance(kind, pa.FixedSizeBinaryType) else kind.bit_width // 8
    return pa.Array.from_buffers(kind, 1, [None, pa.py_buffer(bytes(width))])[0]


def _zero(array: pa.Array) -> pa.Array:
    """The same values and nulls, rebuilt with nothing but zeros under the nulls."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        filled = pc.fill_null(array, "")
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        filled = pc.fill_null(array, b"")
    elif pa.types.is_boolean(kind):
        filled = pc.fill_null(array, False)
    elif pa.types.is_null(kind):
        return array  # no buffer but the (absent) validity: nothing to clear
    elif (
        pa.types.is_primitive(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_interval(kind)
    ):
        filled = pc.fill_null(array, _zero_value(kind))
    else:  # nested, dictionary and other rare kinds: rebuilt from their values
        return pa.array(array.to_pylist(), type=kind)
    buffers = [_validity(array), *filled.buffers()[1:]]
    return pa.Array.from_buffers(kind, len(array), buffers, null_count=array.null_count)


def scrubbed(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every null slot's bytes zeroed (columns without nulls kept as they are)."""
    if not any(_has_nulls(c) for c in batch.columns):
        return batch
    columns = [_zero(c) if _has_nulls(c) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)
