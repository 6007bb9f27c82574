"""Draft an ODCS contract from a sample file: the start of a new dataset's contract.

A steward has a file and no contract yet. `draft_contract` reads the file with the gate's own
readers (so whatever the gate reads, a draft can be made from: CSV/TSV in UTF-8, CP949 or UTF-16,
XLSX, Parquet, JSON Lines), every column as text, and writes the YAML of a draft:

- names: each header translated or romanised to snake_case ASCII (`quality.romanisation`), the
  header itself kept as `physicalName`;
- types: on `sample_rows` rows spread over the file, the narrowest of boolean, integer, number,
  date, timestamp that every value casts to *with the gate's caster*; markers such as `불명` or
  `-` that keep a column from a type become the contract's `nullValues`. Every row is then cast
  the same way, and a column with a value the sample did not show falls back to text;
- from every row: `required` (no nulls), `enum` for a small code set, the range of numbers and
  dates, the identifiers the gate's detectors find; a primary key (the first unique, non-null
  key-like column or pair of the sample, checked over the whole file);
- privacy: sex, age, birth date and, in a table about people, addresses, districts, stations,
  times and coordinates are quasi-identifiers with a generalisation from
  `GENERALISATION_LEVELS`, made coarser step by step until k=5 holds on the sample for all but
  a few rows (`maxSuppressed`); identifiers found are direct identifiers, except an
  organisation's published landline, e-mail or business number in a register of organisations;
- the agency's sector, team and contact from `sectors.yaml`, an SLA from the stated cadence.

A joint product's draft (`ProductPart`) is made the same way from a sample of its query's
result, written as Parquet by Gongyu: its text columns stay text, its SQL is kept inline under
`customProperties.product` (a contract stored in the catalog has no file beside it), it replaces
its table at each build, and its access level is the one its inputs allow. An aggregate's
grouping columns are not taken for a person's quasi-identifiers: its counts are held to k.

So the file the draft was made from passes the gate under it (bar k-anonymity, when no
generalisation reaches it). Everything inferred is a suggestion: the YAML opens with a comment
saying so, in Korean and English, and `# suggested:` comments mark the choices a steward must
weigh (classification above all). The draft loads with `contracts.loader.parse_contract` and
passes `contracts.lint`. The reading costs what the gate's does: the whole file is read once
and cast twice, spilled to a temporary folder, never held in memory whole.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from contracts.model import (
    AccessLevel,
    Aggregate,
    Classification,
    Column,
    Contract,
    LogicalType,
)
from quality.casting import Caster
from quality.headers import HeaderMap, map_headers, normalise
from quality.privacy.detectors import detect_identifiers
from quality.privacy.kanonymity import equivalence_classes, generalise
from quality.readers import read_prepared
from quality.reading import Reading, Unreadable, row_numbers
from quality.results import SourceInfo
from quality.romanisation import unique_names
from quality.spill import SPILL_NAME, batches, load
from sectors.registry import SLUG, Agency, Registry

SAMPLE_ROWS = 10_000
NOT_EMPTY = "파일에 데이터 행이 하나 이상 있어야 한다 (a delivery is never empty)."
DRAFT_VERSION = "1.0.0"  # the first version readers see; the table takes no _v suffix
_DELIMITERS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}  # the draft's description
K = 5  # the k-anonymity suggested when quasi-identifiers are found
MAX_SUPPRESSED = 0.05  # the most `Privacy.max_suppressed` allows: beyond, generalise further
# One step coarser for a quasi-identifier that leaves too many sample rows in classes under k.
COARSER = {
    "age_band_5": "age_band_10",
    "hour": "day",
    "day": "month",
    "month": "year",
    "round_0.1": "round_1",
    "round_1000": "round_10000",
}
ENUM_MAX_VALUES, ENUM_MIN_ROWS = 12, 50  # a code set: this few values over at least this many rows
KEY_MIN_ROWS = 20  # uniqueness over fewer rows says nothing about a key
# A suggested key is checked over every row of a file this long; beyond, over the sample only.
KEY_CHECK_ROWS = 2_000_000
MAX_ID = 63
# Cadence → ODCS SLA frequency (value, unit as shipped contracts write it) and a latency to
# suggest: how late a delivery may be before the dataset counts as stale.
CADENCES: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "day": ((1, "d"), (1, "d")),
    "week": ((1, "w"), (2, "d")),
    "month": ((1, "month"), (7, "d")),
    "year": ((1, "y"), (30, "d")),
}
# Cells that mean "no value" in Korean public data; taken as nullValues only when they are
# what keeps a column from a type (age: 29, 31, 불명 → integer with 불명 as null).
NULL_MARKERS = ("-", "--", "불명", "미상", "없음", "해당없음", "N/A", "n/a", "NA", "null", "NULL")

# Date and timestamp layouts (Java letters, as contracts write `format`), most specific first;
# the caster decides which one every value parses with.
DATE_FORMATS = ("yyyy-MM-dd", "yyyy.MM.dd", "yyyy/MM/dd", "yyyy-M-d", "yyyy.M.d", "yyyy/M/d")
TIMESTAMP_FORMATS = (
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd HH:mm",
    "yyyy-MM-dd HH",
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy.MM.dd HH:mm:ss",
    "yyyy.MM.dd HH:mm",
    "yyyy/MM/dd HH:mm:ss",
    "yyyy/MM/dd HH:mm",
    "yyyy.M.d H:mm:ss",
    "yyyy.M.d H:mm",
    "yyyy-M-d H:mm:ss",
    "yyyy-M-d H:mm",
)
# Digits only (20170101) is as likely a code or an amount: a date only under a header saying so.
DIGIT_DATE_FORMATS = ("yyyyMMdd",)
DIGIT_TIMESTAMP_FORMATS = ("yyyyMMddHHmmss", "yyyyMMddHHmm")
# Typed cells (XLSX dates) arrive as ISO text; a date when every time is midnight.
MIDNIGHT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}( 00:00(:00(\.0+)?)?)?$"
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
BOOLEAN_FAMILIES = (
    ({"y"}, {"n"}),
    ({"yes"}, {"no"}),
    ({"true"}, {"false"}),
    ({"t"}, {"f"}),
    ({"예"}, {"아니오", "아니요"}),
)


def _word(*english: str) -> str:
    """English words as a pattern that matches them whole in `measured_at` or `a b`."""
    return r"(?<![a-z0-9])(" + "|".join(english) + r")(?![a-z0-9])"


# Header words, matched on "<NFC header> <lakehouse name>": Korean words in the header, English
# ones whole in either (an English header keeps its words in its name).
_DATE_HINT = re.compile(r"일자|일시|날짜|연월일|년월일|" + _word("date", "ymd", "dt"), re.I)
# Codes, numbers that are labels and contact numbers stay text whatever their digits look like.
_LABEL = re.compile(
    r"코드|우편번호|전화|팩스|연락처|휴대|아이디|"
    + _word("code", "zip", "postcode", "phone", "tel", "fax", "id"),
    re.I,
)
_KEY_HINT = re.compile(r"관리번호|코드|아이디|번호(\s|$)|" + _word("code", "id", "no"), re.I)
_SEX = re.compile(r"성별|" + _word("sex", "gender"), re.I)
_AGE = re.compile(r"나이|연령|" + _word("age"), re.I)
# On the lakehouse name only: 발생년월일시 (time of occurrence) holds the letters of 생년월일.
_BIRTH = re.compile(r"(^|_)birth", re.I)
_NATIONALITY = re.compile(r"국적|" + _word("nationality"), re.I)
_PERSON_NAME = re.compile(r"성명|(^|\s)이름(\s|$)|대표자명|담당자명|person_name|full_name", re.I)
_CONTACT = re.compile(
    r"전화|연락처|휴대|팩스|이메일|" + _word("e-?mail", "phone", "mobile", "tel", "fax"), re.I
)
_ADDRESS = re.compile(r"주소|소재지|거주지|" + _word("address", "addr"), re.I)
_DISTRICT = re.compile(
    r"시군구|읍면동|행정동|법정동|지역|" + _word("district", "region", "sigungu"), re.I
)
_SIDO = re.compile(r"시도(\s|$)|(^|_)sido($|_)", re.I)
_STATION = re.compile(r"경찰서|지구대|파출소|역명|정류장|정류소", re.I)
_COORDINATE = re.compile(
    r"위도|경도|좌표|" + _word("latitude", "longitude", "coord", "utmk", "lat", "lon", "lng"), re.I
)
# Rows about people: an event that happened to or was done by someone.
_PEOPLE_EVENT = re.compile(
    r"피해자|가해자|사망자|부상자|환자|적발|범죄|사고|운전자|수급자|신청인|가입자|민원인", re.I
)
# Rows about organisations or places: their published contacts are not personal data.
_ORGANISATION = re.compile(
    r"사업장명|업소명|상호|업체명|기관명|시설명|회사명|법인명|검사소명|공원명|학교명|대학명|"
    r"병원명|약국명|센터명|business_name|company|institution",
    re.I,
)
# Special categories of a person (PIPA art. 23: health, criminal records) and finances.
_SENSITIVE_HINT = re.compile(
    r"알콜|알코올|혈중|진단|질병|병명|장애|범죄|전과|적발|위반|처분|소득|부채|연봉|급여|신용|대출",
    re.I,
)
# Identifier kinds that are a person's whoever publishes them (a sole trader's mobile is still
# personal); the others (an office's landline or e-mail, a business registration number) may be
# an organisation's own published contact, as in LOCALDATA's and KOTRA's registers.
PERSONAL_KINDS = {
    "resident_registration_number",
    "foreigner_registration_number",
    "mobile_phone",
    "payment_card",
    "person_name",
}
_SENTENCE = re.compile(r"\s+")


@dataclass(frozen=True)
class ProductPart:
    """What a joint product's draft adds to a sample's: its query, the access level its inputs
    allow and why, its aggregate declaration, and what the result says of itself."""

    sql: str
    access: AccessLevel
    access_note: str
    aggregate: Aggregate | None = None
    title: str | None = None
    # Result columns (headers) the query returns as text: kept text, whatever they look like
    # ('01', '2022'), as the query made them.
    text_columns: Collection[str] = ()


@dataclass
class FileRead:
    """A file as the gate read it: its named headers and every row as text, spilled."""

    headers: list[str]  # the named headers, in file order (normalised)
    spill: Path  # one string column per header (`c<i>`) and `__row`, all rows
    source: SourceInfo


@dataclass
class Whole:
    """What every row of the file says about one column (not just the sample's)."""

    nulls: int = 0  # cells empty or a null marker
    low: Any = None
    high: Any = None
    values: set[str] | None = field(default_factory=set)  # distinct text; None past the enum size
    bad: int = 0  # cells that do not cast to the type the sample suggested
    bad_example: Any = None


@dataclass
class Profile:
    """What the file says about one column, and what the draft suggests for it."""

    header: str
    name: str
    text: pa.ChunkedArray  # as read: trimmed text, empty cells null
    logical: LogicalType = LogicalType.string
    format: str | None = None
    typed: pa.ChunkedArray | None = None
    markers: set[str] = field(default_factory=set)  # null markers this column needed
    required: bool = False
    key_position: int | None = None
    minimum: Any = None
    maximum: Any = None
    enum: list[str] | None = None
    example: Any = None
    classification: Classification = Classification.none
    allowed: list[str] = field(default_factory=list)
    level: str | None = None  # suggested generalisation
    note: str | None = None  # `# suggested:` on the classification line
    type_note: str | None = None  # `# suggested:` on the logicalType line
    why: str = ""  # why a column is a quasi-identifier
    detected: list[str] = field(default_factory=list)  # detector kinds found in the file
    whole: Whole = field(default_factory=Whole)


def draft_contract(
    path: Path,
    *,
    agency: str,
    dataset: str,
    registry: Registry,
    sector: str | None = None,
    cadence: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    product: ProductPart | None = None,
) -> str:
    """The YAML text of a draft contract for the sample file `path` (see the module docstring);
    with `product`, of a joint product whose query's result `path` holds.

    Raises ValueError, one line naming the file and the fix, for an unknown agency or sector,
    a bad dataset id or cadence, and a file the gate cannot read.
    """
    path = Path(path)
    owner, sector_id = check_request(path.name, agency, dataset, registry, sector, cadence)
    if sample_rows < 1:
        raise ValueError(f"{path.name}: sample_rows must be at least 1, got {sample_rows}")
    with read_text(path) as read:
        sample = spread_sample(read, sample_rows)
        names = unique_names(read.headers)
        profiles = [
            Profile(header=h, name=n, text=sample[f"c{i}"])
            for i, (h, n) in enumerate(zip(read.headers, names, strict=True))
        ]
        if product and product.aggregate:
            _count_column(product.aggregate, profiles)
        markers = _infer_types(profiles, product.text_columns if product else ())
        nulls = ("", *sorted(markers))
        _whole_file(read, profiles, nulls)
        _classify(profiles)
        if product and product.aggregate:
            _counted(profiles, product.aggregate)
        _describe(profiles, read.source.rows)
        _choose_key(profiles, read)
    privacy = _privacy(profiles)
    return _render(
        path=path,
        dataset=dataset,
        owner=owner,
        sector=sector_id,
        cadence=cadence,
        source=read.source,
        sampled=sample.num_rows,
        profiles=profiles,
        null_values=list(nulls),
        privacy=privacy,
        product=product,
    )


# --- the request --------------------------------------------------------------------------------


def check_request(
    label: str,
    agency: str,
    dataset: str,
    registry: Registry,
    sector: str | None,
    cadence: str | None,
) -> tuple[Agency, str]:
    """The owning agency and the sector (the agency's first when None); ValueError starting
    with `label` (the file's name) and saying the fix otherwise."""
    owner = registry.agency(agency)
    if owner is None:
        known = ", ".join(a.id for a in registry.agencies)
        raise ValueError(
            f"{label}: unknown agency {agency!r}; use one of {known} "
            "(or add the agency to sectors.yaml first)"
        )
    if not re.fullmatch(SLUG, dataset) or len(dataset) > MAX_ID:
        raise ValueError(
            f"{label}: dataset id {dataset!r} is not usable; write it in lower-case snake_case "
            f"(a letter, then letters, digits or _; at most {MAX_ID} characters), e.g. "
            "police_drunk_driving_detections"
        )
    if re.search(r"_v\d+$", dataset):
        raise ValueError(
            f"{label}: dataset id {dataset!r} ends in _v<number>, which names a major "
            "version's table; drop the suffix"
        )
    mine = [s.id for s in registry.sectors_of(agency)]
    if sector is None:
        if not mine:
            raise ValueError(
                f"{label}: agency {agency!r} is in no sector; add it to a sector's members "
                "in sectors.yaml first"
            )
        sector = mine[0]
    elif sector not in mine:
        raise ValueError(
            f"{label}: agency {agency!r} is not a member of sector {sector!r}; use one of "
            f"{', '.join(mine) or '(none)'}"
        )
    if cadence is not None and cadence not in CADENCES:
        raise ValueError(f"{label}: unknown cadence {cadence!r}; use one of {', '.join(CADENCES)}")
    return owner, sector


# --- reading ------------------------------------------------------------------------------------


class _HeaderContract(Reading):
    """A read whose contract comes from the file's own header: every named column, as text.

    `read_delivery` needs the contract before it opens the file; a draft has none until the
    header is read, so the header mapping (which every reader asks for before it casts) builds it.
    """

    def map(self, headers: list[str]) -> HeaderMap:
        named = [(i, normalise(h)) for i, h in enumerate(headers) if normalise(h)]
        columns = [
            Column(name=f"c{k}", physical_name=h, logical_type=LogicalType.string)
            for k, (_, h) in enumerate(named)
        ]
        self.contract = self.contract.model_copy(update={"columns": tuple(columns)})
        return map_headers(headers, self.contract)


def _empty_contract(path: Path) -> Contract:
    odcs = OpenDataContractStandard.model_construct(
        apiVersion="v3.2.0", kind="DataContract", id="draft", version=DRAFT_VERSION
    )
    return Contract(
        id="draft",
        version=DRAFT_VERSION,
        title="draft",
        sector="draft",
        agency="draft",
        access=AccessLevel.private,
        columns=(),
        path=path,
        odcs=odcs,
    )


@contextmanager
def read_text(path: Path) -> Iterator[FileRead]:
    """`path` read as the gate reads a delivery, every named column as text, spilled to a
    temporary folder that lasts as long as the block.

    A file that would fail the gate's `readable` or `schema` check fails here with the gate's
    message and hint, as one-line ValueError.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file; give the path of the sample file")
    source = SourceInfo(file=path.name, format="unknown")
    with tempfile.TemporaryDirectory(prefix="gongyu-draft-") as work:
        reading = _HeaderContract(path, _empty_contract(path), source, 3, Path(work) / SPILL_NAME)
        try:
            result = read_prepared(reading)
        except Unreadable as err:
            raise ValueError(_named(path, f"{err.check.message}; {err.check.hint}")) from None
        except Exception as err:  # an exotic file must still give the steward one line
            raise ValueError(
                _one_line(
                    f"{path.name} could not be read: {type(err).__name__}: {err}; re-export the "
                    "file as UTF-8 CSV with one header row, or as XLSX"
                )
            ) from None
        failed = [c for c in result.checks if not c.passed and c.severity == "error"]
        if failed or result.spill is None:
            problem = failed[0] if failed else None
            message = problem.message if problem else f"{path.name} could not be read"
            hint = problem.hint if problem and problem.hint else "check the header row"
            raise ValueError(_named(path, f"{message}; {hint}"))
        headers = [c.physical_name for c in reading.contract.columns]
        if not headers:
            raise ValueError(
                f"{path.name}: the header row names no column; put the names in the first row"
            )
        yield FileRead(headers=headers, spill=result.spill, source=result.source)


def _text_schema(read: FileRead) -> pa.Schema:
    return pa.schema([pa.field(f"c{i}", pa.string()) for i in range(len(read.headers))])


def spread_sample(read: FileRead, rows: int = SAMPLE_ROWS) -> pa.Table:
    """`rows` rows spread evenly over the file (all of them when it has no more), in file order.

    Spread, not the first rows: files are often sorted (by type, by date), and a head sample
    would miss the later codes and years.
    """
    total = read.source.rows
    wanted = np.unique(np.linspace(0, total - 1, min(rows, total)).astype(np.int64))
    parts, offset = [], 0
    for batch in batches(read.spill, _text_schema(read)):
        inside = wanted[(wanted >= offset) & (wanted < offset + batch.num_rows)] - offset
        if len(inside):
            parts.append(batch.take(pa.array(inside)))
        offset += batch.num_rows
    return pa.Table.from_batches(parts, _text_schema(read))


def _one_line(text: str) -> str:
    return _SENTENCE.sub(" ", text).strip()


def _named(path: Path, message: str) -> str:
    """`message` on one line, starting with the file's name unless it already does."""
    line = _one_line(message)
    return line if line.startswith(path.name) else f"{path.name}: {line}"


# --- types --------------------------------------------------------------------------------------


def _cast(
    values: pa.ChunkedArray, logical: LogicalType, fmt: str | None, nulls: tuple[str, ...]
) -> pa.ChunkedArray | None:
    """`values` cast by the gate's caster, or None when any value does not cast."""
    column = Column(name="v", physical_name="v", logical_type=logical, format=fmt)
    with Caster([column], nulls, 0) as caster:
        typed = caster.cast([values], row_numbers(1, len(values)))
    return None if caster.bad[0] else typed["v"]


def _boolean(present: pa.ChunkedArray) -> bool:
    seen = {str(v).lower() for v in pc.unique(present).to_pylist()}
    return any(seen <= (yes | no) for yes, no in BOOLEAN_FAMILIES)


def _in_years(typed: pa.ChunkedArray) -> bool:
    years = pc.year(typed.drop_null())
    low, high = pc.min(years).as_py(), pc.max(years).as_py()
    return low is None or (low >= EARLIEST_YEAR and high <= LATEST_YEAR)


def _candidates(profile: Profile, present: pa.ChunkedArray) -> list[tuple[LogicalType, str | None]]:
    """Types to try, narrowest first, after cheap looks at the values and the header."""
    words = f"{profile.header} {profile.name}"
    digits = bool(pc.all(pc.match_substring_regex(present, r"^[0-9]+$")).as_py())
    leading_zero = bool(pc.any(pc.match_substring_regex(present, r"^[+-]?0[0-9]")).as_py())
    dated = bool(pc.all(pc.match_substring_regex(present, r"^[0-9]{4}[-./]?[0-9]")).as_py())
    hinted = bool(_DATE_HINT.search(words))
    out: list[tuple[LogicalType, str | None]] = []
    if _boolean(present):
        out.append((LogicalType.boolean, None))
    if digits and hinted:
        out += [(LogicalType.date, f) for f in DIGIT_DATE_FORMATS]
        out += [(LogicalType.timestamp, f) for f in DIGIT_TIMESTAMP_FORMATS]
    if not leading_zero and not _LABEL.search(words):
        out += [(LogicalType.integer, None), (LogicalType.number, None)]
    if dated and not digits:
        # DuckDB reads 2005.6.14 with yyyy.MM.dd too: name the layout the values are written in.
        unpadded = bool(pc.any(pc.match_substring_regex(present, r"[^0-9][0-9]([^0-9]|$)")).as_py())
        layouts = [(LogicalType.date, f) for f in DATE_FORMATS]
        layouts += [(LogicalType.timestamp, f) for f in TIMESTAMP_FORMATS]
        out += sorted(layouts, key=lambda c: _unpadded(c[1]) != unpadded)
        # Typed cells (XLSX dates) arrive as ISO text with fractions: no format needed. A date
        # only when every time is midnight, as the cast to a date would drop the time.
        if pc.all(pc.match_substring_regex(present, MIDNIGHT)).as_py():
            out.append((LogicalType.date, None))
        out.append((LogicalType.timestamp, None))
    return out


def _unpadded(fmt: str | None) -> bool:
    """A layout with unpadded fields (yyyy.M.d H:mm)."""
    return bool(fmt and re.search(r"(?<!M)M(?!M)|(?<!d)d(?!d)|(?<!H)H(?!H)", fmt))


def _type_of(
    profile: Profile, values: pa.ChunkedArray, nulls: tuple[str, ...]
) -> tuple[LogicalType, str | None, pa.ChunkedArray] | None:
    """The first candidate type every value (but `nulls`) casts to; None: text."""
    present = values.drop_null()
    if nulls[1:]:
        present = present.filter(pc.invert(pc.is_in(present, pa.array(nulls[1:]))))
    if len(present) == 0:
        return None
    for logical, fmt in _candidates(profile, present):
        typed = _cast(values, logical, fmt, nulls)
        if typed is None:
            continue
        if logical in (LogicalType.date, LogicalType.timestamp) and not _in_years(typed):
            continue
        if logical is LogicalType.number and _not_finite(typed):
            continue
        return logical, fmt, typed
    return None


def _not_finite(typed: pa.ChunkedArray) -> bool:
    present = typed.drop_null()
    return bool(len(present)) and not pc.all(pc.is_finite(present)).as_py()


def _infer_types(profiles: list[Profile], text_columns: Collection[str] = ()) -> set[str]:
    """Each column's type (`text_columns` stay text); returns the null markers some column
    needed (the nullValues)."""
    needed: set[str] = set()
    for p in profiles:
        if p.header in text_columns:
            continue
        found = _type_of(p, p.text, ("",))
        if found is None:
            # Markers present in the column: does the column type without them?
            there = set(pc.unique(p.text.drop_null()).to_pylist()) & set(NULL_MARKERS)
            if there and (found := _type_of(p, p.text, ("", *sorted(there)))) is not None:
                p.markers = there
                needed |= there
        if found is not None:
            p.logical, p.format, p.typed = found
    nulls = ("", *sorted(needed))
    for p in profiles:
        if needed and p.logical is LogicalType.string:
            # The markers are nulls in every column (nullValues is contract-wide): say so here.
            nulled = _cast(p.text, LogicalType.string, None, nulls)
            p.text = p.text if nulled is None else nulled
        if p.typed is None:
            p.typed = p.text
    return needed


def _whole_file(read: FileRead, profiles: list[Profile], nulls: tuple[str, ...]) -> None:
    """Every row cast to the sample's types by the gate's caster: counts, ranges and code sets
    of the whole file, so the file passes its own draft's checks. A column with a value the
    sample did not show (a word in a number column) falls back to text, with a note.
    """
    typed = [
        Column(name=p.name, physical_name=p.header, logical_type=p.logical, format=p.format)
        for p in profiles
    ]
    as_text = {"logical_type": LogicalType.string, "format": None}
    text = [c.model_copy(update=as_text) for c in typed]
    first = 1
    with Caster(typed, nulls, 1) as to_type, Caster(text, nulls, 0) as to_text:
        for batch in batches(read.spill, _text_schema(read)):
            raw = batch.columns
            numbers = row_numbers(first, batch.num_rows)
            first += batch.num_rows
            cast, texts = to_type.cast(raw, numbers), to_text.cast(raw, numbers)
            for p in profiles:
                _tally(p.whole, texts[p.name], cast[p.name] if p.typed is not p.text else None)
            # The gate scans every row for identifiers: so does the draft, or one e-mail address
            # outside the sample would quarantine the file under its own contract.
            for d in detect_identifiers(texts):
                found = next(p for p in profiles if p.name == d.column)
                found.detected = sorted({*found.detected, d.detector})
        for i, p in enumerate(profiles):
            p.whole.bad = to_type.bad[i]
            if to_type.samples[i]:
                p.whole.bad_example = to_type.samples[i][0].values.get(p.name)
    for p in profiles:
        if p.logical is not LogicalType.string and p.whole.bad:
            p.type_note = (
                f"{p.whole.bad:,} value(s) outside the sample are not {p.logical.value}, e.g. "
                f"{p.whole.bad_example!r}: so text"
            )
            p.logical, p.format, p.typed = LogicalType.string, None, p.text
            p.whole.low = p.whole.high = None


def _tally(whole: Whole, text: pa.ChunkedArray, typed: pa.ChunkedArray | None) -> None:
    whole.nulls += text.null_count
    if whole.values is not None:
        whole.values |= set(pc.unique(text.drop_null()).to_pylist())
        if len(whole.values) > ENUM_MAX_VALUES:
            whole.values = None
    if typed is not None and len(typed.drop_null()):
        low, high = pc.min(typed).as_py(), pc.max(typed).as_py()
        whole.low = low if whole.low is None else min(whole.low, low)
        whole.high = high if whole.high is None else max(whole.high, high)


# --- privacy ------------------------------------------------------------------------------------


def _words(p: Profile) -> str:
    return f"{p.header} {p.name}"


def _classify(profiles: list[Profile]) -> None:
    """Suggest each column's classification and, for quasi-identifiers, a generalisation."""
    headers = " ".join(_words(p) for p in profiles)
    organisation = bool(_ORGANISATION.search(headers))
    person_attrs = [p for p in profiles if _person_attribute(p)]
    personal_hits = [p for p in profiles if set(p.detected) & PERSONAL_KINDS]
    # Rows about people: their places and times single them out. A register of businesses
    # is not one because a cell holds someone's mobile number.
    people = bool(
        person_attrs or _PEOPLE_EVENT.search(headers) or (personal_hits and not organisation)
    )
    for p in profiles:
        _classify_one(p, people=people, organisation=organisation)


def _person_attribute(p: Profile) -> bool:
    words = _words(p)
    return bool(
        _SEX.search(words) or _AGE.search(words) or _BIRTH.search(p.name)
        or _NATIONALITY.search(words)
    )  # fmt: skip


def _classify_one(p: Profile, *, people: bool, organisation: bool) -> None:
    words = _words(p)
    personal = sorted(set(p.detected) & PERSONAL_KINDS)
    other = sorted(set(p.detected) - PERSONAL_KINDS)
    if personal:
        p.classification = Classification.direct_identifier
        p.note = f"the privacy detectors found {', '.join(personal)} values; pseudonymised"
        return
    if _PERSON_NAME.search(words):
        p.classification = Classification.direct_identifier
        p.note = "the header names a person; pseudonymised"
        return
    if other or _CONTACT.search(words):
        found = (
            f"the detectors found {', '.join(other)} values"
            if other
            else ("a contact column; the detectors recognised none of its values")
        )
        if organisation and not people:
            # A business's or an office's own published number is shared as is, like LOCALDATA's.
            p.allowed = other
            p.note = (
                f"{found}: an organisation's published contact? If any is a person's, make it "
                "direct_identifier"
            )
        else:
            p.classification = Classification.direct_identifier
            p.note = f"{found}; pseudonymised. An office's own number may be none instead"
        return
    if _person_attribute(p):
        _quasi(p, "a person's attribute")
        return
    context = _context(p)
    if context and people:
        _quasi(p, f"{context} of a person's record")
        return
    if context and p.logical not in (LogicalType.date, LogicalType.timestamp):
        # Places, not dates: every register has dates, and a note on each would be noise.
        p.note = f"{context}: quasi_identifier if the rows describe people"
        return
    if people and _SENSITIVE_HINT.search(words):
        # Masked unless granted: a steward who finds it harmless relaxes it, never the reverse.
        p.classification = Classification.sensitive
        p.note = "health, an offence or finances of a person: masked for readers without a grant"


def _context(p: Profile) -> str | None:
    """What singles a person out in combination: a place, a time or a position."""
    words = _words(p)
    if _COORDINATE.search(words) and p.logical in (LogicalType.number, LogicalType.integer):
        return "a coordinate"
    if _ADDRESS.search(words):
        return "an address"
    if _STATION.search(words):
        return "a station"
    if _SIDO.search(words) or _DISTRICT.search(words):
        return "a district"
    if p.logical in (LogicalType.date, LogicalType.timestamp):
        return "a date" if p.logical is LogicalType.date else "a time"
    return None


def _count_column(aggregate: Aggregate, profiles: list[Profile]) -> None:
    """A ValueError unless the aggregate's count column is one of the result's."""
    if not any(aggregate.count_column in (p.header, p.name) for p in profiles):
        raise ValueError(
            f"countColumn {aggregate.count_column!r} is not a column of the query's result; "
            f"use one of {', '.join(p.header for p in profiles)}"
        )


def _counted(profiles: list[Profile], aggregate: Aggregate) -> None:
    """An aggregate's rows are counts, not people: its grouping columns are no person's
    quasi-identifiers (the small-cell rule holds its counts to k instead)."""
    for p in profiles:
        if p.classification == Classification.quasi_identifier:
            p.classification, p.level = Classification.none, None
            p.note = (
                f"{p.why}? Here a grouping of counts, each 0 or at least k={aggregate.k} "
                "(product.aggregate)"
            )


def _quasi(p: Profile, why: str) -> None:
    p.classification = Classification.quasi_identifier
    p.why = why
    _set_level(p, _level(p))


def _set_level(p: Profile, level: str | None) -> None:
    p.level = level
    if level == "suppress":
        p.note = f"{p.why}; withheld from the published table (suppress)"
    else:
        p.note = p.why + (f"; published as {level}" if level else "")


def _level(p: Profile) -> str | None:
    """A generalisation level (`GENERALISATION_LEVELS`) for a quasi-identifier, or None."""
    words = _words(p)
    if p.logical is LogicalType.integer and _AGE.search(words):
        return "age_band_5"
    if p.logical in (LogicalType.date, LogicalType.timestamp):
        return "year" if _BIRTH.search(p.name) else "month"
    if p.logical in (LogicalType.integer, LogicalType.number) and _COORDINATE.search(words):
        biggest = pc.max(pc.abs(p.typed.drop_null())).as_py() if p.typed is not None else None
        return "round_0.1" if biggest is not None and biggest <= 180 else "round_1000"
    if p.logical is not LogicalType.string:
        return None
    distinct = pc.count_distinct(p.text).as_py()
    if distinct <= 20:
        return None  # already coarse: sex, 시·도
    if _ADDRESS.search(words) or _regional(p.text):
        return "first_token"  # the 시·도
    return "suppress"  # a station or a district: too fine to keep, too varied to map here


def _regional(values: pa.ChunkedArray) -> bool:
    present = values.drop_null()
    if len(present) == 0:
        return False
    first = pc.match_substring_regex(present, r"^\s*\S+[시도]\s+\S")
    return (pc.sum(first).as_py() or 0) >= len(present) / 2


@dataclass
class PrivacySuggestion:
    """`customProperties.privacy` as suggested, and what the sample showed."""

    k: int
    generalise: dict[str, str]
    max_suppressed: float | None
    below_k: float  # share of sample rows in classes under k after generalisation


def _privacy(profiles: list[Profile]) -> PrivacySuggestion | None:
    """k=5 over the quasi-identifiers when there are any, checked on the sample."""
    quasi = [p for p in profiles if p.classification == Classification.quasi_identifier]
    if not quasi:
        return None
    hierarchy = {p.name: p.level for p in quasi if p.level}
    names = [p.name for p in quasi]
    table = pa.table({p.name: p.typed for p in quasi})
    while True:
        coarse = generalise(table, hierarchy)
        report = equivalence_classes(coarse, names, K)
        share = report.rows_below_k / report.rows if report.rows else 0.0
        coarser = [n for n in names if hierarchy.get(n) != "suppress"]
        if share <= MAX_SUPPRESSED or not coarser:
            break
        # Too many people stand out: take the finest column one step coarser, and look again.
        finest = max(coarser, key=lambda n: pc.count_distinct(coarse[n]).as_py())
        hierarchy[finest] = COARSER.get(hierarchy.get(finest) or "", "suppress")
    for p in quasi:
        _set_level(p, hierarchy.get(p.name))
    allowed = next((s for s in (0.01, 0.02, 0.05) if share <= s), None) if share else None
    return PrivacySuggestion(K, hierarchy, allowed, share)


# --- the rest of each column --------------------------------------------------------------------


def _describe(profiles: list[Profile], rows: int) -> None:
    """Required, enum and range of each column from the whole file; an example from the sample."""
    for p in profiles:
        whole = p.whole
        p.required = rows > 0 and whole.nulls == 0
        present = rows - whole.nulls
        if present == 0:
            continue
        code_set = whole.values is not None and present >= ENUM_MIN_ROWS
        if (
            code_set
            and p.logical is LogicalType.string
            and p.classification != (Classification.direct_identifier)
        ):
            counts = pc.value_counts(p.text.drop_null()).to_pylist()
            seen = {c["values"]: c["counts"] for c in counts}
            p.enum = sorted(whole.values or (), key=lambda v: (-seen.get(v, 0), v))
        ordered = p.logical in (LogicalType.integer, LogicalType.number, LogicalType.date)
        if ordered and whole.low is not None and whole.low != whole.high:
            p.minimum, p.maximum = _bound(whole.low), _bound(whole.high)
        if p.classification == Classification.none and not p.detected:
            # Numbers as numbers; text, dates and times as the file writes them (the format).
            numeric = p.logical in (LogicalType.integer, LogicalType.number, LogicalType.boolean)
            sample = (p.typed if numeric else p.text).drop_null()
            p.example = sample[0].as_py() if len(sample) else None


def _bound(value: Any) -> Any:
    """A value as YAML should carry it: dates as ISO text (`'2022-07-01'`), numbers as numbers."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _choose_key(profiles: list[Profile], read: FileRead) -> None:
    """The smallest unique, non-null column (or pair) as the primary key, when the file has one.

    Candidates come from the sample (only unclassified, key-like columns: a key of personal
    values or of measurements is no key) and are then checked over every row of the file.
    """
    total = read.source.rows
    sample = len(profiles[0].text) if profiles else 0
    if sample < KEY_MIN_ROWS:
        return
    fit = [
        p
        for p in profiles
        if p.required
        and p.classification == Classification.none
        and not p.detected
        and _key_like(p)
    ]
    distinct = {p.name: pc.count_distinct(p.text).as_py() for p in fit}
    # A management number or code before a row number (1, 2, 3…), which keys nothing.
    singles = sorted(
        (p for p in fit if distinct[p.name] == sample),
        key=lambda p: (not _KEY_HINT.search(_words(p)), _row_number(p, total)),
    )
    candidates: list[list[Profile]] = [[p] for p in singles]
    if not candidates:
        pairs = [
            [a, b]
            for i, a in enumerate(fit)
            for b in fit[i + 1 :]
            if distinct[a.name] * distinct[b.name] >= sample
        ]
        for a, b in pairs[:500]:  # bounded: a wide file has thousands of pairs
            both = pa.table({"a": a.text, "b": b.text})
            if both.group_by(["a", "b"]).aggregate([]).num_rows == sample:
                candidates.append([a, b])
    for key in candidates[:5]:
        if total > KEY_CHECK_ROWS or _unique(read, profiles, key):
            for position, p in enumerate(key, start=1):
                p.key_position = position
            return


def _unique(read: FileRead, profiles: list[Profile], key: list[Profile]) -> bool:
    """True when the key's values repeat in no two rows of the whole file."""
    columns = [f"c{profiles.index(p)}" for p in key]
    table = load(read.spill, columns)
    return table.group_by(columns).aggregate([]).num_rows == table.num_rows


def _key_like(p: Profile) -> bool:
    """Text, dates, and integers named as numbers or codes or years: not amounts or counts,
    which are unique in a small sample by chance."""
    if p.logical in (LogicalType.string, LogicalType.date, LogicalType.timestamp):
        return True
    return p.logical is LogicalType.integer and bool(
        _KEY_HINT.search(_words(p)) or re.search(r"(^|_)year($|_)", p.name)
    )


def _row_number(p: Profile, rows: int) -> bool:
    """An integer running 1 to the file's row count: a row number."""
    return p.logical is LogicalType.integer and p.whole.low == 1 and p.whole.high == rows


# --- the YAML -----------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    """One YAML scalar that is safe inside a flow collection on one line."""
    if isinstance(value, str) and not value.isprintable():
        return json.dumps(value)  # newlines, tabs, controls: a double-quoted, escaped string
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=1 << 30)
    return text.strip()[1:-1]


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(line: str, note: str | None) -> str:
    return f"{line}  # suggested: {_one_line(note)}" if note else line


def _render(
    *,
    path: Path,
    dataset: str,
    owner: Agency,
    sector: str,
    cadence: str | None,
    source: SourceInfo,
    sampled: int,
    profiles: list[Profile],
    null_values: list[str],
    privacy: PrivacySuggestion | None,
    product: ProductPart | None = None,
) -> str:
    read_as = ", ".join(
        x
        for x in (
            source.format,
            source.encoding,
            f"{_DELIMITERS.get(source.delimiter, source.delimiter)}-delimited"
            if source.delimiter
            else None,
        )
        if x
    )
    n = sampled
    file = _one_line(path.name)
    identified = any(p.classification != Classification.none for p in profiles)
    access = AccessLevel.restricted if identified else AccessLevel.public
    rows = source.rows
    if product:
        out = _product_opening(rows)
        purpose = (
            f"초안: 질의 결과 {rows:,}행에서 추정 (draft inferred from {rows:,} rows of the query)"
        )
        grain = "질의 결과의 한 행 (one row of the query's result)"
    else:
        out = [
            f"# 계약 초안: 표본 파일 {file}에서 자동으로 만든 초안입니다. 검토 전에는 쓰지 마세요.",
            "# 이름·형식·범위·키, 특히 `# suggested:` 표시가 붙은 개인정보 분류를 확인하고 고친 뒤",
            f"# contracts/{sector}/{owner.id}/{dataset}.yaml 로 제출하고, 게시할 때 version을",
            "# 1.0.0으로 올리세요.",
            f"# DRAFT contract, generated from the sample {file} (read as {read_as}):",
            f"# types from {n:,} rows spread over the file; counts, ranges, codes and identifiers",
            f"# from all {rows:,}.",
            "# Review it before use: names, types, ranges (this file's own), keys and above all",
            "# the privacy classification on the lines marked `# suggested:`; then submit it as",
            f"# contracts/{sector}/{owner.id}/{dataset}.yaml and publish it as version 1.0.0.",
        ]
        purpose = (
            f"초안: {file}의 {rows:,}행에서 추정 (draft inferred from the {rows:,} rows of {file})"
        )
        grain = f"{file}의 한 행 (one row of {file})"
    title = product.title if product and product.title else None
    out += [
        "apiVersion: v3.2.0",
        "kind: DataContract",
        f"id: {_scalar(dataset)}",
        f"name: {_scalar(title)}"
        if title
        else _comment(f"name: {_scalar(dataset)}", "the dataset's title (Korean and English)"),
        f"version: {DRAFT_VERSION}",
        "status: draft",
        f"domain: {_scalar(sector)}",
        "description:",
        "  purpose: " + _scalar(f"{purpose}; 목적을 적어 주세요 (describe the purpose)."),
        "team:",
        f"  name: {_scalar(owner.name)}",
        f"  description: {_scalar(owner.name_en)}",
        "  members:",
        f"  - {_flow({'username': owner.contact, 'role': 'data steward'})}",
        "support:",
        "- " + _flow(_support(owner.contact)),
    ]
    if cadence:
        (every, unit), (late, late_unit) = CADENCES[cadence]
        out += [
            "slaProperties:",
            "- "
            + _flow(
                {
                    "property": "frequency",
                    "value": every,
                    "unit": unit,
                    "description": f"a delivery every {cadence} (steward's statement)",
                }
            ),
            _comment(
                "- " + _flow({"property": "latency", "value": late, "unit": late_unit}),
                "how late a delivery may be before the dataset counts as stale",
            ),
        ]
    out += [
        "customProperties:",
        "- property: approval",
        _comment(
            "  value: " + _flow({"policy": "owner", "maxDays": 365}),
            "owner_and_secretariat for person-level data, automatic for the sector's own use",
        )
        if identified
        else "  value: " + _flow({"policy": "owner", "maxDays": 365}),
        "- " + _flow({"property": "sector", "value": sector}),
        "- " + _flow({"property": "agency", "value": owner.id}),
    ]
    if product:
        out += [
            _comment(
                "- " + _flow({"property": "accessLevel", "value": product.access.value}),
                product.access_note,
            ),
            "- " + _flow({"property": "applyMode", "value": "replace"}),
            *_product_property(product, profiles),
        ]
    else:
        out += [
            _comment(
                "- " + _flow({"property": "accessLevel", "value": access.value}),
                "restricted: the file holds identifiers or quasi-identifiers"
                if identified
                else "public: nothing in the file looks personal",
            ),
            _comment(
                "- " + _flow({"property": "applyMode", "value": "replace"}),
                "append for an event log delivered in parts, upsert (with a primaryKey) for a "
                "register updated in place",
            ),
        ]
    if null_values != [""]:
        out += ["- property: nullValues", f"  value: {_flow(null_values)}"]
    if privacy:
        note = (
            f"{privacy.below_k:.1%} of the sample's rows are in classes under k={privacy.k} "
            "after generalisation"
            + ("" if privacy.max_suppressed or not privacy.below_k else ": generalise further")
        )
        out += ["- property: privacy", "  value:", _comment(f"    k: {privacy.k}", note)]
        if privacy.generalise:
            out.append(f"    generalise: {_flow(privacy.generalise)}")
        if privacy.max_suppressed:
            out.append(f"    maxSuppressed: {privacy.max_suppressed}")
    out += [
        "schema:",
        f"- name: {_scalar(dataset)}",
        f"  physicalType: {'table' if product else 'file'}",
        "  description: " + _scalar(f"{grain}; 행 단위를 적어 주세요 (state the grain)."),
        "  properties:",
    ]
    for p in profiles:
        out += _property(p)
    out += [
        "  quality:",
        "  - "
        + _flow(
            {
                "metric": "rowCount",
                "mustBeGreaterThan": 0,
                "severity": "error",
                "description": NOT_EMPTY,
            }
        ),
    ]
    return "\n".join(out) + "\n"


def _product_opening(rows: int) -> list[str]:
    """The comment a product's draft opens with."""
    return [
        f"# 공동 상품 계약 초안: 질의 결과의 처음 {rows:,}행에서 자동으로 만든 초안입니다.",
        "# 이름·형식·범위·키, 공개 범위와 `# suggested:` 표시가 붙은 줄을 확인하고 고친 뒤",
        "# 검토를 요청하세요. 승인되면 질의가 입력 자료의 게시 때마다 다시 실행됩니다.",
        f"# DRAFT contract of a joint product, generated from the first {rows:,} rows of its",
        "# query's result. Review the names, types, ranges (this sample's own), keys, the access",
        "# level and every line marked `# suggested:`, then submit it for review; once approved,",
        "# the query is rebuilt whenever an input publishes.",
    ]


class _LiteralDumper(yaml.SafeDumper):
    """Text of several lines as a literal block (`|`), as a query is written by hand."""


_LiteralDumper.add_representer(
    str,
    lambda dumper, data: dumper.represent_scalar(
        "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None
    ),
)


def _product_property(product: ProductPart, profiles: list[Profile]) -> list[str]:
    """`customProperties.product`: the SQL inline and, for an aggregate, its count column
    (under its lakehouse name) and k."""
    value: dict[str, Any] = {"sql": product.sql}
    if product.aggregate:
        named = {p.header: p.name for p in profiles}
        column = product.aggregate.count_column
        value["aggregate"] = {"countColumn": named.get(column, column), "k": product.aggregate.k}
    text = yaml.dump(
        value,
        Dumper=_LiteralDumper,
        allow_unicode=True,
        sort_keys=False,
        width=1 << 30,
        default_flow_style=None,  # the aggregate on one line: {countColumn: n, k: 5}
    )
    lines = [f"    {x}" if x else "" for x in text.splitlines()]
    return ["- property: product", "  value:", *lines]


def _support(contact: str) -> dict[str, str]:
    return {"channel": "email", "tool": "email", "url": f"mailto:{contact}", "scope": "issues"}


def _property(p: Profile) -> list[str]:
    out = [
        f"  - name: {_scalar(p.name)}",
        f"    physicalName: {_scalar(p.header)}",
        _comment(f"    logicalType: {p.logical.value}", p.type_note),
        f"    description: {_scalar(p.header)}",
    ]
    if p.key_position:
        out += ["    primaryKey: true", f"    primaryKeyPosition: {p.key_position}"]
    if p.required or p.key_position:
        out.append("    required: true")
    options: dict[str, Any] = {}
    if p.format:
        options["format"] = p.format
    if p.minimum is not None:
        options["minimum"] = p.minimum
    if p.maximum is not None:
        options["maximum"] = p.maximum
    if options:
        if p.minimum is None:
            note = None
        elif p.logical is LogicalType.date:
            note = "this file's dates; a later delivery's may fall outside: widen or drop them"
        else:
            note = "this file's range; widen it to what later deliveries may hold"
        out.append(_comment(f"    logicalTypeOptions: {_flow(options)}", note))
    if p.enum:
        out += ["    enum:", *(f"    - {_flow({'value': v})}" for v in p.enum)]
    if p.example is not None and not _nan(p.example):
        out.append(f"    examples: {_flow([p.example])}")
    classification = {"property": "classification", "value": p.classification.value}
    if p.allowed:
        out += [
            "    customProperties:",
            _comment(f"    - {_flow(classification)}", p.note),
            f"    - {_flow({'property': 'allowedIdentifiers', 'value': p.allowed})}",
        ]
    else:
        out.append(_comment(f"    customProperties: {_flow([classification])}", p.note))
    return out


def _nan(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)
