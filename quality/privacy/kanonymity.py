"""k-anonymity over a delivery's quasi-identifiers, vectorised with Arrow (`group_by` + count).

An equivalence class is the set of rows sharing one combination of quasi-identifier values;
a table is k-anonymous when every class has at least k rows. Null is a value like any other
here: rows whose age is unknown form their own class with the other values (Arrow's `group_by`
groups nulls together), because an "unknown" cell singles a person out just as well.

Reports carry only class sizes and counts, never quasi-identifier values: the report may be
shown to people who must not see the rows.

`generalise` coarsens columns to a declared level (`GENERALISATION_LEVELS`) so a steward can
opt in to sharing a generalised table instead of dropping a quasi-identifier.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from contracts.model import GENERALISATION_LEVELS, Severity
from quality.results import CheckKind, CheckResult
from quality.wording import Param, Phrase

RULE = "k_anonymity"
_ROUND = re.compile(r"^round_(\d+(?:\.\d+)?)$")
# Column names that mark an age or a place; logical types alone cannot tell them apart.
_AGE = re.compile(r"(^|_)age($|_)|나이|연령", re.IGNORECASE)
_FEW = 10  # a column with at most this many distinct values is already coarse (e.g. sex)
_REGION = re.compile(r"region|address|addr|sido|sigungu|city|주소|지역|시도|시군구|소재지", re.I)


class KReport(BaseModel):
    """Equivalence-class sizes of a table over its quasi-identifiers (sizes and counts only)."""

    quasi: list[str]
    k: int
    rows: int
    classes: int
    smallest: int = Field(description="Rows in the smallest class; 0 for an empty table.")
    below_k: dict[int, int] = Field(
        default_factory=dict, description="Class size -> number of classes of that size, < k."
    )
    classes_below_k: int = 0
    rows_below_k: int = 0

    @property
    def passed(self) -> bool:
        """True when every class has at least k rows (an empty table passes)."""
        return self.rows == 0 or self.smallest >= self.k


def _class_sizes(table: pa.Table, quasi: list[str]) -> np.ndarray:
    missing = [c for c in quasi if c not in table.column_names]
    if missing:
        raise ValueError(f"quasi-identifier columns not in the table: {', '.join(missing)}")
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    if not quasi:  # no quasi-identifiers: the whole table is one class
        return np.array([table.num_rows], dtype=np.int64)
    counts = table.select(quasi).group_by(quasi).aggregate([([], "count_all")])["count_all"]
    return counts.to_numpy()


def equivalence_classes(table: pa.Table, quasi: list[str], k: int = 5) -> KReport:
    """Class count, smallest class and the histogram of class sizes below `k`.

    Nulls in a quasi-identifier form their own class value (see the module docstring).
    """
    sizes = _class_sizes(table, quasi)
    small = sizes[sizes < k]
    size, n = np.unique(small, return_counts=True)
    return KReport(
        quasi=list(quasi),
        k=k,
        rows=table.num_rows,
        classes=len(sizes),
        smallest=int(sizes.min()) if len(sizes) else 0,
        below_k={int(s): int(c) for s, c in zip(size, n, strict=True)},
        classes_below_k=len(small),
        rows_below_k=int(small.sum()),
    )


def _has_minutes(values: pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.not_equal(pc.floor_temporal(values, unit="hour"), values)).as_py())


def _looks_regional(values: pa.ChunkedArray) -> bool:
    """Most values are several words whose first is a 시·도 (ends in 시 or 도)."""
    present = values.drop_null()
    if len(present) == 0:
        return False
    first = pc.match_substring_regex(present, r"^\s*\S+[시도]\s+\S")
    return (pc.sum(first).as_py() or 0) >= len(present) / 2


def suggestion(table: pa.Table, column: str) -> Phrase:
    """A generalisation for one quasi-identifier, from its Arrow type, name and values."""
    t = table.schema.field(column).type
    values = table[column]
    if pa.types.is_integer(t) and _AGE.search(column):
        return Phrase.of("privacy.suggest.age", column=column)
    if pa.types.is_timestamp(t):
        if _has_minutes(values):
            return Phrase.of("privacy.suggest.timestamp_minutes", column=column)
        return Phrase.of("privacy.suggest.timestamp", column=column)
    if pa.types.is_date(t):
        return Phrase.of("privacy.suggest.date", column=column)
    if pa.types.is_string(t) and (_REGION.search(column) or _looks_regional(values)):
        return Phrase.of("privacy.suggest.region", column=column)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return Phrase.of("privacy.suggest.number", column=column)
    distinct = pc.count_distinct(values).as_py()
    if distinct <= _FEW:
        return Phrase.of("privacy.suggest.coarse", column=column, distinct=distinct)
    return Phrase.of("privacy.suggest.category", column=column)


def check_k(
    table: pa.Table, quasi: list[str], k: int, after: Param = "", limit: Param = ""
) -> CheckResult:
    """The `k_anonymity` privacy check: blocking when the smallest class has fewer than k rows.

    `after` names the generalisation applied first, `limit` the suppression the contract allows.
    """
    report = equivalence_classes(table, quasi, k)
    said = {"k": k, "quasi": ", ".join(quasi) or "(none)", "after": after}
    said |= {"smallest": report.smallest, "classes": report.classes}
    if report.passed:
        return CheckResult(
            kind=CheckKind.privacy, rule=RULE, passed=True, key="privacy.k.met", params=said
        )
    return CheckResult(
        kind=CheckKind.privacy,
        rule=RULE,
        severity=Severity.error,
        passed=False,
        count=report.rows_below_k,
        key="privacy.k.failed",
        hint_key="privacy.k.hint",
        params={
            **said,
            "classes_below": report.classes_below_k,
            "rows_below": report.rows_below_k,
            "rows": report.rows,
            "sizes": str(report.below_k),
            "limit": limit,
            "suggestions": [suggestion(table, c) for c in quasi],
        },
    )


def _band(values: pa.ChunkedArray, width: int) -> pa.ChunkedArray:
    # Floor, not truncation, so -3 falls in "-5--1" rather than joining 0-4.
    low = pc.cast(
        pc.multiply(pc.floor(pc.divide(pc.cast(values, pa.float64()), width)), width), pa.int64()
    )
    high = pc.add(low, width - 1)
    return pc.binary_join_element_wise(pc.cast(low, pa.string()), pc.cast(high, pa.string()), "-")


def _generalise_column(values: pa.ChunkedArray, column: str, level: str) -> pa.ChunkedArray:
    t = values.type
    temporal = pa.types.is_timestamp(t) or pa.types.is_date(t)
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t)
    rounding = _ROUND.match(level)
    if level in ("age_band_5", "age_band_10") and numeric:
        return _band(values, 5 if level == "age_band_5" else 10)
    if level in ("month", "year") and temporal:
        # Format each distinct month once, not every row: strftime is the slow part.
        floored = pc.floor_temporal(values, unit=level).combine_chunks()
        encoded = pc.dictionary_encode(floored)
        text = pc.strftime(encoded.dictionary, "%Y-%m" if level == "month" else "%Y")
        return pa.chunked_array([text.take(encoded.indices)])
    if level == "day" and pa.types.is_timestamp(t):
        return pc.cast(values, pa.date32())
    if level == "hour" and pa.types.is_timestamp(t):
        return pc.floor_temporal(values, unit="hour")
    if level == "first_token" and pa.types.is_string(t):
        return pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"\s[\s\S]*$", "")
    if level == "suppress":
        return pa.chunked_array([pa.nulls(len(values), t)], t)
    if rounding and numeric:
        step = rounding.group(1)
        multiple = float(step) if "." in step else int(step)
        if multiple <= 0:
            raise ValueError(f"{column}: round_N needs N > 0, got {level!r}")
        return pc.round_to_multiple(values, multiple=multiple)
    known = level in GENERALISATION_LEVELS or rounding is not None
    why = f"does not apply to a {t} column" if known else "is not a known level"
    allowed = ", ".join(GENERALISATION_LEVELS)
    raise ValueError(f"{column}: level {level!r} {why}; allowed levels: {allowed}")


def generalise(table: pa.Table, hierarchy: dict[str, str]) -> pa.Table:
    """The table with each column of `hierarchy` coarsened to its declared level.

    Levels: age_band_5 / age_band_10 (integer → "30-34"), month / year (date or timestamp →
    "2022-07" / "2022"), day (timestamp → date), hour (timestamp → floored to the hour),
    first_token (string → first word, "서울특별시 강남구" → "서울특별시"), round_N (number →
    nearest multiple of N), suppress (every value → null: the top of any hierarchy).
    Unknown or inapplicable level: ValueError naming column and levels.
    """
    for column, level in hierarchy.items():
        if column not in table.column_names:
            raise ValueError(f"{column}: not a column of the table")
        coarse = _generalise_column(table[column], column, level)
        table = table.set_column(table.schema.get_field_index(column), column, coarse)
    return table


def smallest_k_after(table: pa.Table, quasi: list[str], hierarchy: dict[str, str]) -> int:
    """The smallest class size over `quasi` once `hierarchy` is applied."""
    return equivalence_classes(generalise(table, hierarchy), quasi).smallest
