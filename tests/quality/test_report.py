"""The quarantine report, in JSON and in plain text."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from open_data_contract_standard.model import OpenDataContractStandard

from contracts.model import Column, Contract, LogicalType, Severity
from quality.expectations import validate
from quality.report import outcome, report_json, report_text
from quality.results import ROW, CheckKind, CheckResult, GateResult, Sample, SourceInfo

SOURCE = SourceInfo(
    file="landing/seoul/air/d1/2022.csv", format="csv", encoding="cp949", delimiter=",", rows=40
)


def contract() -> Contract:
    odcs = OpenDataContractStandard(
        apiVersion="v3.2.0", kind="DataContract", id="air", version="1.2.0"
    )
    columns = (
        Column(name="station_name", physical_name="측정소명", logical_type=LogicalType.string,
               required=True, primary_key_position=1),
        Column(name="pm10", physical_name="미세먼지농도(㎍/㎥)", logical_type=LogicalType.integer,
               minimum=0, maximum=1000),
    )  # fmt: skip
    return Contract(
        id="seoul_daily_air_quality", version="1.2.0", title="air", sector="environment_energy",
        agency="seoul", access="public", columns=columns, path=Path("air.yaml"), odcs=odcs,
    )  # fmt: skip


def gate(*checks: CheckResult) -> GateResult:
    return GateResult(
        dataset_id="seoul_daily_air_quality", contract_version="1.2.0", source=SOURCE,
        checks=list(checks), rows=40,
    )  # fmt: skip


PASSED = CheckResult(kind=CheckKind.schema, rule="schema:columns", passed=True)
KEY = CheckResult(
    kind=CheckKind.primary_key, rule="primary_key:station_name", column="station_name",
    passed=False, count=14,
    samples=[Sample(row=r, values={"station_name": "강남구"}) for r in range(2, 14)][:10],
    message="14 rows share their primary key (측정소명 (station_name)) with another row",
    hint="make each 측정소명 (station_name) appear only once: remove or merge the repeated rows",
)  # fmt: skip
NULLS = CheckResult(
    kind=CheckKind.quality, rule="pm10_complete", column="pm10", severity=Severity.warning,
    passed=False, count=1, samples=[Sample(row=7, values={"pm10": None})],
    message="1 row has no value in 미세먼지농도(㎍/㎥) (pm10)",
    hint="ask the station to re-send the missing measurement",
)  # fmt: skip


def test_quarantine_text_names_rule_count_rows_and_hint():
    text = report_text(gate(PASSED, NULLS, KEY), contract())
    assert text.startswith("Gongyu delivery report: QUARANTINED")
    for part in ("seoul_daily_air_quality", "1.2.0", "2022.csv", "cp949", "40"):
        assert part in text.split("BLOCKING")[0]
    assert "primary_key:station_name" in text and "14 rows" in text
    assert "row 2 " in text and "row 11 " in text and "row 12 " not in text  # ten samples
    assert "(first 10 of 14)" in text
    assert "측정소명 (station_name) = 강남구" in text
    assert KEY.hint in text and NULLS.hint in text
    # Blocking first, then warnings, each under its heading.
    assert text.index("BLOCKING") < text.index("primary_key") < text.index("WARNINGS")
    assert text.index("WARNINGS") < text.index("pm10_complete")
    assert "미세먼지농도(㎍/㎥) (pm10) = (empty)" in text
    assert "last published version keeps serving" in text


def test_warnings_only_publish():
    g = gate(PASSED, NULLS)
    assert outcome(g) == "PUBLISHED with warnings"
    text = report_text(g)
    assert "Outcome    PUBLISHED with warnings" in text and "BLOCKING" not in text
    assert "pm10 = (empty)" in text  # without the contract: lakehouse names
    assert outcome(gate(PASSED)) == "PUBLISHED" and "Every check passed." in report_text(
        gate(PASSED)
    )


def test_json_report_orders_failures_and_keeps_samples():
    data = report_json(gate(NULLS, PASSED, KEY), contract())
    json.dumps(data, ensure_ascii=False)
    assert data["outcome"] == "QUARANTINED" and data["passed"] is False
    assert data["source"]["encoding"] == "cp949" and data["rows"] == 40
    assert data["counts"] == {"passed": 1, "failed": 1, "warnings": 1}
    assert [f["rule"] for f in data["failures"]] == ["primary_key:station_name", "pm10_complete"]
    first = data["failures"][0]
    assert first["blocking"] and first["count"] == 14 and first["hint"] == KEY.hint
    assert first["column_label"] == "측정소명 (station_name)"
    assert [s["row"] for s in first["samples"]] == list(range(2, 12))


def test_report_of_a_real_validation():
    rows = {"station_name": ["강남구", "강남구", None], "pm10": [25, 2000, 27], ROW: [2, 3, 4]}
    table = pa.table(rows, schema=pa.schema([
        ("station_name", pa.string()), ("pm10", pa.int64()), (ROW, pa.int64()),
    ]))  # fmt: skip
    checks = validate(table, contract()).checks
    text = report_text(gate(*checks), contract())
    assert "QUARANTINED" in text
    assert "required:station_name" in text and "1 row has no value in 측정소명" in text
    assert "range:pm10" in text and "row 3" in text and "미세먼지농도(㎍/㎥) (pm10) = 2000" in text
    assert "Fix:   fill in 측정소명 (station_name) in every row" in text
