"""k-anonymity: class-size reports, the `k_anonymity` check and opt-in generalisation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from contracts.loader import load_contract
from quality.privacy.kanonymity import (
    KReport,
    check_k,
    equivalence_classes,
    generalise,
    smallest_k_after,
)
from quality.readers import read_delivery
from quality.results import CheckKind

CONTRACT = Path("contracts/welfare_safety/knpa/police_drunk_driving_detections.yaml")
DELIVERY = Path("data/welfare_safety/police_drunk_driving_detections_202207.csv")
QUASI = ["sex", "age", "detected_at", "police_station"]
COARSE = {"age": "age_band_10", "detected_at": "month"}


@pytest.fixture(scope="module")
def drunk() -> pa.Table:
    return read_delivery(DELIVERY, load_contract(CONTRACT)).table


# --- the real drunk-driving delivery ---------------------------------------------------------


def test_real_file_is_nearly_unique_and_blocks(drunk: pa.Table) -> None:
    report = equivalence_classes(drunk, QUASI, k=5)
    assert report.rows == drunk.num_rows
    assert report.smallest == 1
    assert report.classes > 0.99 * drunk.num_rows  # sex + age + minute + station: ~unique
    assert report.rows_below_k == drunk.num_rows
    result = check_k(drunk, QUASI, 5)
    assert result.kind == CheckKind.privacy and result.rule == "k_anonymity"
    assert result.blocking and result.count == report.rows_below_k
    assert "k=5" in result.message and "smallest class has 1 row" in result.message
    assert all(c in result.message for c in QUASI)
    for level in ("age_band_10", "hour", "month", "drop a quasi-identifier"):
        assert level in result.hint


def test_real_report_carries_no_quasi_values(drunk: pa.Table) -> None:
    dumped = check_k(drunk, QUASI, 5).model_dump_json() + repr(equivalence_classes(drunk, QUASI))
    sample = drunk.slice(0, 2000)
    stations = set(sample["police_station"].drop_null().to_pylist())
    times = sample["detected_at"].drop_null().to_pylist()
    raw = stations | set(sample["sex"].drop_null().to_pylist())
    raw |= {t.strftime("%Y-%m-%d %H:%M") for t in times} | {t.isoformat() for t in times}
    assert len(stations) > 50
    assert not [v for v in raw if v in dumped]


def test_real_generalisation_shrinks_the_classes_below_k(drunk: pa.Table) -> None:
    before = equivalence_classes(drunk, QUASI, k=5)
    after = equivalence_classes(generalise(drunk, COARSE), QUASI, k=5)
    # No region column here (police_station is one token), so no first_token level applies.
    assert after.rows == before.rows
    assert after.classes < before.classes / 5
    assert after.rows_below_k < before.rows_below_k / 4  # 12,021 -> 2,450 rows below k=5
    assert after.below_k.get(1, 0) < before.below_k[1] / 10
    # Without the station, sex + 10-year band + month leaves only outlier ages in small classes.
    without = equivalence_classes(generalise(drunk, COARSE), ["sex", "age", "detected_at"], k=5)
    assert without.rows_below_k < 20
    # Sex + minute -> sex + month: the smallest class grows from 1 to the 4 rows of unknown sex.
    assert equivalence_classes(drunk, ["sex", "detected_at"]).smallest == 1
    assert smallest_k_after(drunk, ["sex", "detected_at"], COARSE) == 4


# --- synthetic tables -------------------------------------------------------------------------


def test_exact_class_size_histogram() -> None:
    # Classes a:1, b:1, c:2, d:3, e:5.
    keys = ["a", "b", "c", "c", "d", "d", "d"] + ["e"] * 5
    table = pa.table({"q": keys, "other": list(range(len(keys)))})
    report = equivalence_classes(table, ["q"], k=3)
    assert report == KReport(
        quasi=["q"],
        k=3,
        rows=12,
        classes=5,
        smallest=1,
        below_k={1: 2, 2: 1},
        classes_below_k=3,
        rows_below_k=4,
    )
    assert equivalence_classes(table, ["q"], k=1).below_k == {}


def test_nulls_form_their_own_class() -> None:
    table = pa.table({"sex": ["F", "F", "F", None, None], "age": [None, None, 30, 30, None]})
    report = equivalence_classes(table, ["sex", "age"], k=2)
    # (F, null) x2, (F, 30), (null, 30), (null, null)
    assert report.classes == 4 and report.below_k == {1: 3} and report.rows_below_k == 3


def test_check_passes_when_k_is_met_and_on_empty_tables() -> None:
    table = pa.table({"q": ["a"] * 5 + ["b"] * 6})
    result = check_k(table, ["q"], 5)
    assert result.passed and not result.blocking and "smallest class has 5" in result.message
    assert check_k(table.slice(0, 0), ["q"], 5).passed
    assert equivalence_classes(table, [], k=5).classes == 1
    with pytest.raises(ValueError, match="missing_col"):
        equivalence_classes(table, ["missing_col"])


def test_hint_follows_logical_types() -> None:
    table = pa.table(
        {
            "age": [30, 41],
            "seen_at": pa.array([dt.datetime(2022, 7, 1, 2, 30)] * 2, pa.timestamp("us")),
            "hourly": pa.array([dt.datetime(2022, 7, 1, 2)] * 2, pa.timestamp("us")),
            "born": pa.array([dt.date(1990, 1, 2)] * 2, pa.date32()),
            "addr": ["서울특별시 강남구", "경기도 수원시"],
            "amount": [1.5, 2.5],
        }
    )
    hint = check_k(table, table.column_names, 2).hint
    assert "age: 5- or 10-year age bands" in hint
    assert "seen_at: truncate to hour, then day" in hint
    assert "hourly: truncate to day, then month" in hint
    assert "born: truncate to month or year" in hint
    assert "addr: keep the first token" in hint
    assert "amount: round" in hint
    assert "drop a quasi-identifier" in hint


def _one(table: pa.Table, column: str, level: str) -> list:
    return generalise(table, {column: level})[column].to_pylist()


def test_each_generalisation_level() -> None:
    ts = [dt.datetime(2022, 7, 9, 2, 31), dt.datetime(2023, 1, 1, 23, 59), None]
    table = pa.table(
        {
            "age": [30, 34, 35, -3, None],
            "region": ["서울특별시 강남구", " 경기도  수원시 팔달구", "세종특별자치시", "", None],
            "n": [14, 16, 26, 0, None],
            "x": [1.2, 1.3, None, 2.0, 0.1],
        }
    )
    assert _one(table, "age", "age_band_5") == ["30-34", "30-34", "35-39", "-5--1", None]
    assert _one(table, "age", "age_band_10") == ["30-39", "30-39", "30-39", "-10--1", None]
    assert _one(table, "region", "first_token") == [
        "서울특별시",
        "경기도",
        "세종특별자치시",
        "",
        None,
    ]
    assert _one(table, "n", "round_10") == [10, 20, 30, 0, None]
    assert _one(table, "x", "round_0.5") == [1.0, 1.5, None, 2.0, 0.0]
    times = pa.table(
        {
            "t": pa.array(ts, pa.timestamp("us")),
            "d": pa.array([dt.date(2022, 7, 9), dt.date(2023, 1, 1), None], pa.date32()),
        }
    )
    assert _one(times, "t", "month") == ["2022-07", "2023-01", None]
    assert _one(times, "t", "year") == ["2022", "2023", None]
    assert _one(times, "t", "day") == [dt.date(2022, 7, 9), dt.date(2023, 1, 1), None]
    assert _one(times, "t", "hour") == [
        dt.datetime(2022, 7, 9, 2),
        dt.datetime(2023, 1, 1, 23),
        None,
    ]
    assert _one(times, "d", "month") == ["2022-07", "2023-01", None]
    assert _one(times, "d", "year") == ["2022", "2023", None]
    # Columns not named in the hierarchy are left as they were.
    assert generalise(table, {"age": "age_band_5"})["n"].equals(table["n"])


def test_unknown_or_inapplicable_level_is_an_error() -> None:
    table = pa.table({"age": [30], "d": pa.array([dt.date(2022, 7, 9)], pa.date32())})
    with pytest.raises(ValueError, match=r"age: level 'decade' is not a known level.*age_band_5"):
        generalise(table, {"age": "decade"})
    with pytest.raises(ValueError, match=r"d: level 'hour' does not apply.*allowed levels"):
        generalise(table, {"d": "hour"})
    with pytest.raises(ValueError, match="round_N needs N > 0"):
        generalise(table, {"age": "round_0"})
    with pytest.raises(ValueError, match="nope: not a column"):
        generalise(table, {"nope": "year"})
