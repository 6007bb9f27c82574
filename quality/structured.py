"""Readers for formats that carry their own fields (XLSX, Parquet, JSON Lines): no CSV parsing.

Each returns the header mapping and the pieces to cast; `quality.readers` casts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from quality.headers import HeaderMap
from quality.reading import BLOCK_BYTES, Opener, Piece, Reading, Unreadable, row_numbers
from quality.results import MAX_SAMPLES, Sample


def read_jsonl(reading: Reading, opener: Opener) -> tuple[HeaderMap, Iterator[Piece]]:
    """JSON Lines via DuckDB's JSON functions over the file's lines: every value as text."""
    read = pcsv.ReadOptions(column_names=["line"], block_size=BLOCK_BYTES)
    parse = pcsv.ParseOptions(delimiter="\x1f", quote_char=False, ignore_empty_lines=False)
    convert = pcsv.ConvertOptions(column_types={"line": pa.string()}, strings_can_be_null=False)
    with opener() as stream:
        lines = pcsv.read_csv(
            stream, read_options=read, parse_options=parse, convert_options=convert
        )
    lines = lines.append_column("n", row_numbers(1, lines.num_rows))
    con = duckdb.connect()
    try:
        con.register("lines", lines)
        con.execute("CREATE TEMP VIEW objs AS SELECT * FROM lines WHERE trim(line) <> ''")
        bad = con.execute(
            "SELECT n, line FROM objs WHERE NOT json_valid(line) OR json_type(line) <> 'OBJECT' "
            f"ORDER BY n LIMIT {MAX_SAMPLES}"
        ).fetchall()
        if bad:
            raise Unreadable(
                "json",
                "readable.json",
                "readable.json.hint",
                samples=[Sample(row=n, values={"text": t[:200]}) for n, t in bad],
                line=bad[0][0],
                text=repr(bad[0][1][:200]),
            )
        keys = [
            k
            for (k,) in con.execute("SELECT DISTINCT unnest(json_keys(line)) FROM objs").fetchall()
        ]
        mapping = reading.map(keys)
        picks = [
            f"json_extract_string(line, {_json_path(keys[i])}) AS c{i}" for i in mapping.needed
        ]
        out = con.execute(
            f"SELECT {', '.join([*picks, 'n'])} FROM objs ORDER BY n"
        ).to_arrow_table()
    finally:
        con.close()
    cols = {int(name[1:]): out[name] for name in out.column_names if name != "n"}
    return mapping, iter([(cols, out["n"].combine_chunks())])


def _json_path(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return "'" + f'$."{escaped}"'.replace("'", "''") + "'"


def read_xlsx(reading: Reading) -> tuple[HeaderMap, Iterator[Piece]]:
    """First sheet, header in its first used row; cells keep the types Excel gave them."""
    from python_calamine import CalamineWorkbook

    path = reading.path
    try:
        with open(path, "rb") as f:
            sheet = CalamineWorkbook.from_filelike(f).get_sheet_by_index(0)
            cells = sheet.to_python()
            top = (sheet.start or (0, 0))[0]
    except Exception as err:
        raise Unreadable(
            "format", "readable.xlsx", "readable.xlsx.hint", file=path.name, error=str(err)
        ) from err
    if not cells:
        raise Unreadable("empty", "readable.xlsx_empty", "readable.xlsx_empty.hint", file=path.name)
    headers = [_cell_text(v) for v in cells[0]]
    mapping = reading.map(headers)
    body = cells[1:]
    # calamine hands over Python values; building one list per needed column is unavoidable.
    cols = {i: _xlsx_array([r[i] if i < len(r) else "" for r in body]) for i in mapping.needed}
    numbers = row_numbers(top + 2, len(body))
    if cols and body:
        # Rows empty in every column read are formatting residue below the data: drop them.
        empty = np.logical_and.reduce(
            [c.is_null().to_numpy(zero_copy_only=False) for c in cols.values()]
        )
        if empty.any():
            keep = pa.array(~empty)
            cols = {i: c.filter(keep) for i, c in cols.items()}
            numbers = numbers.filter(keep)
    return mapping, iter([(cols, numbers)])


def _xlsx_array(values: list[Any]) -> pa.Array:
    cells = [None if v == "" else v for v in values]
    try:
        return pa.array(cells)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # Numbers and text mixed in one column: compare them as text.
        return pa.array([None if v is None else _cell_text(v) for v in cells], pa.string())


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 20170101 and 123 as floats
    return "" if value is None else str(value)


def read_parquet(reading: Reading) -> tuple[HeaderMap, Iterator[Piece]]:
    path = reading.path
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except Exception as err:
        raise Unreadable(
            "format", "readable.parquet", "readable.parquet.hint", file=path.name, error=str(err)
        ) from err
    mapping = reading.map(list(names))

    def pieces() -> Iterator[Piece]:
        columns = [names[i] for i in mapping.needed] or names[:1]  # one, to count rows
        row = 1
        for batch in parquet.iter_batches(batch_size=1 << 20, columns=columns):
            yield (
                {i: batch.column(k) for k, i in enumerate(mapping.needed)},
                row_numbers(row, batch.num_rows),
            )
            row += batch.num_rows

    return mapping, pieces()
