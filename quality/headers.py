"""Map a delivery's header cells to its contract's columns, and judge what does not fit."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import Column, Contract, Severity
from quality.casting import WHITESPACE
from quality.results import CheckKind, CheckResult
from quality.wording import SHOWN, Phrase, listed

SHOWN_HEADERS = 8  # of the file's own header, where a renamed column is looked for


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
        out: list[CheckResult] = []
        if self.duplicates:
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema:duplicate_headers",
                    passed=False,
                    count=len(self.duplicates),
                    key="schema.duplicate_headers",
                    hint_key="schema.duplicate_headers.hint",
                    params={"names": listed([repr(d) for d in self.duplicates])},
                )
            )
        if self.missing:
            found = [repr(h) for h in self.headers]
            total = len(self.index) + len(self.missing)
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema:missing_columns",
                    passed=False,
                    count=len(self.missing),
                    # Many missing: the file is another table, or its header row is elsewhere.
                    key="schema.missing.many" if len(self.missing) > SHOWN else "schema.missing",
                    hint_key="schema.missing.hint",
                    params={
                        "matched": len(self.index),
                        "total": total,
                        "names": listed([f"'{c.physical_name}' ({c.name})" for c in self.missing]),
                        "found": listed(found, SHOWN_HEADERS) if found else Phrase(key="list.none"),
                    },
                )
            )
        extra = [repr(self.headers[i]) for i in self.extras]
        unnamed = ", ".join(str(i + 1) for i in filled)
        if extra or filled:
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema:extra_columns",
                    severity=Severity.warning,
                    passed=False,
                    count=len(extra) + len(filled),
                    key="schema.extra" if extra else "schema.extra.unnamed_only",
                    hint_key="schema.extra.hint",
                    params={
                        "names": listed(extra),
                        "positions": unnamed,
                        "unnamed": Phrase(key="schema.extra.unnamed", params={"positions": unnamed})
                        if filled
                        else "",
                    },
                )
            )
        if self.fits:
            out.append(
                CheckResult(
                    kind=CheckKind.schema,
                    rule="schema",
                    passed=True,
                    key="schema.passed",
                    params={"columns": len(self.index)},
                )
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
