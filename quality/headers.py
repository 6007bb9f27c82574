"""Map a delivery's header cells to its contract's columns, and judge what does not fit."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import Column, Contract, Severity
from quality.casting import WHITESPACE
from quality.results import CheckKind, CheckResult


def normalise(text: str) -> str:
    """A header as compared: NFC (macOS writes Hangul decomposed), without padding."""
    return unicodedata.normalize("NFC", text).strip(WHITESPACE)


@dataclass
class HeaderMap:
    """Where each contract column sits in the file, and what does not fit."""

    headers: list[str]
    index: dict[str, int]  # contract column name → header position
    missing: list[Column]
    duplicates: list[str]
    extras: list[int]  # named file columns not in the contract
    unnamed: list[int]  # file columns without a header

    @property
    def needed(self) -> list[int]:
        """Header positions to read: mapped columns, and unnamed ones (to see they are empty)."""
        return sorted(set(self.index.values()) | set(self.unnamed))

    @property
    def fits(self) -> bool:
        """Every contract column found, once: the file can be cast."""
        return not self.missing and not self.duplicates

    def checks(self, filled: list[int]) -> list[CheckResult]:
        """The `schema` checks; `filled` are unnamed columns found to hold values."""
        found = ", ".join(repr(h) for h in self.headers) or "none"
        out: list[CheckResult] = []
        if self.duplicates:
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema:duplicate_headers",
                    passed=False,
                    count=len(self.duplicates),
                    message="the header names these columns more than once: "
                    + ", ".join(repr(d) for d in self.duplicates),
                    hint="give every column of the header row a distinct name",
                )
            )
        if self.missing:
            names = ", ".join(f"'{c.physical_name}' ({c.name})" for c in self.missing)
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema:missing_columns",
                    passed=False,
                    count=len(self.missing),
                    message=f"{len(self.missing)} contract column(s) missing: {names}; "
                    f"the file's headers are: {found}",
                    hint="name the file's header cells as the contract's physicalName, or, if "
                    "the column was renamed, update physicalName in the contract",
                )
            )
        extra = [repr(self.headers[i]) for i in self.extras]
        extra += [f"unnamed column {i + 1}" for i in filled]
        if extra:
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema:extra_columns",
                    severity=Severity.warning,
                    passed=False,
                    count=len(extra),
                    message=f"{len(extra)} file column(s) not in the contract were ignored: "
                    + ", ".join(extra),
                    hint="add them to the contract if they should be published; otherwise "
                    "leave them out of the file",
                )
            )
        if self.fits:
            found_all = f"all {len(self.index)} contract columns found in the file"
            out.append(
                CheckResult(kind=CheckKind.schema, rule="schema", passed=True, message=found_all)
            )
        return out


def map_headers(headers: list[str], contract: Contract) -> HeaderMap:
    """Match headers to columns: physicalName exactly, then normalised, then the column name."""
    exact: dict[str, int] = {}
    normal: dict[str, int] = {}
    folded: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        exact.setdefault(h, i)
        normal.setdefault(normalise(h), i)
        folded.setdefault(normalise(h).casefold(), i)
        if normalise(h):
            seen[normalise(h)] = seen.get(normalise(h), 0) + 1
    index: dict[str, int] = {}
    missing: list[Column] = []
    for col in contract.columns:
        for table, key in (
            (exact, col.physical_name),
            (normal, normalise(col.physical_name)),
            (exact, col.name),
            (normal, normalise(col.name)),
            (folded, normalise(col.name).casefold()),
        ):
            if key in table:
                index[col.name] = table[key]
                break
        else:
            missing.append(col)
    used = set(index.values())
    rest = [i for i in range(len(headers)) if i not in used]
    return HeaderMap(
        headers=headers,
        index=index,
        missing=missing,
        duplicates=[h for h, n in seen.items() if n > 1],
        extras=[i for i in rest if normalise(headers[i])],
        unnamed=[i for i in rest if not normalise(headers[i])],
    )


def is_blank(col: pa.ChunkedArray | pa.Array) -> bool:
    """True when a column holds nothing but nulls and whitespace."""
    if pa.types.is_null(col.type) or col.null_count == len(col):
        return True
    if not pa.types.is_string(col.type):
        return False
    lengths = pc.binary_length(pc.utf8_trim_whitespace(col))
    return not pc.any(pc.greater(lengths, 0)).as_py()
