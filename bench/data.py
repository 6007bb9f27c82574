"""Benchmark inputs: a shipped CP949 dataset repeated to N rows, streamed to disk and cached."""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from bench import REPO, WORK

CHUNK = 1 << 22


@dataclass(frozen=True)
class Source:
    """A real delivery file with a contract: its dataset id, path and encoding."""

    dataset_id: str
    path: Path
    encoding: str


KOROAD = Source(
    dataset_id="koroad_fatal_traffic_accidents",
    path=REPO / "data/welfare_safety/koroad_fatal_traffic_accidents_2020.csv",
    encoding="cp949",
)
"""KoROAD's 2020 fatal accidents: CP949, CRLF, 23 columns of every logical type but date,
no quoted fields, and a contract without a primary key, so repeated rows stay valid."""


def split_header(raw: bytes) -> tuple[bytes, list[bytes]]:
    """The header line and the data lines (each with its line ending) of an unquoted CSV."""
    lines = raw.splitlines(keepends=True)
    body = [line if line.endswith(b"\n") else line + b"\r\n" for line in lines[1:] if line.strip()]
    return lines[0], body


def build_csv(source: Source, rows: int, work: Path = WORK) -> Path:
    """`source` repeated to `rows` data rows, byte for byte (so still CP949), cached in `work`.

    Streamed: one copy of the source's rows is kept in memory, never the output. The file is
    written under a temporary name and renamed, so a cached file is always complete.
    """
    raw = source.path.read_bytes()
    tag = hashlib.sha256(raw).hexdigest()[:10]
    out = work / f"{source.dataset_id}-{rows}-{tag}.{source.encoding}.csv"
    if out.exists():
        return out
    work.mkdir(parents=True, exist_ok=True)
    header, body = split_header(raw)
    block = b"".join(body)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        full, rest = divmod(rows, len(body))
        for _ in range(full):
            f.write(block)
        f.write(b"".join(body[:rest]))
    os.replace(tmp, out)
    return out


def transcode(path: Path, encoding: str, target: str = "utf-8") -> Path:
    """A copy of `path` re-encoded from `encoding` to `target`, chunk by chunk."""
    out = path.with_name(f"{path.name.removesuffix('.csv')}.{target}.csv")
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    tmp = out.with_name(out.name + ".tmp")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(decoder.decode(chunk).encode(target))
        dst.write(decoder.decode(b"", final=True).encode(target))
    os.replace(tmp, out)
    return out


def warm(path: Path) -> None:
    """Read the file once so every measurement starts from the same (warm) page cache."""
    with open(path, "rb") as f:
        while f.read(CHUNK * 4):
            pass
