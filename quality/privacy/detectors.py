"""Personal-identifier detectors, vectorised over whole Arrow string columns.

Each detector finds one candidate per cell with an RE2 regex (`pc.extract_regex`, the first
match in the cell), then validates the candidates' digits with NumPy (`checksums`). Samples keep
masked values only. Names are judged per column: see `NAME_SHARE`.

Known weaknesses (see also the test's labelled set):
- only the first candidate of a cell is checked; a cell holding two numbers may hide the second;
- hyphen-less business numbers and cards are accepted on their check digit alone, so about one
  in ten plain 10-digit (or 16-digit) numbers would pass by chance; `CHANCE_GUARD` drops a
  column's plain-digit hits when they are such a chance-sized share of its plain candidates
  (timestamps, amounts), so a column mixing real plain numbers with many look-alikes is missed;
- a resident number issued since Oct 2020 has no valid check digit: accepted with its hyphen
  (valid date + G digit), missed without one;
- names: a fixed surname and given-name syllable list; rare syllables are missed and Korean
  words that happen to look like names (e.g. 정보원) are hits, so only a column where at least
  `NAME_SHARE` of non-null cells look like names is reported; names inside free text are
  only found next to a cue (성명:, 담당자, …씨, …님, …과장).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from contracts.model import Classification, Severity
from quality.privacy import checksums
from quality.results import MAX_SAMPLES, ROW, CheckKind, CheckResult, Sample
from quality.wording import Phrase, say

# Digits must not continue a longer number or a decimal (37.0101234567 is a coordinate).
_LB = r"(?:^|[^0-9.]|[^0-9]\.)"
_RB = r"(?:$|[^0-9.]|\.[^0-9]|\.$)"
_RRN = r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-?"
# Phone numbers must not be one group of a longer grouped number (a card's "1616 0177").
_LBG = r"(?:^|[^0-9. -]|[^0-9][. -])"
_RBG = r"(?:$|[^0-9. -]|[. -][^0-9]|[. -]$)"
_SERVICE = r"1(?:544|566|577|588|599|600|644|661|666|670|688|800|833|855|877|899)"
_AREA = r"0(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4])"
SURNAMES = (
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지엄"
    "채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복"
    "태목형피두감음빈동온호범좌"
)
COMPOUND_SURNAMES = ("남궁", "선우", "제갈", "황보", "독고", "사공", "서문")
GIVEN = (
    "민서준지현영수진우호성은연희정윤혜경미주재동석상훈철태용원승기선하아예유인숙순자옥남명광"
    "종혁환규한범건빈린율온채다나슬솔별람결찬휘완욱웅일헌형효홍화근덕래만문병봉섭세소식신애열"
    "오운익임창천청춘충택필학해향협후흥길균겸가강도이심보시"
)
# A last syllable that makes a place, not a person: 강남구, 서초동, 세종로.
PLACE_ENDINGS = list("시군구읍면동리로길역")
_NAME = f"(?:(?:{'|'.join(COMPOUND_SURNAMES)})[{GIVEN}]{{1,2}}|[{SURNAMES}][{GIVEN}]{{1,3}})"
_CUE_BEFORE = r"(?:성명|이름|담당자|담당|대표자|작성자|신청인|보호자|환자|고객)\s*[:：]?\s*"
_CUE_AFTER = r"\s?(?:씨|님|과장|대리|부장|차장|팀장|주무관|사무관|선생님|교수|원장)"
NAME_WHOLE = rf"^\s*(?P<v>{_NAME})\s*$"
NAME_CUED = rf"{_CUE_BEFORE}(?P<a>{_NAME})(?:[^가-힣]|$)|(?:^|[^가-힣])(?P<b>{_NAME}){_CUE_AFTER}"
NAME_SHARE = 0.30  # a column is reported when this share of its non-null cells are names
NAME_MIN = 3  # ... and at least this many, mostly distinct (words repeat, names rarely do)
# Bare digit strings pass a check digit about one time in ten by chance: a column's plain hits
# count only when at least this share of its plain, well-shaped candidates pass.
CHANCE_GUARD = 0.5
# A column with at most this share of distinct values is scanned per distinct value.
DEDUPE_SHARE = 0.5


def _digits(v: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(v, r"[^0-9]", "")


Verdict = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Per cell: hit, high confidence, and plain-digit candidates only a check digit vouches for."""


def _plain(v: pa.Array) -> np.ndarray:
    return _np(pc.match_substring_regex(v, r"^[0-9]+$"))


def _registration(g_digits: list[int]) -> Callable[[pa.Array], Verdict]:
    def validate(v: pa.Array) -> Verdict:
        date_ok, g, check_ok = checksums.rrn_parts(_digits(v))
        hyphen = _np(pc.match_substring(v, "-"))
        shaped = date_ok & np.isin(g, g_digits)
        # Since Oct 2020 the last digit is random: a hyphenated, well-formed number still counts.
        hit = shaped & (check_ok | hyphen)
        return hit, hit & check_ok, shaped & ~hyphen

    return validate


def _brn(v: pa.Array) -> Verdict:
    shaped = ~_np(pc.starts_with(v, "0"))  # 0…: a phone number; tax office codes start at 101
    hit = checksums.brn_valid(_digits(v)) & shaped
    return hit, hit, shaped & _plain(v)


def _card(v: pa.Array) -> Verdict:
    digits = _digits(v)
    luhn, lengths = checksums.luhn_valid(digits)
    shaped = checksums.card_prefix_ok(digits, lengths)
    return luhn & shaped, luhn & shaped, shaped & _plain(v)


def _shape(v: pa.Array) -> Verdict:
    hit = ~_np(pc.is_null(v))
    return hit, hit, np.zeros(len(v), dtype=bool)


@dataclass(frozen=True)
class Detector:
    """A cell-level detector: candidate regex (group `v`) and a vectorised validation."""

    name: str
    pattern: str
    validate: Callable[[pa.Array], Verdict]


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "resident_registration_number",
        rf"{_LB}(?P<v>{_RRN}\d{{7}}){_RB}",
        _registration([1, 2, 3, 4]),
    ),
    Detector(
        "foreigner_registration_number",
        rf"{_LB}(?P<v>{_RRN}\d{{7}}){_RB}",
        _registration([5, 6, 7, 8]),
    ),
    Detector(
        "business_registration_number",
        rf"{_LB}(?P<v>\d{{3}}-\d{{2}}-\d{{5}}|\d{{10}}){_RB}",
        _brn,
    ),
    Detector(
        "mobile_phone",
        rf"{_LBG}(?P<v>010[-. ]?\d{{4}}[-. ]?\d{{4}}|01[16789][-. ]?\d{{3,4}}[-. ]?\d{{4}}){_RBG}",
        _shape,
    ),
    Detector(
        "landline_phone",
        # Separators required: a bare 02xxxxxxx is as likely a code as a phone number.
        rf"{_LBG}(?P<v>(?:\(0(?:2|[3-6]\d|70)\)[ -]?|(?:{_AREA}|070)[-. ])\d{{3,4}}[-. ]\d{{4}}"
        rf"|{_SERVICE}[-. ]\d{{4}}){_RBG}",
        _shape,
    ),
    Detector(
        "email",
        r"(?:^|[^A-Za-z0-9._%+-])(?P<v>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
        _shape,
    ),
    Detector(
        "payment_card",
        # Printed groupings only (4-4-4-4[-3], Amex 4-6-5) or bare digits: a management number
        # like 3250000-111-1973-00001 has 19 digits too.
        rf"{_LB}(?P<v>\d{{4}}-\d{{4}}-\d{{4}}-\d{{4}}(?:-\d{{3}})?|\d{{4}} \d{{4}} \d{{4}} \d{{4}}"
        rf"(?: \d{{3}})?|\d{{4}}[- ]\d{{6}}[- ]\d{{5}}|\d{{13,19}}){_RB}",
        _card,
    ),
)
NAME_DETECTOR = "person_name"


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _extract(values: pa.Array, pattern: str, group: str = "v") -> pa.Array:
    return pc.struct_field(pc.extract_regex(values, pattern), group)


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def cell_hits(values: pa.Array | pa.ChunkedArray) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Per detector: which cells hold a valid identifier, and the matched text (null if none).

    Cell level only: `CHANCE_GUARD` and `NAME_SHARE`, which judge whole columns, are not applied.
    """
    values = _flat(values)
    found: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for det in DETECTORS:
        v = _extract(values, det.pattern)
        hit, _, _ = det.validate(v)
        found[det.name] = (hit & ~_np(pc.is_null(v)), v)
    hit, v = name_cells(values)
    found[NAME_DETECTOR] = (hit, v)
    return found


def name_cells(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Cells that are a name (whole value) or hold one next to a cue; the name found."""
    values = _flat(values)
    whole = _extract(values, NAME_WHOLE)
    cued = pc.extract_regex(values, NAME_CUED)
    # RE2 gives "" for the alternative's group that did not take part in the match.
    before, after = (pc.struct_field(cued, g) for g in ("a", "b"))
    before = pc.if_else(pc.equal(before, ""), None, before)
    after = pc.if_else(pc.equal(after, ""), None, after)
    name = pc.coalesce(whole, before, after)
    last = pc.utf8_slice_codeunits(name, -1)
    hit = ~_np(pc.is_null(name)) & ~_np(pc.is_in(last, pa.array(PLACE_ENDINGS)))
    return hit, name


def _names_reported(hit: np.ndarray, v: pa.Array, present: int) -> bool:
    count = int(hit.sum())
    if count < max(NAME_MIN, NAME_SHARE * present):
        return False
    distinct = pc.count_distinct(v.filter(pa.array(hit))).as_py()
    return distinct >= 0.5 * count


class Detection(BaseModel):
    """Identifiers of one kind found in one column; samples are masked."""

    detector: str
    column: str
    count: int = Field(description="Cells holding a hit.")
    share: float = Field(description="count / non-null cells of the column.")
    high_confidence: int = Field(0, description="Hits whose check digit is valid, too.")
    samples: list[Sample] = Field(default_factory=list, max_length=MAX_SAMPLES)


def _samples(
    table: pa.Table, column: str, detector: str, hit: np.ndarray, v: pa.Array
) -> list[Sample]:
    where = np.flatnonzero(hit)[:MAX_SAMPLES]
    if len(where) == 0:
        return []
    picked = v.take(pa.array(where)).to_pylist()
    rows = table[ROW].take(pa.array(where)).to_pylist() if ROW in table.column_names else None
    return [
        Sample(
            row=rows[i] if rows is not None else None,
            values={column: checksums.mask(detector, text)},
        )
        for i, text in enumerate(picked)
    ]


def _scannable(field: pa.Field) -> bool:
    return (
        pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or (
            pa.types.is_integer(field.type)  # numbers stored as integers: cards, plain RRNs
        )
    )


class _Cells:
    """A column's cells, scanned once per distinct value when values repeat (codes, enums)."""

    def __init__(self, values: pa.Array) -> None:
        encoded = pc.dictionary_encode(values)
        self.deduped = len(encoded.dictionary) <= DEDUPE_SHARE * len(values)
        # Integers are cast to text after deduplication: the cast is the costly part.
        self.scan = _flat(encoded.dictionary if self.deduped else values)
        self._indices = encoded.indices
        # Null cells point past the dictionary, at a final `False`.
        self._rows = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy()

    def rows(self, per_scanned: np.ndarray) -> np.ndarray:
        """A per-scanned-value flag as a per-cell flag."""
        return np.append(per_scanned, False)[self._rows] if self.deduped else per_scanned

    def texts(self, per_scanned: pa.Array) -> pa.Array:
        """Per-scanned-value text as per-cell text."""
        return per_scanned.take(self._indices) if self.deduped else per_scanned


def detect_identifiers(table: pa.Table, columns: list[str] | None = None) -> list[Detection]:
    """Scan string (and integer) columns for personal identifiers; masked samples only."""
    names = columns if columns is not None else table.column_names
    found: list[Detection] = []
    for name in names:
        field = table.schema.field(name)
        if name == ROW or not _scannable(field):
            continue
        values = table[name].combine_chunks()
        present = len(values) - values.null_count
        if present == 0:
            continue
        cells = _Cells(values)
        for det in DETECTORS:
            v = _extract(cells.scan, det.pattern)
            candidate = ~_np(pc.is_null(v))
            if not candidate.any():
                continue
            hit, high, plain = det.validate(v)
            hit, high, plain = (cells.rows(x) for x in (hit & candidate, high, plain))
            if (hit & plain).sum() < CHANCE_GUARD * plain.sum():
                hit &= ~plain  # plain-digit hits at chance level: timestamps, amounts, codes
            if not hit.any():
                continue
            found.append(
                _detection(table, name, det.name, hit, high & hit, cells.texts(v), present)
            )
        if pa.types.is_integer(field.type):
            continue
        hit, v = name_cells(cells.scan)
        if not hit.any():
            continue
        hit, v = cells.rows(hit), cells.texts(v)
        if not _names_reported(hit, v, present):
            continue
        found.append(_detection(table, name, NAME_DETECTOR, hit, np.zeros(0, bool), v, present))
    return found


def _detection(
    table: pa.Table,
    column: str,
    detector: str,
    hit: np.ndarray,
    high: np.ndarray,
    v: pa.Array,
    present: int,
) -> Detection:
    count = int(hit.sum())
    return Detection(
        detector=detector,
        column=column,
        count=count,
        share=round(count / present, 4),
        high_confidence=int(high.sum()),
        samples=_samples(table, column, detector, hit, v),
    )


HINT_KEY = "privacy.identifier.hint"
HINT = say(Phrase(key=HINT_KEY), "en")
# Each detector's name in reports.
KIND_KEYS = {
    "resident_registration_number": "privacy.kind.resident_registration_number",
    "foreigner_registration_number": "privacy.kind.foreigner_registration_number",
    "business_registration_number": "privacy.kind.business_registration_number",
    "mobile_phone": "privacy.kind.mobile_phone",
    "landline_phone": "privacy.kind.landline_phone",
    "email": "privacy.kind.email",
    "payment_card": "privacy.kind.payment_card",
    "person_name": "privacy.kind.person_name",
}


def detection_checks(
    detections: list[Detection],
    declared: dict[str, Classification],
    allowed: dict[str, tuple[str, ...]] | None = None,
    labels: dict[str, str] | None = None,
) -> list[CheckResult]:
    """Failed blocking `privacy` checks for hits in columns not declared direct_identifier.

    `allowed` names, per column, identifier kinds the contract lets it hold (an office's
    published phone number, say); `labels` how messages name a column (default: its name).
    """
    checks: list[CheckResult] = []
    for d in detections:
        if declared.get(d.column) == Classification.direct_identifier:
            continue
        if d.detector in (allowed or {}).get(d.column, ()):
            continue
        kind = KIND_KEYS.get(d.detector)
        checks.append(
            CheckResult(
                kind=CheckKind.privacy,
                rule=f"privacy:{d.detector}",
                column=d.column,
                severity=Severity.error,
                passed=False,
                count=d.count,
                samples=d.samples,
                key="privacy.identifier",
                hint_key=HINT_KEY,
                params={
                    "column": (labels or {}).get(d.column, d.column),
                    "kind": Phrase(key=kind) if kind else d.detector.replace("_", " "),
                    "share": f"{d.share:.1%}",
                },
            )
        )
    return checks
