"""Privacy detectors: precision/recall per detector on the labelled set, checksums, masking, and
a scan of the shipped real files."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from contracts.loader import load_contracts
from contracts.model import Classification
from quality.privacy import checksums
from quality.privacy.detectors import (
    DETECTORS,
    HINT,
    NAME_DETECTOR,
    cell_hits,
    detect_identifiers,
    detection_checks,
)
from quality.results import ROW, CheckKind
from tests.quality.privacy import labelled

DATA = Path(__file__).resolve().parents[3] / "data"
MIN_RECALL, MIN_PRECISION = 0.99, 0.95


# --- precision / recall over the labelled set ---------------------------------------------


def _scores() -> dict[str, tuple[int, int, int]]:
    """(true positives, false positives, false negatives) per detector."""
    cases = labelled.cells()
    found = cell_hits(pa.array([v for v, _ in cases]))
    labels = np.array([label or "" for _, label in cases])
    scores = {}
    for det in DETECTORS:
        hit, truth = found[det.name][0], labels == det.name
        scores[det.name] = (
            int((hit & truth).sum()),
            int((hit & ~truth).sum()),
            int((~hit & truth).sum()),
        )
    tp = fp = fn = 0
    for cells, holds_names in labelled.name_columns():
        table = pa.table({"c": pa.array(cells, pa.string())})
        got = any(d.detector == NAME_DETECTOR for d in detect_identifiers(table))
        tp, fp, fn = (
            tp + (got and holds_names),
            fp + (got and not holds_names),
            fn + (holds_names and not got),
        )
    scores[NAME_DETECTOR + " (per column)"] = (tp, fp, fn)
    return scores


def test_precision_and_recall_per_detector() -> None:
    scores = _scores()
    lines = [f"{'detector':36} {'tp':>5} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
    failing = []
    for name, (tp, fp, fn) in scores.items():
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        lines.append(f"{name:36} {tp:5} {fp:4} {fn:4} {precision:9.3f} {recall:7.3f}")
        if precision < MIN_PRECISION or recall < MIN_RECALL or tp == 0:
            failing.append(name)
    print("\n" + "\n".join(lines))
    assert not failing, "\n".join(lines)


# --- checksums against plain-Python references ----------------------------------------------


def _ref_rrn_check(digits: str) -> bool:
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    total = sum(int(c) * w for c, w in zip(digits[:12], weights, strict=True))
    return (11 - total % 11) % 10 == int(digits[12])


def _ref_brn(digits: str) -> bool:
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(int(c) * w for c, w in zip(digits[:9], weights, strict=True))
    total += int(digits[8]) * 5 // 10
    return (10 - total % 10) % 10 == int(digits[9])


def _ref_luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _random_digits(rng: random.Random, n: int, count: int = 2000) -> list[str]:
    return ["".join(str(rng.randrange(10)) for _ in range(n)) for _ in range(count)]


def test_rrn_check_digit_matches_reference() -> None:
    values = _random_digits(random.Random(1), 13)
    _, _, check = checksums.rrn_parts(pa.array(values))
    assert check.tolist() == [_ref_rrn_check(v) for v in values]


def test_rrn_date_and_g_digit() -> None:
    date_ok, g, _ = checksums.rrn_parts(
        pa.array(["9002291000000", "0002293000000", "9013011000000", "9912315000000", None])
    )
    assert date_ok.tolist() == [False, True, False, True, False]  # 1990 is no leap year, 2000 is
    assert g.tolist()[:4] == [1, 3, 1, 5]


def test_brn_check_digit_matches_reference() -> None:
    values = _random_digits(random.Random(2), 10)
    assert checksums.brn_valid(pa.array(values)).tolist() == [_ref_brn(v) for v in values]
    assert sum(_ref_brn(v) for v in values) > 100  # the random set holds valid ones too


def test_luhn_matches_reference_for_all_lengths() -> None:
    rng = random.Random(3)
    values = [v for n in range(13, 20) for v in _random_digits(rng, n, 300)]
    valid, lengths = checksums.luhn_valid(pa.array(values))
    assert valid.tolist() == [_ref_luhn(v) for v in values]
    assert lengths.tolist() == [len(v) for v in values]
    known, _ = checksums.luhn_valid(
        pa.array(["4111111111111111", "378282246310005", "4111111111111112"])
    )
    assert known.tolist() == [True, True, False]


def test_digit_matrix_handles_slices_and_nulls() -> None:
    arr = pa.array(["999", "12", None, "345"]).slice(1)
    mat, lengths = checksums.digit_matrix(arr, 4)
    assert mat.tolist() == [[0, 0, 1, 2], [0, 0, 0, 0], [0, 3, 4, 5]]
    assert lengths.tolist() == [2, 0, 3]


def test_card_prefixes() -> None:
    values = [
        "4111111111111111",
        "5500000000000004",
        "2221000000000009",
        "378282246310005",
        "6011111111111117",
        "9410000000000005",
        "1111111111111117",
        "3000000000000004",
    ]
    luhn, lengths = checksums.luhn_valid(pa.array(values))
    ok = checksums.card_prefix_ok(pa.array(values), lengths) & luhn
    assert ok.tolist() == [True, True, True, True, True, True, False, False]


def test_post_2020_rrn_needs_its_hyphen() -> None:
    body = "0105073123456"
    good = body[:12] + str(
        (11 - sum(int(c) * w for c, w in zip(body[:12], checksums.RRN_WEIGHTS, strict=False)) % 11)
        % 10
    )
    bad = good[:12] + str((int(good[12]) + 1) % 10)
    hits = cell_hits(pa.array([f"{bad[:6]}-{bad[6:]}", bad, good]))["resident_registration_number"][
        0
    ]
    assert hits.tolist() == [True, False, True]
    found = detect_identifiers(pa.table({"id": [f"{bad[:6]}-{bad[6:]}", good]}))
    assert [(d.count, d.high_confidence) for d in found] == [(2, 1)]


# --- detections, masking, rows, checks -------------------------------------------------------


def _positives() -> dict[str, list[str]]:
    rng = random.Random(7)
    return {
        "rrn": [labelled.rrn(rng, False) for _ in range(20)],
        "frn": [labelled.rrn(rng, True) for _ in range(20)],
        "brn": [labelled.brn(rng) for _ in range(20)],
        "mobile": [labelled.mobile(rng) for _ in range(20)],
        "landline": [labelled.landline(rng) for _ in range(20)],
        "email": [labelled.email(rng) for _ in range(20)],
        "card": [labelled.card(rng) for _ in range(20)],
        "name": [
            rng.choice(labelled.SURNAMES) + rng.choice(labelled.GIVEN_NAMES) for _ in range(20)
        ],
    }


def test_each_column_reports_its_detector_with_rows() -> None:
    columns = _positives()
    table = pa.table({**columns, ROW: list(range(2, 22))})
    found = {(d.column, d.detector): d for d in detect_identifiers(table)}
    expected = {
        ("rrn", "resident_registration_number"),
        ("frn", "foreigner_registration_number"),
        ("brn", "business_registration_number"),
        ("mobile", "mobile_phone"),
        ("landline", "landline_phone"),
        ("email", "email"),
        ("card", "payment_card"),
        ("name", NAME_DETECTOR),
    }
    assert set(found) == expected
    for d in found.values():
        assert d.count == 20 and d.share == 1.0
        assert [s.row for s in d.samples] == list(range(2, 12))
    shapes = {
        "rrn": r"\d{6}-[1-4]\*{6}",
        "frn": r"\d{6}-[5-8]\*{6}",
        "brn": r"\d{3}-\d{2}-\*{5}",
        "mobile": r"01\d-\*{4}-\d{4}",
        "landline": r"(0\d{1,2}-\*{4}-\d{4}|1\d{3}-\*{4})",
        "email": r"[a-z]\*\*\*@[a-z.]+",
        "card": r"\d{4} \*{4} \*{4} \d{4}",
        "name": r"[가-힣]\*{1,3}",
    }
    for (column, _), d in found.items():
        for sample in d.samples:
            assert re.fullmatch(shapes[column], sample.values[column]), sample


def test_raw_values_never_leave_the_detector() -> None:
    columns = _positives()
    found = detect_identifiers(pa.table(columns))
    checks = detection_checks(found, {})
    dumped = "".join(d.model_dump_json() for d in found) + "".join(
        c.model_dump_json() for c in checks
    )
    for values in columns.values():
        for raw in values:
            digits = "".join(ch for ch in raw if ch.isdigit())
            assert raw not in dumped
            if len(digits) >= 8:  # the digits alone, however they were grouped
                assert digits not in dumped.replace("-", "").replace(" ", "")
            if "@" in raw:
                assert raw.split("@")[0] not in dumped.split("@")[0] or len(raw.split("@")[0]) <= 1


def test_mask_formats() -> None:
    assert checksums.mask("resident_registration_number", "9001011234568") == "900101-1******"
    assert checksums.mask("mobile_phone", "010 1234 5678") == "010-****-5678"
    assert checksums.mask("landline_phone", "(02)459-2844") == "02-****-2844"
    assert checksums.mask("landline_phone", "1588-1234") == "1588-****"
    assert checksums.mask("email", "kim@example.com") == "k***@example.com"
    assert checksums.mask("payment_card", "4111-1111-1111-1111") == "4111 **** **** 1111"
    assert checksums.mask("person_name", "김민수") == "김**"
    assert checksums.mask("business_registration_number", "1234567890") == "123-45-*****"


def test_checks_only_for_undeclared_columns() -> None:
    found = detect_identifiers(
        pa.table({k: v for k, v in _positives().items() if k in ("mobile", "email")})
    )
    checks = detection_checks(found, {"mobile": Classification.direct_identifier})
    assert len(checks) == 1
    check = checks[0]
    assert check.kind == CheckKind.privacy and check.blocking and check.column == "email"
    assert "'email'" in check.message and "email" in check.rule and "20" in check.message
    assert check.hint == HINT and check.samples


def test_name_rule_is_per_column() -> None:
    rng = random.Random(9)
    names = [rng.choice(labelled.SURNAMES) + rng.choice(labelled.GIVEN_NAMES) for _ in range(30)]
    places = labelled.PLACES[:30]
    mixed = names[:6] + ["확인 완료"] * 24  # 20 %: below the share
    table = pa.table({"names": names, "places": places, "mixed": mixed, "n": list(range(30))})
    assert [(d.column, d.detector) for d in detect_identifiers(table)] == [("names", NAME_DETECTOR)]


def test_chance_checksum_hits_are_not_reported() -> None:
    rng = random.Random(11)
    stamps = [str(rng.randrange(1_500_000_000, 1_700_000_000)) for _ in range(500)]  # epoch secs
    assert detect_identifiers(pa.table({"ts": stamps})) == []


def test_mixed_free_text_column_keeps_formatted_hits() -> None:
    """Near-misses in the same column must not hide real, formatted identifiers."""
    values = [value for value, _ in labelled.cells()]
    found = {d.detector for d in detect_identifiers(pa.table({"remarks": values}))}
    assert found == {det.name for det in DETECTORS}


def test_integer_columns_and_empty_columns() -> None:
    table = pa.table(
        {"card": pa.array([4111111111111111] * 3, pa.int64()), "none": pa.nulls(3, pa.string())}
    )
    assert [(d.column, d.detector) for d in detect_identifiers(table)] == [("card", "payment_card")]
    assert detect_identifiers(pa.table({"x": pa.array([], pa.string())})) == []


# --- the shipped real files --------------------------------------------------------------------

# Correct detections: institutional/business phone numbers and one e-mail address in a
# homepage column. Everything else in the shipped files must stay silent.
EXPECTED_REAL = {
    ("national_urban_parks_standard_data.csv", "전화번호", "landline_phone"),
    ("mois_localdata_edible_ice_sellers.csv", "소재지전화", "landline_phone"),
    ("kotra_overseas_korean_companies.csv", "홈페이지", "email"),
    ("kotsa_car_inspection_centers_20210927.csv", "검사소전화번호", "landline_phone"),
    ("kotsa_car_inspection_centers_20210927.csv", "관리기관전화번호", "landline_phone"),
}


def _read_raw(path: Path) -> pa.Table:
    """Every column as text, as the agency wrote it (the detectors look at text)."""
    raw = path.read_bytes()
    if raw[:2] == b"\xff\xfe":
        encoding, delimiter = "utf-16", "\t"
    elif raw[:3] == b"\xef\xbb\xbf":
        encoding, delimiter = "utf-8-sig", ","
    else:
        encoding, delimiter = "cp949", ","
    header = raw.decode(encoding).splitlines()[0].split(delimiter)
    return pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(encoding=encoding),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )


@pytest.fixture(scope="module")
def real_scan() -> dict[str, list]:
    files = sorted(DATA.rglob("*.csv"))
    assert len(files) == 14
    return {f.name: detect_identifiers(_read_raw(f)) for f in files}


def test_real_files_report_only_the_expected_columns(real_scan: dict[str, list]) -> None:
    got = {(name, d.column, d.detector) for name, found in real_scan.items() for d in found}
    assert got == EXPECTED_REAL
    kotsa = real_scan["kotsa_car_inspection_centers_20210927.csv"]
    assert all(d.count == 59 for d in kotsa)  # every inspection centre lists its phone
    for name in (
        "hira_drug_master_active_ingredients.csv",
        "koroad_fatal_traffic_accidents_2020.csv",
        "koica_oda_by_income_group_20210521.csv",
    ):
        assert real_scan[name] == []


def test_real_files_checks_follow_the_contracts(real_scan: dict[str, list]) -> None:
    """The shipped contracts declare those phone columns `none`: the gate would flag them."""
    declared = {
        c.physical_name: c.classification for contract in load_contracts() for c in contract.columns
    }
    kotsa = real_scan["kotsa_car_inspection_centers_20210927.csv"]
    checks = detection_checks(kotsa, declared)
    assert {c.column for c in checks} == {"검사소전화번호", "관리기관전화번호"}
    assert all(c.blocking and c.kind == CheckKind.privacy for c in checks)
