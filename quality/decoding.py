"""Bytes to UTF-8: format sniffing, encoding detection and streaming transcoding.

Korean public data arrives as UTF-8, UTF-8 with BOM, UTF-16 with BOM or CP949 (a superset of
EUC-KR). Everything here works on bounded samples; `quality.transcoding` streams whole files
to UTF-8, so the Arrow readers downstream see only UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SAMPLE_BYTES = 1 << 20  # enough for the header and a few thousand rows
DELIMITERS = (",", "\t", ";", "|")

# Longest first: the UTF-32 LE BOM starts with the UTF-16 LE one.
BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be", "utf-16-be"),
)


@dataclass(frozen=True)
class TextEncoding:
    """A codec to decode with, the label reported to stewards, and the BOM length to skip."""

    codec: str
    label: str
    bom: int = 0


class DecodeFailure(Exception):
    """Bytes that the encoding cannot decode, located in the file."""

    def __init__(self, label: str, offset: int, line: int, bad: bytes) -> None:
        self.label, self.offset, self.line, self.bad = label, offset, line, bad
        super().__init__(
            f"bytes {bad.hex(' ')} at byte offset {offset:,} (line {line:,}) are not valid {label}"
        )


def bom_encoding(head: bytes) -> TextEncoding | None:
    """The encoding a byte-order mark declares, if the file starts with one."""
    for bom, codec, label in BOMS:
        if head.startswith(bom):
            return TextEncoding(codec, label, len(bom))
    return None


def sniff_binary(head: bytes) -> str | None:
    """Binary container formats by magic number: 'xlsx' (any zip/OLE workbook) or 'parquet'."""
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    return None


def decode_sample(raw: bytes, enc: TextEncoding) -> str:
    """Strictly decode a sample that may end mid-character; raises UnicodeDecodeError."""
    return codecs.getincrementaldecoder(enc.codec)("strict").decode(raw[enc.bom :], final=False)


def candidate_encodings(head: bytes) -> list[TextEncoding]:
    """The encodings a file's start may be in, likeliest first: its BOM's, else the guesses."""
    bom = bom_encoding(head)
    return [bom] if bom else guess_encodings(head)


def first_decoding(head: bytes, candidates: list[TextEncoding]) -> tuple[str, TextEncoding] | None:
    """The sample strictly decoded by the first candidate that can, and that candidate."""
    for enc in candidates:
        try:
            return decode_sample(head, enc), enc
        except UnicodeDecodeError:
            continue
    return None


def guess_encodings(sample: bytes) -> list[TextEncoding]:
    """Candidate encodings for a BOM-less sample, most likely first.

    UTF-8 first: valid UTF-8 is almost never accidental. Then CP949, the usual legacy encoding
    of Korean files. charset-normalizer only adds a last-resort guess.
    """
    candidates = [TextEncoding("utf-8", "utf-8"), TextEncoding("cp949", "cp949")]
    for enc in candidates:
        try:
            decode_sample(sample, enc)
        except UnicodeDecodeError:
            continue
        return [enc, *(c for c in candidates if c != enc)]
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample[:SAMPLE_BYTES]).best()
    except Exception:  # the detector is a heuristic; never let it break a read
        best = None
    if best is not None:
        codec = codecs.lookup(best.encoding).name
        if codec not in {"utf-8", "cp949", "euc_kr"}:
            candidates.append(TextEncoding(codec, codec))
    return candidates


def looks_like_jsonl(text: str) -> bool:
    """True when the first non-blank line is a JSON object."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def complete_lines(text: str, at_eof: bool) -> str:
    """The sample without its last, possibly cut, line."""
    if at_eof:
        return text
    cut = text.rfind("\n")
    return text[: cut + 1] if cut > 0 else text


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the sample's first records into the most consistent columns.

    A candidate scores by how many of the first records have as many fields as the header
    (quoted fields honoured), then by the number of fields; one-column files fall back to ','.
    """
    best, best_score = ",", (0.0, 1)
    for delim in DELIMITERS:
        rows = [r for r in _records(text, delim, 200) if r]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def first_record(text: str, delim: str) -> list[str]:
    """The header record of the sample, parsed as pyarrow will (RFC 4180 quoting)."""
    rows = _records(text, delim, 1)
    return rows[0] if rows else []


def _records(text: str, delim: str, limit: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"', strict=False)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:  # e.g. a quote left open by the sample's cut
        pass
    return rows


class OpenQuote(ValueError):
    """The text ends inside a quoted value: the file was cut, or a quote was never closed."""


def record_segments(
    stream: Any, size: int, limit: int = 1 << 28, delimiter: str = ","
) -> Iterator[bytes]:
    """UTF-8 CSV text in segments of about `size` bytes, each ending at a record boundary.

    A newline ends a record when an even number of quotes precede it in the segment (RFC 4180
    doubles quotes inside quoted values, so parity holds). Segments can then be parsed
    independently, each by pyarrow's multi-threaded reader. A quote left open runs on to
    `limit` bytes, then the segment is cut anyway and the parser reports the damage. Text
    that ends inside a quoted value raises `OpenQuote` once the records before it are yielded.
    """
    carry = b""
    while block := stream.read(size):
        data = carry + block if carry else block
        cut = _record_end(data)
        if cut == 0 and len(data) < limit:
            carry = data
            continue
        cut = cut or len(data)
        yield data[:cut]
        carry = data[cut:]
    if carry.count(b'"') % 2 and _ends_quoted(carry, delimiter):
        raise OpenQuote("the file ends inside a quoted value")
    if carry:
        yield carry


def _ends_quoted(data: bytes, delimiter: str) -> bool:
    """True when `data` ends inside a quoted value (a quote inside an unquoted one is text)."""
    rows = csv.reader(
        io.StringIO(data.decode("utf-8", "replace"), newline=""), delimiter=delimiter, strict=True
    )
    try:
        for _ in rows:
            pass
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


def _record_end(data: bytes) -> int:
    """Offset just past the last newline outside quotes (0: none)."""
    total = data.count(b'"')
    pos = data.rfind(b"\n")
    after = data.count(b'"', pos) if pos >= 0 else 0
    while pos >= 0:
        if (total - after) % 2 == 0:
            return pos + 1
        prev = data.rfind(b"\n", 0, pos)
        after += data.count(b'"', prev + 1 if prev >= 0 else 0, pos)
        pos = prev
    return 0
