"""The contract's GX suite on real rows of Seoul's daily air-quality file (CP949)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from open_data_contract_standard.model import OpenDataContractStandard

from contracts.model import Column, Contract, LogicalType, QualityRule, Severity
from quality.expectations import validate
from quality.results import ROW, CheckKind, GateResult, SourceInfo
from quality.suite import build_suite
from tests.conftest import data_file

AIR = "environment_energy/seoul_daily_air_quality_2022.csv"
STATIONS = ("강남구", "홍릉로", "강동구", "강북구", "강서구", "관악구", "광진구", "구로구")


def col(name: str, physical: str, logical: str = "string", **extra: object) -> Column:
    return Column(name=name, physical_name=physical, logical_type=LogicalType(logical), **extra)


def air_contract(*quality: QualityRule, **changes: object) -> Contract:
    """The air-quality contract: (date, station) key, station enum and pattern, ranges."""
    columns = [
        col("date", "측정일시", "date", primary_key_position=1, required=True,
            minimum="2022-01-01", maximum="2022-12-31"),
        col("station_name", "측정소명", primary_key_position=2, required=True,
            pattern=r"^\S+$", max_length=10),
        col("no2", "이산화질소농도(ppm)", "number", minimum=0, maximum=1),
        col("o3", "오존농도(ppm)", "number"),
        col("pm10", "미세먼지농도(㎍/㎥)", "integer", minimum=0, maximum=1000),
    ]  # fmt: skip
    odcs = OpenDataContractStandard(
        apiVersion="v3.2.0", kind="DataContract", id="air", version="1.2.0"
    )
    fields = {
        "id": "seoul_daily_air_quality",
        "version": "1.2.0",
        "title": "서울시 일별 평균 대기오염도",
        "sector": "environment_energy",
        "agency": "seoul",
        "access": "public",
        "columns": tuple(columns),
        "quality": quality,
        "path": Path("air.yaml"),
        "odcs": odcs,
    }
    return Contract(**{**fields, **changes})


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    """The first 40 records of the real file, decoded with Python's cp949 codec."""
    text = data_file(AIR).read_bytes().decode("cp949")
    records = list(csv.reader(io.StringIO(text)))[1:41]
    return [
        {
            "date": dt.datetime.strptime(r[0], "%Y%m%d").date(),
            "station_name": r[1],
            "no2": float(r[2]) if r[2] else None,
            "o3": float(r[3]) if r[3] else None,
            "pm10": int(r[6]) if r[6] else None,
            ROW: i + 2,
        }
        for i, r in enumerate(records)
    ]


def table(rows: list[dict]) -> pa.Table:
    schema = pa.schema(
        [("date", pa.date32()), ("station_name", pa.string()), ("no2", pa.float64()),
         ("o3", pa.float64()), ("pm10", pa.int64()), (ROW, pa.int64())]
    )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def changed(rows: list[dict], at: dict[int, dict]) -> list[dict]:
    """A copy of `rows` with some records (by list index) changed."""
    return [{**r, **at.get(i, {})} for i, r in enumerate(rows)]


def only(validation, rule: str):
    matches = [c for c in validation.checks if c.rule == rule]
    assert len(matches) == 1, [c.rule for c in validation.checks]
    return matches[0]


def gate(validation) -> GateResult:
    return GateResult(
        dataset_id="air", contract_version="1.2.0",
        source=SourceInfo(file="2022.csv", format="csv"), checks=validation.checks,
    )  # fmt: skip


def quality(name: str, spec: dict, column: str | None = None, severity=Severity.error):
    return QualityRule(column=column, name=name, severity=severity, spec=spec)


def test_real_rows_pass_every_check(rows):
    v = validate(table(rows), air_contract())
    assert v.checks and all(c.passed for c in v.checks), [c for c in v.checks if not c.passed]
    assert {c.kind for c in v.checks} == {
        CheckKind.required,
        CheckKind.primary_key,
        CheckKind.pattern,
        CheckKind.range,
    }
    assert gate(v).passed


def test_duplicate_key_fails_with_count_and_source_rows(rows):
    dup = [*rows, {**rows[0], ROW: 90}, {**rows[5], ROW: 91}]
    check = only(validate(table(dup), air_contract()), "primary_key:date,station_name")
    assert not check.passed and check.blocking
    assert check.kind == CheckKind.primary_key
    assert check.count == 4  # both rows of each of the two repeated keys
    assert [s.row for s in check.samples] == [2, 7, 90, 91]
    assert check.samples[0].values == {
        "date": "2022-01-01",
        "station_name": rows[0]["station_name"],
    }
    assert "측정일시 (date), 측정소명 (station_name)" in check.message


def test_null_in_required_column(rows):
    bad = changed(rows, {3: {"station_name": None}, 9: {"station_name": None}})
    v = validate(table(bad), air_contract())
    check = only(v, "required:station_name")
    assert (check.passed, check.count, check.kind) == (False, 2, CheckKind.required)
    assert [s.row for s in check.samples] == [5, 11]
    assert check.samples[0].values == {"station_name": None}
    assert check.message == "2 rows have no value in 측정소명 (station_name), which is required"
    assert "fill in 측정소명 (station_name)" in check.hint
    assert not gate(v).passed


def test_enum_pattern_and_ranges_report_samples(rows):
    contract = air_contract(columns=(
        col("date", "측정일시", "date", minimum="2022-01-01", maximum="2022-06-30"),
        col("station_name", "측정소명", enum=STATIONS, pattern=r"^\S+$"),
        col("no2", "이산화질소농도(ppm)", "number", minimum=0, maximum=1),
        col("o3", "오존농도(ppm)", "number"),
        col("pm10", "미세먼지농도(㎍/㎥)", "integer", minimum=0, maximum=1000),
    ))  # fmt: skip
    bad = changed(rows, {
        1: {"station_name": "서 초구"},
        4: {"pm10": -3},
        6: {"pm10": 1200, "no2": 2.5},
        8: {"date": dt.date(2022, 7, 1)},
    })  # fmt: skip
    v = validate(table(bad), contract)
    enum = only(v, "enum:station_name")
    # Only 8 of the file's stations are in the list: every other station fails too.
    outside = [r[ROW] for r in bad if r["station_name"] not in STATIONS]
    assert enum.count == len(outside) and [s.row for s in enum.samples] == outside[:10]
    assert {"station_name": "서 초구"} in [s.values for s in enum.samples]
    pattern = only(v, "pattern:station_name")
    assert (pattern.count, [s.row for s in pattern.samples]) == (1, [3])
    pm10 = only(v, "range:pm10")
    assert pm10.count == 2 and [(s.row, s.values["pm10"]) for s in pm10.samples] == [
        (6, -3), (8, 1200)
    ]  # ints stay ints  # fmt: skip
    assert "between 0 and 1000" in pm10.message and "미세먼지농도(㎍/㎥) (pm10)" in pm10.message
    assert [s.values for s in only(v, "range:no2").samples] == [{"no2": 2.5}]
    date = only(v, "range:date")
    assert date.count == 1 and date.samples[0].values == {"date": "2022-07-01"}
    assert date.samples[0].row == 10


def test_length_bound(rows):
    bad = changed(rows, {2: {"station_name": "아주아주긴측정소이름입니다"}})
    check = only(validate(table(bad), air_contract()), "length:station_name")
    assert check.kind == CheckKind.range and check.count == 1 and check.samples[0].row == 4


def test_warning_is_recorded_but_does_not_block(rows):
    rule = quality("o3_complete", {"metric": "nullValues"}, "o3", Severity.warning)
    bad = changed(rows, {0: {"o3": None}})
    v = validate(table(bad), air_contract(rule))
    check = only(v, "o3_complete")
    assert not check.passed and not check.blocking and check.count == 1
    result = gate(v)
    assert result.passed and result.counts()["warnings"] == 1


def test_row_count_rule(rows):
    few = quality(
        "enough_rows", {"type": "library", "metric": "rowCount", "mustBeGreaterThan": 100}
    )
    ok = quality("some_rows", {"metric": "rowCount", "mustBeBetween": [10, 50]})
    v = validate(table(rows), air_contract(few, ok))
    assert not only(v, "enough_rows").passed and only(v, "some_rows").passed
    assert only(v, "enough_rows").message == (
        "the delivery has 40 rows; rule 'enough_rows' wants more than 100 rows"
    )
    kwargs = [
        {k: v for k, v in r["expectation_config"]["kwargs"].items() if k != "batch_id"}
        for r in v.result["results"]
    ]
    assert {"min_value": 101} in kwargs and {"min_value": 10, "max_value": 50} in kwargs


def test_null_values_thresholds_absolute_and_percent(rows):
    bad = changed(rows, {0: {"o3": None}, 1: {"o3": None}, 2: {"o3": None}})  # 3 of 40 = 7.5%
    rules = [
        quality("le3", {"metric": "nullValues", "mustBeLessOrEqualTo": 3}, "o3"),
        quality("lt3", {"metric": "nullValues", "mustBeLessThan": 3}, "o3"),
        quality("pct10", {"metric": "nullValues", "mustBeLessThan": 10, "unit": "percent"}, "o3"),
        quality("pct5", {"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}, "o3"),
    ]
    v = validate(table(bad), air_contract(*rules))
    verdicts = {c.rule: (c.passed, c.count) for c in v.checks if c.kind == CheckKind.quality}
    assert verdicts == {"le3": (True, 3), "lt3": (False, 3), "pct10": (True, 3), "pct5": (False, 3)}
    assert "(7.50%)" in only(v, "pct5").message
    # A percent ceiling is also written into the suite as GX's `mostly`.
    mostly = [r["expectation_config"]["kwargs"].get("mostly") for r in v.result["results"]]
    assert pytest.approx(0.9) in mostly and pytest.approx(0.95) in mostly


def test_missing_invalid_and_duplicate_values(rows):
    bad = changed(rows, {0: {"station_name": "-"}, 1: {"station_name": None}, 2: {"pm10": 999}})
    rules = [
        quality("missing", {"metric": "missingValues", "arguments": {"missingValues": ["-"]}},
                "station_name"),
        quality("valid", {"metric": "invalidValues", "arguments": {"validValues": list(STATIONS)},
                          "mustBeLessThan": 100}, "station_name"),
        quality("shape", {"metric": "invalidValues", "arguments": {"pattern": r"^\d{1,3}$"}},
                "pm10"),
        quality("dups", {"metric": "duplicateValues"}, "pm10"),
        quality("nullValues", {"metric": "nullValues"}, "pm10"),  # unnamed in the contract
        quality("dup_rows", {"metric": "duplicateValues",
                             "arguments": {"properties": ["date", "station_name"]}}),
    ]  # fmt: skip
    bad.append({**bad[5], ROW: 99})
    v = validate(table(bad), air_contract(*rules))
    missing = only(v, "missing")
    assert missing.count == 2 and [s.row for s in missing.samples] == [2, 3]
    valid = only(v, "valid")
    assert valid.passed and valid.count > 0  # tolerated: fewer than 100 rows
    assert "allows less than 100 rows" in valid.message
    assert only(v, "shape").passed  # 999 has three digits
    pm10 = [r["pm10"] for r in bad]
    repeated = sum(pm10.count(x) > 1 for x in pm10 if x is not None)
    assert only(v, "dups").count == repeated
    assert only(v, "nullValues:pm10").passed
    assert only(v, "dup_rows").count == 2 and [s.row for s in only(v, "dup_rows").samples] == [
        7,
        99,
    ]


def test_custom_great_expectations_rule(rows):
    mean = quality("pm10_mean", {
        "type": "custom", "engine": "greatExpectations",
        "implementation": {"type": "expect_column_mean_to_be_between",
                           "kwargs": {"min_value": 0, "max_value": 5}},
    }, "pm10")  # fmt: skip
    as_yaml = quality("no2_max", {
        "type": "custom", "engine": "great-expectations",
        "implementation": "expect_column_max_to_be_between:\n  column: no2\n  max_value: 1\n",
    })  # fmt: skip
    per_row = quality("pm10_small", {
        "type": "custom", "engine": "greatExpectations",
        "implementation": {"type": "expect_column_values_to_be_between",
                           "kwargs": {"column": "pm10", "max_value": 30}},
    })  # fmt: skip
    v = validate(table(rows), air_contract(mean, as_yaml, per_row))
    check = only(v, "pm10_mean")
    assert not check.passed and "observed value" in check.message
    assert only(v, "no2_max").passed
    small = only(v, "pm10_small")
    big = [r[ROW] for r in rows if r["pm10"] is not None and r["pm10"] > 30]
    assert (
        not small.passed and small.count == len(big) and [s.row for s in small.samples] == big[:10]
    )
    types = {r["expectation_config"]["type"] for r in v.result["results"]}
    assert {"expect_column_mean_to_be_between", "expect_column_max_to_be_between"} <= types


def test_rules_that_cannot_run_fail_with_a_message(rows):
    rules = [
        quality("by_sql", {"type": "sql", "query": "SELECT COUNT(*) FROM air", "mustBe": 0}),
        quality("made_up", {"type": "custom", "engine": "greatExpectations",
                            "implementation": {"type": "expect_column_to_be_pretty"}}, "pm10"),
        quality("wrong_col", {"type": "custom", "engine": "greatExpectations",
                              "implementation": {"type": "expect_column_values_to_not_be_null",
                                                 "kwargs": {"column": "pm25"}}}),
        quality("by_soda", {"type": "custom", "engine": "soda", "implementation": "x"}),
    ]  # fmt: skip
    v = validate(table(rows), air_contract(*rules))
    sql = only(v, "by_sql")
    assert not sql.passed and sql.blocking and "'sql'" in sql.message and "by_sql" in sql.hint
    assert not only(v, "made_up").passed
    assert "expect_column_to_be_pretty" in only(v, "made_up").message
    wrong = only(v, "wrong_col")
    assert not wrong.passed and "could not be checked" in wrong.message and "pm25" in wrong.message
    assert "engine 'soda'" in only(v, "by_soda").message
    # The contract's own checks still ran.
    assert only(v, "primary_key:date,station_name").passed


def test_gx_result_is_json_and_matches_the_suite(rows):
    spec = {"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}
    rule = quality("o3_nulls", spec, "o3", Severity.warning)
    contract = air_contract(rule)
    suite = build_suite(contract)
    v = validate(table(rows), contract)
    # required ×2, primary key, pattern, length, range ×3 (date, no2, pm10), o3_nulls
    assert len(suite.expectations) == 9 == len(v.result["results"]) == len(v.checks)
    json.loads(json.dumps(v.result))
    assert v.result["success"] is True
    as_json = v.suite
    assert as_json["name"] == "seoul_daily_air_quality@1.2.0"
    metas = [e["meta"] for e in as_json["expectations"]]
    assert {m["kind"] for m in metas} >= {"required", "primary_key", "quality"}
    assert all({"kind", "rule", "severity", "hint", "column"} <= m.keys() for m in metas)
    warning = next(e for e in as_json["expectations"] if e["meta"]["rule"] == "o3_nulls")
    assert warning["severity"] == "warning" and warning["meta"]["severity"] == "warning"


def test_no_progress_bars(rows, capfd):
    validate(table(rows), air_contract())
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err and "%|" not in err


def test_many_bad_rows_stay_fast():
    """300k rows all out of range: samples must not cost a Python step per bad row."""
    n = 300_000
    big = pa.table({
        "date": pa.array([dt.date(2022, 1, 1)] * n, pa.date32()),
        "station_name": pa.array([f"s{i}" for i in range(n)]),
        "no2": pa.array([5.0] * n), "o3": pa.array([None] * n, pa.float64()),
        "pm10": pa.array(range(n), pa.int64()), ROW: pa.array(range(2, n + 2), pa.int64()),
    })  # fmt: skip
    started = time.perf_counter()
    v = validate(big, air_contract(), sample_rows=3)
    took = time.perf_counter() - started
    assert only(v, "range:no2").count == n and [s.row for s in only(v, "range:no2").samples] == [
        2, 3, 4
    ]  # fmt: skip
    assert only(v, "range:pm10").count == n - 1001
    assert took < 5, f"validate took {took:.1f} s"


def test_one_group_and_column_groups_report_the_same(rows, monkeypatch):
    """A small delivery runs as one GX group, a large one group per column set: same report."""
    bad = changed(
        [*rows, {**rows[0], ROW: 90}],
        {3: {"station_name": None}, 7: {"pm10": 5000}, 11: {"date": dt.date(1999, 1, 1)}},
    )
    rule = quality("pm10_mean", {"metric": "nullValues", "mustBeLessThan": 1}, "pm10")
    contract = air_contract(rule)
    one = validate(table(bad), contract)
    monkeypatch.setattr("quality.running.ONE_GROUP_CELLS", 0)
    grouped = validate(table(bad), contract)

    def report(v) -> list[tuple]:
        return [(c.rule, c.passed, c.count, [s.row for s in c.samples]) for c in v.checks]

    assert report(one) == report(grouped)
    assert any(not c.passed for c in one.checks) and len(one.result["results"]) > 5
    assert one.result["statistics"] == grouped.result["statistics"]


def test_passing_row_rules_are_counted_failing_ones_listed(rows):
    """Rules that allow no bad row run first without listing bad rows; one that fails runs
    again in full, so its count and sample rows are GX's own."""
    bad = changed(rows, {7: {"pm10": 5000}})
    rule = quality("o3_nulls", {"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"})
    v = validate(table(bad), air_contract(rule.model_copy(update={"column": "o3"})))
    results = {r["expectation_config"]["meta"]["rule"]: r for r in v.result["results"]}
    assert results["required:station_name"]["result"] == {"unexpected_count": 0}
    assert results["pattern:station_name"]["result"] == {"unexpected_count": 0}
    pm10 = results["range:pm10"]["result"]
    assert not results["range:pm10"]["success"] and pm10["unexpected_count"] == 1
    assert pm10["partial_unexpected_index_list"] == [{ROW: 9, "pm10": 5000}]
    assert [s.row for s in only(v, "range:pm10").samples] == [9]
    # A rule with a tolerance (GX's `mostly`) keeps its full result: its count is reported.
    assert "element_count" in results["o3_nulls"]["result"]
    assert len(v.result["results"]) == len(v.checks)
