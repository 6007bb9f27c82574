"""The gate's words: one catalogue in Korean and English, keys on every check, grouped findings,
and a file that mixes encodings reported as such (in both languages, without a traceback)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from contracts.loader import load_contract
from contracts.model import Column, LogicalType, QualityRule, Severity
from quality.gate import run_gate
from quality.plans import plan_checks
from quality.readers import read_delivery
from quality.report import findings, report_json, report_text
from quality.results import CheckKind, CheckResult, GateResult
from quality.wording import Phrase, catalogue, fields, render, say
from tests.conftest import REPO, data_file, make_contract

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

# Where the gate's checks are worded: every key these files name must be in the catalogue.
WORDED = [*(REPO / "quality").rglob("*.py"), *(REPO / "gongyu" / "delivery").glob("*.py")]
CRIME_FILE = "welfare_safety/police_crime_by_region_20151231.csv"
CRIME_CONTRACT = REPO / "contracts/welfare_safety/knpa/police_crime_by_region_2015.yaml"
KOROAD_FILE = "welfare_safety/koroad_fatal_traffic_accidents_2020.csv"
HANGUL = re.compile(r"[가-힣]")


def keys_in_code() -> set[str]:
    """String constants shaped like a catalogue key (`<family>.<name>`) in the worded files."""
    families = {key.split(".")[0] for key in catalogue()}
    shape = re.compile(rf"^(?:{'|'.join(families)})\.[a-z0-9_.]+$")
    found = set()
    for path in WORDED:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= {node.value} if shape.match(node.value) else set()
    return found


def strictly(check: CheckResult, lang: str) -> tuple[str, str]:
    """A keyed check's words, failing (not falling back) on a missing key or value."""
    assert check.key, check
    hint = say(check.phrase(check.hint_key), lang) if check.hint_key else ""  # type: ignore[arg-type]
    return say(check.phrase(check.key), lang), hint


def test_every_key_in_code_is_in_the_catalogue_in_both_languages() -> None:
    used = keys_in_code()
    assert len(used) > 100  # the scan sees the gate's keys at all
    assert used - set(catalogue()) == set()
    for key, words in catalogue().items():
        # Korean is written, not copied: only a text of values alone reads the same in both.
        assert words.ko != words.en or not re.sub(r"\{[^}]*\}", "", words.en).strip(), key
        assert fields(words.ko) == fields(words.en), key
        assert fields(words.ko_one or words.ko) == fields(words.en_one or words.en), key


def test_a_check_without_a_key_keeps_its_english() -> None:
    check = CheckResult(
        kind=CheckKind.contract, rule="contract", passed=False, message="no", hint="h"
    )
    assert render(check, "ko") == ("no", "h") == render(check, "en")


def test_a_keyed_check_keeps_english_for_other_consumers() -> None:
    check = CheckResult(
        kind=CheckKind.readable, rule="readable:empty", passed=False, count=1,
        key="readable.empty", hint_key="readable.empty.hint", params={"file": "a.csv"},
    )  # fmt: skip
    assert (check.message, check.hint) == ("a.csv is empty", "deliver a file with data rows")
    assert render(check, "ko") == (
        "a.csv 파일이 비어 있습니다.",
        "데이터 행이 있는 파일을 제출하세요.",
    )
    # A stored check whose key is gone from the catalogue still reads, in English.
    gone = check.model_copy(update={"key": "readable.no_such_key"})
    assert render(gone, "ko")[0] == "a.csv is empty"


def test_phrases_nest_and_count_picks_the_single_form() -> None:
    wanted = Phrase(key="threshold.less", params={"value": 5, "unit": Phrase(key="unit.rows")})
    assert say(wanted, "en") == "less than 5 rows" and say(wanted, "ko") == "5행 미만"
    one = Phrase(key="rows.null", params={"count": 1, "share": "", "lab": "측정소명 (station)"})
    assert say(one, "en") == "1 row has no value in 측정소명 (station)"
    assert say(one, "ko") == "측정소명 (station)에 값이 없는 행이 1개 있습니다."


def test_a_bad_date_reads_naturally_in_korean(tmp_path: Path) -> None:
    path = tmp_path / "air.csv"
    path.write_text("측정일시,측정소명\n2024-01-01,강남구\n2024-13-01,서초구\n", encoding="utf-8")
    columns = [
        Column(name="measured_on", physical_name="측정일시", logical_type=LogicalType.date),
        Column(name="station", physical_name="측정소명", logical_type=LogicalType.string),
    ]
    (bad,) = [c for c in read_delivery(path, make_contract(columns)).checks if not c.passed]
    message, hint = strictly(bad, "ko")
    assert message.startswith("3행 '측정일시' (measured_on) 열의 값 '2024-13-01'을(를) 날짜로")
    assert "읽을 수 없습니다" in message
    assert hint.startswith("YYYY-MM-DD 형식(예: 2024-03-01)으로 고쳐 다시 제출하세요")
    assert strictly(bad, "en") == (bad.message, bad.hint)
    assert "row 3: the value '2024-13-01'" in bad.message and "is not a date" in bad.message


def test_a_file_of_another_dataset_is_one_grouped_finding() -> None:
    contract = load_contract(CRIME_CONTRACT)
    read = read_delivery(data_file(KOROAD_FILE), contract)
    (missing,) = [c for c in read.checks if c.rule == "schema:missing_columns"]
    total = len(contract.columns)
    ko, _ = strictly(missing, "ko")
    assert ko.startswith(f"이 파일은 계약의 열 {total}개 중 0개와 일치합니다.")
    assert f"외 {total - 5}개" in ko
    assert missing.message.startswith(f"this file matches 0 of {total} contract columns")
    shown = sum(f"'{c.physical_name}'" in missing.message for c in contract.columns)
    assert shown == 5  # a few examples, not every name
    (extra,) = [c for c in read.checks if c.rule == "schema:extra_columns"]
    assert "more" in extra.message and "외" in strictly(extra, "ko")[0]


def test_many_columns_failing_their_types_are_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    names = [f"n{i}" for i in range(6)]
    path.write_text(",".join(names) + "\n" + ",".join("x" * 6) + "\n", encoding="utf-8")
    columns = [Column(name=n, physical_name=n, logical_type=LogicalType.integer) for n in names]
    contract = make_contract(columns)
    read = read_delivery(path, contract)
    gate = GateResult(
        dataset_id="x", contract_version="1", source=read.source, checks=read.checks, rows=1
    )
    assert len(gate.failures) == 6
    (grouped,) = findings(gate, contract)
    assert grouped.rule == "types" and grouped.count == 6 and grouped.blocking
    assert "values in 6 of 6 columns" in grouped.message and "and 1 more" in grouped.message
    assert strictly(grouped, "ko")[0].startswith("열 6개 중 6개에서 값 6개를")
    data = report_json(gate, contract)
    assert len(data["failures"]) == 6 and len(data["findings"]) == 1
    assert data["findings"][0]["text"]["ko"]["message"] == strictly(grouped, "ko")[0]
    assert report_text(gate, contract).count("types:") == 0  # the text report groups them too


def mixed(tmp_path: Path, line: int, file_encoding: str, line_encoding: str) -> Path:
    """The real crime file in `file_encoding`, its `line` (1 = header) in `line_encoding`."""
    lines = data_file(CRIME_FILE).read_bytes().decode("cp949").splitlines(keepends=True)
    encoded = [
        text.encode(line_encoding if i == line - 1 else file_encoding)
        for i, text in enumerate(lines)
    ]
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join(encoded))
    return path


@pytest.mark.parametrize(
    ("file_encoding", "line_encoding"), [("utf-8", "cp949"), ("cp949", "utf-8")]
)
def test_a_line_in_another_encoding_is_an_encoding_problem(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], file_encoding: str, line_encoding: str
) -> None:
    path = mixed(tmp_path, 21, file_encoding, line_encoding)
    run = run_gate(path, load_contract(CRIME_CONTRACT))
    (failure,) = run.result.failures
    assert failure.rule == "readable:encoding" and failure.key == "readable.encoding.mixed"
    assert failure.samples[0].row == 21 and HANGUL.search(failure.samples[0].values["text"])
    assert f"line 21 is in {line_encoding.upper()}" in failure.message
    message, hint = strictly(failure, "ko")
    assert "두 가지 인코딩이 섞여" in message and "21번째 줄" in message
    assert "UTF-8 또는 CP949 중 한 가지" in hint
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_every_check_of_real_broken_files_is_worded_in_both_languages(tmp_path: Path) -> None:
    contract = load_contract(CRIME_CONTRACT)
    broken = tmp_path / "broken.csv"
    text = data_file(CRIME_FILE).read_bytes().decode("cp949").splitlines(keepends=True)
    # A value that does not cast, a missing one, a row short of fields.
    text[3] = text[3].replace(",", ",열", 1)
    text[5] = ",".join(text[5].split(",")[:-1]) + "\n"
    broken.write_text("".join(text), encoding="utf-8")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data_file(CRIME_FILE).read_bytes()[:-7] + b'"')
    for path in (broken, cut, data_file(KOROAD_FILE), data_file(CRIME_FILE)):
        for check in run_gate(path, contract).result.checks:
            ko, _ = strictly(check, "ko")
            assert HANGUL.search(ko), ko
            assert (check.message, check.hint) == strictly(check, "en")


def test_every_rule_of_a_contract_is_worded() -> None:
    def rule(name: str, spec: dict, column: str | None = "code") -> QualityRule:
        return QualityRule(column=column, name=name, severity=Severity.error, spec=spec)

    columns = [
        Column(name="code", physical_name="코드", logical_type=LogicalType.string, unique=True,
               enum=("A", "B"), pattern=r"^[AB]$", examples=("A",), min_length=1, max_length=2),
        Column(name="n", physical_name="건수", logical_type=LogicalType.integer, minimum=0),
        Column(name="m", physical_name="금액", logical_type=LogicalType.number, maximum=9),
    ]  # fmt: skip
    rules = [
        rule("rows", {"metric": "rowCount", "mustBeBetween": [1, 9]}, None),
        rule("dups", {"metric": "duplicateValues"}),
        rule("dup_rows", {"metric": "duplicateValues"}, None),
        rule("nulls", {"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}),
        rule("missing", {"metric": "missingValues", "arguments": {"missingValues": ["-"]}}),
        rule("invalid", {"metric": "invalidValues", "arguments": {"validValues": ["A"]}}),
        rule("no_column", {"metric": "nullValues"}, None),
        rule("odd", {"metric": "freshness"}),
        rule("by_sql", {"type": "sql", "query": "SELECT 1"}),
        rule("soda", {"type": "custom", "engine": "soda"}),
        rule("bad_yaml", {"type": "custom", "engine": "gx", "implementation": "a: [b"}),
        rule("no_impl", {"type": "custom", "engine": "gx"}),
        rule("no_type", {"type": "custom", "engine": "gx", "implementation": {"a": 1, "b": 2}}),
        rule("mean", {"type": "custom", "engine": "gx",
                      "implementation": {"expect_column_mean_to_be_between": {"min_value": 0}}}),
    ]  # fmt: skip
    plans = plan_checks(make_contract(columns, quality=tuple(rules)))
    assert len(plans) == 6 + len(rules)
    for plan in plans:
        said = [plan.hint, *([plan.error] if plan.error else [])]
        for count in (1, 3):
            said.append(plan.failing.model_copy(update={"params": {
                **plan.failing.params, "count": count, "share": ""}}))  # fmt: skip
        for phrase in said:
            assert HANGUL.search(say(phrase, "ko")) and say(phrase, "en"), phrase


def test_an_uncast_required_value_and_an_unnamed_column_are_worded(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("at,n,\n2024-01-01 09:00:00,x,memo\nlater,2,\n", encoding="utf-8")
    columns = [
        Column(name="at", physical_name="at", logical_type=LogicalType.timestamp),
        Column(name="n", physical_name="n", logical_type=LogicalType.integer, required=True),
    ]
    checks = run_gate(path, make_contract(columns)).result.failures
    by_key = {c.key: c for c in checks}
    assert {"types.failed", "rows.uncast", "schema.extra.unnamed_only"} <= set(by_key)
    assert "1 of them held a value that did not cast" in by_key["rows.uncast"].message
    for check in checks:
        assert HANGUL.search(strictly(check, "ko")[0]), check


def test_a_header_far_too_wide_is_worded(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(["a"] * 20_000) + "\n1\n", encoding="utf-8")
    (check,) = read_delivery(
        path, make_contract([Column(name="a", physical_name="a", logical_type=LogicalType.string)])
    ).checks
    assert check.key == "readable.columns" and "20,000칸 이상" in strictly(check, "ko")[0]
