"""Before a file is accepted: does its header look like the contract's? Read from its start only,
so a file meant for another dataset is refused in a second, not quarantined minutes later."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.model import Contract
from quality.decoding import (
    SAMPLE_BYTES,
    candidate_encodings,
    complete_lines,
    first_decoding,
    first_record,
    looks_like_jsonl,
    sniff_binary,
    sniff_delimiter,
)
from quality.headers import map_headers


class HeaderMismatch(ValueError):
    """A file whose header matches too few of the contract's columns; the message says how many
    and, where another contract of the agency fits it, which."""


@dataclass(frozen=True)
class HeaderFit:
    """How many of a contract's columns a file's header names."""

    contract: Contract
    matched: int

    @property
    def total(self) -> int:
        """The contract's columns."""
        return len(self.contract.columns)

    @property
    def close(self) -> bool:
        """At least half the columns are there: the gate's own report says what is wrong."""
        return 2 * self.matched >= self.total


def file_headers(path: Path) -> list[str] | None:
    """The header names of a delivery file, from its start; None when they cannot be told here
    (the gate reads the whole file and reports what it finds)."""
    try:
        with open(path, "rb") as f:
            head = f.read(SAMPLE_BYTES)
        kind = sniff_binary(head)
        if kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if kind == "xlsx":
            return _xlsx_headers(path)
        decoded = first_decoding(head, candidate_encodings(head))
        if decoded is None:
            return None
        text = complete_lines(decoded[0], at_eof=len(head) < SAMPLE_BYTES)
        if looks_like_jsonl(text):
            first = json.loads(text.splitlines()[0])
            return list(first) if isinstance(first, dict) else None
        return first_record(text, sniff_delimiter(text))
    except Exception:  # any doubt: leave the verdict to the gate, which explains it
        return None


def _xlsx_headers(path: Path) -> list[str] | None:
    from python_calamine import CalamineWorkbook

    with open(path, "rb") as f:
        sheet = CalamineWorkbook.from_filelike(f).get_sheet_by_index(0)
        for row in sheet.iter_rows():
            cells = [str(c).strip() for c in row]
            if any(cells):
                return cells
    return None


def fit(headers: list[str], contract: Contract) -> HeaderFit:
    """How many of the contract's columns the header names (as the gate maps them)."""
    return HeaderFit(contract, len(map_headers(headers, contract).index))


def check_header(
    path: Path, contract: Contract, others: Iterable[Contract] = ()
) -> HeaderFit | None:
    """Refuse (HeaderMismatch) a file whose header names fewer than half the contract's columns,
    suggesting the agency's contract it fits best; None when the header cannot be read here."""
    headers = file_headers(path)
    if headers is None:
        return None
    found = fit(headers, contract)
    if found.close:
        return found
    better = sorted(
        (f for f in (fit(headers, c) for c in others if c.id != contract.id) if f.close),
        key=lambda f: -f.matched / f.total,
    )
    hint = (
        f" 혹시 {better[0].contract.id} ({better[0].contract.title}) 데이터셋의 파일입니까? "
        f"Did you mean {better[0].contract.id}?"
        if better
        else ""
    )
    raise HeaderMismatch(
        f"{path.name}: 계약의 {found.total}개 컬럼 중 {found.matched}개만 파일 머리글과 "
        f"일치합니다 ({found.matched} of {found.total} columns match the contract of "
        f"{contract.id}); the file was not accepted.{hint}"
    )
