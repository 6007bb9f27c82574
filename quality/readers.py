"""Read one delivery file into Arrow under its contract: the gate's `readable`, `schema`, `types`.

`read_delivery` sniffs the format from the content (CSV/TSV, XLSX, Parquet, JSON Lines), the
text encoding (BOM, strict UTF-8, strict CP949, charset-normalizer) and the delimiter, maps the
file's headers to the contract's columns and casts them. Bad input never raises: it comes back
as failed checks. Text is decoded in streaming chunks, cut into segments at record boundaries
and parsed by pyarrow's multi-threaded CSV reader in a background thread while the previous
segment is cast (pyarrow kernels + one DuckDB query): no Python code runs per row, and each
typed piece is spilled to a Parquet file (`quality.spill`) rather than kept.

`__row` is the record's place in the file as a steward sees it: for CSV the record number with
the header as 1 (records, not physical lines: quoted values may hold newlines; blank lines are
not counted), for XLSX the sheet row, for JSON Lines the line number, for Parquet the 1-based
record index.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from contracts.model import Contract
from quality.casting import Caster
from quality.decoding import (
    SAMPLE_BYTES,
    DecodeFailure,
    OpenQuote,
    TextEncoding,
    bom_encoding,
    candidate_encodings,
    complete_lines,
    first_decoding,
    first_record,
    looks_like_jsonl,
    record_segments,
    sniff_binary,
    sniff_delimiter,
)
from quality.headers import HeaderMap, is_blank
from quality.reading import (
    BLOCK_BYTES,
    Opener,
    Piece,
    Reading,
    Unreadable,
    prefetch,
    row_numbers,
)
from quality.results import MAX_SAMPLES, CheckKind, CheckResult, ReadResult, Sample, SourceInfo
from quality.spill import SPILL_NAME, Spill, typed_schema
from quality.structured import read_jsonl, read_parquet, read_xlsx
from quality.transcoding import scan, utf8_stream
from quality.wording import Param, Phrase

SEGMENT_BYTES = 1 << 25  # text parsed and cast at once: bounds the raw text held in memory
EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xls": "xlsx"}
EXTENSIONS |= {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
# A zip (XLSX) expanding past this, or past RATIO times its size beyond BOMB_FLOOR, is refused
# unopened: the XLSX reader holds a sheet in memory, and a zip bomb would take the machine.
MAX_EXPANDED_BYTES = 1 << 30
BOMB_RATIO, BOMB_FLOOR = 100, 1 << 26
DELIMITER_KEYS = {
    "\t": "readable.delimiter.tab",
    ",": "readable.delimiter.comma",
    ";": "readable.delimiter.semicolon",
    "|": "readable.delimiter.pipe",
}
# Excel's column limit: no table exported from a spreadsheet or a database is wider, and a
# header wider than this is a wrong delimiter or not a header (parsing it costs memory per field).
MAX_COLUMNS = 16_384


def read_delivery(
    path: Path, contract: Contract, *, sample_rows: int = 10, work: Path | None = None
) -> ReadResult:
    """Read `path` as a delivery of `contract`: the typed delivery (or None) and the checks.

    With a `work` folder the typed delivery is spilled there as an Arrow file (`ReadResult.spill`)
    and never held in memory; the caller removes the folder. Without one it is spilled to a
    temporary folder and read back into memory (`ReadResult.table`): for small files and tests.
    """
    if work is None:
        with tempfile.TemporaryDirectory(prefix="gongyu-read-") as tmp:
            result = read_delivery(path, contract, sample_rows=sample_rows, work=Path(tmp))
            result.table  # noqa: B018 - loads the spill before its folder goes
            result.spill = None
            return result
    path = Path(path)
    source = SourceInfo(file=path.name, format=EXTENSIONS.get(path.suffix.lower(), "unknown"))
    reading = Reading(path, contract, source, sample_rows, Path(work) / SPILL_NAME)
    try:
        return read_prepared(reading)
    except Unreadable as err:
        return ReadResult(checks=[err.check], source=source)
    except Exception as err:  # a reader bug or an exotic file must still yield a report
        check = Unreadable(
            "error",
            "readable.error",
            "readable.error.hint",
            file=path.name,
            format=source.format,
            error=f"{type(err).__name__}: {err}",
        ).check
        return ReadResult(checks=[check], source=source)


def read_prepared(reading: Reading) -> ReadResult:
    """Read a file as `reading` describes it (its contract maps the header); Unreadable says
    why it cannot be read. `read_delivery` wraps it; drafting reads files it has no contract for."""
    path = reading.path
    if not path.is_file():
        raise Unreadable("missing", "readable.missing", "readable.missing.hint", file=str(path))
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    bom = bom_encoding(head)
    if not head[bom.bom if bom else 0 :].strip():
        raise Unreadable("empty", "readable.empty", "readable.empty.hint", file=path.name)
    kind = sniff_binary(head)
    if kind == "xlsx" and head.startswith(b"PK"):
        _refuse_bomb(path)
    if kind == "xlsx":
        reading.source.format = "xlsx"
        return _consume(reading, *read_xlsx(reading))
    if kind == "parquet":
        reading.source.format = "parquet"
        return _consume(reading, *read_parquet(reading))
    return _text(reading, head)


def _refuse_bomb(path: Path) -> None:
    """Refuse a zip whose members expand to far more than the file (a zip bomb), unopened."""
    try:
        with zipfile.ZipFile(path) as z:
            expanded = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a readable zip: the XLSX reader reports it
    size = max(path.stat().st_size, 1)
    if expanded > MAX_EXPANDED_BYTES or (expanded > BOMB_FLOOR and expanded > BOMB_RATIO * size):
        raise Unreadable(
            "bomb",
            "readable.bomb",
            "readable.bomb.hint",
            file=path.name,
            size=size,
            expanded=expanded,
            ratio=expanded // size,
            limit=MAX_EXPANDED_BYTES,
        )


def _consume(reading: Reading, mapping: HeaderMap, pieces: Iterator[Piece]) -> ReadResult:
    """Cast every piece (when the header fits the contract), spill it, assemble the report.

    Each typed piece goes to the spill and is dropped: memory stays at a few pieces.
    """
    contract, source = reading.contract, reading.source
    filled: set[int] = set()
    rows = 0
    columns = list(contract.columns)
    with (
        Caster(columns, contract.null_values, reading.sample_rows) as caster,
        Spill(reading.spill, typed_schema(columns)) as spill,
    ):
        for cols, numbers in pieces:
            rows += len(numbers)
            filled |= {i for i in mapping.unnamed if i not in filled and not is_blank(cols[i])}
            if mapping.fits and len(numbers):
                raw = [cols[mapping.index[c.name]] for c in columns]
                spill.write(caster.cast(raw, numbers))
        failures = caster.checks()
    source.rows = rows
    if rows == 0:
        raise Unreadable("empty", "readable.no_rows", "readable.no_rows.hint", file=source.file)
    checks = [
        _passed(CheckKind.readable, "readable.read", rows=rows, file=source.file, **_how(source))
    ]
    checks += mapping.checks(sorted(filled))
    if not mapping.fits:
        return ReadResult(checks=checks, source=source)
    checks += failures or [_passed(CheckKind.types, "types.passed", columns=len(columns))]
    return ReadResult(checks=checks, source=source, spill=reading.spill)


def _how(source: SourceInfo) -> dict[str, Param]:
    """How a file was read, as the `readable.read` message's values."""
    how = ", ".join([source.format, *([source.encoding] if source.encoding else [])])
    name = DELIMITER_KEYS.get(source.delimiter or "")
    return {"how": how, "delimiter": Phrase(key=name) if name else ""}


def _passed(kind: CheckKind, key: str, **params: Param) -> CheckResult:
    return CheckResult(kind=kind, rule=kind.value, passed=True, key=key, params=params)


# --- text: CSV/TSV and JSON Lines -------------------------------------------------------------


def _text(reading: Reading, head: bytes) -> ReadResult:
    path, source = reading.path, reading.source
    bom = bom_encoding(head)
    candidates = candidate_encodings(head)
    decoded = first_decoding(head, candidates)
    # Nothing decodes the sample: the full reads below locate the bad bytes.
    text, chosen = decoded or (
        head[candidates[0].bom :].decode(candidates[0].codec, "replace"),
        None,
    )
    text = complete_lines(text, at_eof=len(head) < SAMPLE_BYTES)
    if "\x00" in text and text.count("\x00") * 10 < len(text):  # a few: not UTF-16
        at = text.index("\x00")
        row = text.count("\n", 0, at) + 1
        raise Unreadable(
            "nul",
            "readable.nul",
            "readable.nul.hint",
            samples=[Sample(row=row, values={"text": text[max(0, at - 40) : at + 40]})],
            file=path.name,
            nuls=text.count(chr(0)),
            line=row,
            before=repr(text[max(0, at - 40) : at]),
        )
    if "\x00" in text:
        raise Unreadable("format", "readable.format", "readable.format.hint", file=path.name)
    if looks_like_jsonl(text):
        source.format = "jsonl"
        return _decoded(
            reading, candidates, lambda opener: _consume(reading, *read_jsonl(reading, opener))
        )
    source.format, source.delimiter = "csv", sniff_delimiter(text)
    headers = first_record(text, source.delimiter)
    if len(headers) > MAX_COLUMNS:
        raise Unreadable(
            "columns",
            "readable.columns",
            "readable.columns.hint",
            samples=[Sample(row=1, values={"text": text[:80]})],
            file=path.name,
            fields=len(headers),
            delimiter=repr(source.delimiter),
            limit=MAX_COLUMNS,
        )
    mapping = reading.map(headers)
    if not mapping.fits and chosen is not None and not bom and chosen not in candidates[:2]:
        # Only a detector's guess decodes the start, and its headers are not the contract's:
        # the file is most likely UTF-8 or CP949 with bad bytes. Say where they are.
        found = [scan(path, enc) for enc in candidates[:2]]
        if all(found):
            raise _undecodable(path, [f for f in found if f is not None])
    return _decoded(
        reading,
        candidates,
        lambda opener: _consume(reading, mapping, _csv(opener, reading, mapping)),
    )


def _decoded(reading: Reading, candidates: list[TextEncoding], run: Callable[[Opener], Any]):
    """`run` with the first candidate encoding that decodes the whole file."""
    path = reading.path
    failures: list[DecodeFailure] = []
    for enc in candidates:
        if enc.codec == "utf-8":
            opener: Opener = lambda: open(path, "rb")  # noqa: E731, SIM115 - pyarrow checks UTF-8, skips a BOM
        else:
            opener = lambda enc=enc: utf8_stream(path, enc)  # noqa: E731
        try:
            result = run(opener)
        except DecodeFailure as failure:
            failures.append(failure)
            continue
        except pa.ArrowInvalid as err:
            if enc.codec != "utf-8":
                raise
            # Invalid UTF-8 may surface as a parse error (a cut character ends a short row).
            failure = scan(path, enc)
            if failure is None and "utf8" not in str(err).lower():
                raise
            failures.append(failure or DecodeFailure(enc.label, 0, 1, b""))
            continue
        reading.source.encoding = enc.label
        return result
    raise _undecodable(path, failures)


def _undecodable(path: Path, failures: list[DecodeFailure]) -> Unreadable:
    # Report the encoding that got furthest: the file most likely is that, with a bad byte.
    worst = max(failures, key=lambda f: f.offset)
    others = ", ".join(f.label for f in failures if f is not worst)
    where = {"file": path.name, "line": worst.line, "offset": worst.offset, "label": worst.label}
    bad = {"offset": worst.offset, "bytes": worst.bad.hex(" ")}
    line = _line_at(path, worst.offset)
    other = _mixed_in(line, worst.label)
    if other is not None:
        text = line.decode(other, "replace").strip()[:80]
        return Unreadable(
            "encoding",
            "readable.encoding.mixed",
            "readable.encoding.mixed.hint",
            samples=[Sample(row=worst.line, values={**bad, "text": text})],
            **{**where, "label": worst.label.upper()},
            other=other.upper(),
        )
    return Unreadable(
        "encoding",
        "readable.encoding",
        "readable.encoding.hint",
        samples=[Sample(row=worst.line, values=bad)],
        **where,
        bytes=worst.bad.hex(" "),
        also=Phrase(key="readable.encoding.also", params={"others": others}) if others else "",
    )


def _line_at(path: Path, offset: int, reach: int = 1 << 16) -> bytes:
    """The line holding byte `offset` (up to `reach` bytes either side)."""
    with open(path, "rb") as f:
        f.seek(max(0, offset - reach))
        window = f.read(2 * reach)
    at = min(offset, reach)
    start = window.rfind(b"\n", 0, at) + 1
    end = window.find(b"\n", at)
    return window[start : end if end >= 0 else len(window)]


def _mixed_in(line: bytes, label: str) -> str | None:
    """The other of UTF-8 and CP949 when the failing line is wholly in it: the file mixes the
    two (rows pasted from another file), which one consistent encoding fixes."""
    ours = "cp949" if label == "cp949" else "utf-8" if label.startswith("utf-8") else None
    if ours is None:
        return None
    other = "utf-8" if ours == "cp949" else "cp949"
    try:
        line.decode(other)
    except UnicodeDecodeError:
        return None
    return other


def _csv(opener: Opener, reading: Reading, mapping: HeaderMap) -> Iterator[Piece]:
    """The needed columns as strings, batch by batch; the header is parsed as row 0, so it
    is quoted and split exactly like the data."""
    width = max(len(mapping.headers), 1)
    names = [f"f{i}" for i in range(width)]
    include = [names[i] for i in mapping.needed if i < width] or names[:1]
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "error"  # stop: the single-threaded re-read below numbers the rows

    options = {
        "read_options": pcsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
        "parse_options": pcsv.ParseOptions(
            delimiter=reading.source.delimiter,
            newlines_in_values=True,
            invalid_row_handler=on_invalid,
        ),
        "convert_options": pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=include,
            strings_can_be_null=False,
        ),
    }

    def tables() -> Iterator[pa.Table]:
        # Segments end at record boundaries, so each is parsed by pyarrow's multi-threaded
        # reader while the caster works on the previous one.
        with heard_by(on_invalid), opener() as stream:
            # A record longer than a parse block fails in pyarrow anyway ("straddling"):
            # carrying more than a segment and a block only holds more text in memory.
            for segment in record_segments(
                stream,
                SEGMENT_BYTES,
                limit=SEGMENT_BYTES + BLOCK_BYTES,
                delimiter=reading.source.delimiter,
            ):
                yield pcsv.read_csv(pa.py_buffer(segment), **options)

    row, header = 2, True
    try:
        for table in prefetch(tables):
            if header and table.num_rows:
                table, header = table.slice(1), False  # the header row
            if table.num_rows:
                yield _piece(table, row)
                row += table.num_rows
    except OpenQuote:
        raise Unreadable(
            "quote",
            "readable.quote",
            "readable.quote.hint",
            samples=[Sample(row=row)],
            file=reading.path.name,
            row=row,
        ) from None
    except pa.ArrowInvalid as err:
        if "straddl" in str(err):
            raise Unreadable(
                "record-too-long",
                "readable.record_too_long",
                "readable.record_too_long.hint",
                samples=[Sample(row=row)],
                file=reading.path.name,
                limit=BLOCK_BYTES,
                row=row,
            ) from None
        if not invalid:
            raise
        raise _ragged(opener, options) from None


def _piece(table: pa.Table, first_row: int) -> Piece:
    cols = {int(n[1:]): table.column(n) for n in table.column_names}
    return cols, row_numbers(first_row, table.num_rows)


def _ragged(opener: Opener, options: dict[str, Any]) -> Unreadable:
    """Count and number the rows whose field count differs from the header's."""
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    read, parse = options["read_options"], options["parse_options"]
    read.use_threads = False  # row numbers are only known to a serial parse
    parse.invalid_row_handler = on_invalid
    convert = options["convert_options"]
    with (
        heard_by(on_invalid),
        opener() as stream,
        pcsv.open_csv(stream, read, parse, convert) as batches,
    ):
        for _ in batches:
            pass
    first = invalid[0]
    return Unreadable(
        "rows",
        "readable.rows",
        "readable.rows.hint",
        rows=len(invalid),
        row=first.number,
        fields=first.actual_columns,
        expected=first.expected_columns,
        samples=[
            Sample(row=r.number, values={"fields": r.actual_columns, "text": r.text[:200]})
            for r in invalid[:MAX_SAMPLES]
        ],
    )


# pyarrow decodes an invalid row's text as UTF-8 before it calls the row handler: a row of bytes
# that are not UTF-8 (a file cut mid-character, UTF-16 without its BOM) fails there, and Python
# prints that failure as "Exception ignored in: <function on_invalid>". The read then fails on
# the same bytes as not UTF-8, with the gate's own message; the print is noise on the operator's
# console, so while a handler reads, its decoding failures are dropped (any other goes on).
_listening: dict[int, Callable[..., Any]] = {}
_listening_lock = threading.Lock()
_previous_hook = sys.unraisablehook


def _drop_undecodable(unraisable: Any) -> None:
    handlers = list(_listening.values())
    if isinstance(unraisable.exc_value, UnicodeDecodeError) and any(
        unraisable.object is handler for handler in handlers
    ):
        return
    _previous_hook(unraisable)


@contextmanager
def heard_by(handler: Callable[..., Any]) -> Iterator[None]:
    """While the block runs, rows pyarrow cannot decode for `handler` are dropped silently."""
    global _previous_hook
    with _listening_lock:
        if not _listening:
            _previous_hook, sys.unraisablehook = sys.unraisablehook, _drop_undecodable
        _listening[id(handler)] = handler
    try:
        yield
    finally:
        with _listening_lock:
            del _listening[id(handler)]
            if not _listening:
                sys.unraisablehook = _previous_hook
