"""`read_delivery` on the real shipped files and on small synthetic ones."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from open_data_contract_standard.model import OpenDataContractStandard

from contracts.model import Column, Contract, LogicalType, Severity
from quality.casting import java_to_strptime
from quality.readers import read_delivery
from quality.results import ROW, CheckKind, ReadResult

# A file no reader can decode must not make Python print "Exception ignored" (a traceback on
# the operator's console): here that is a failure, not a warning.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

REPO = Path(__file__).resolve().parents[2]
DATA_DIRS = (REPO / "data", REPO.parent / "shared" / "data")


def real(relative: str) -> Path:
    """A shipped data file: the repo's copy, else the shared one."""
    for root in DATA_DIRS:
        if (root / relative).is_file():
            return root / relative
    pytest.skip(f"data file {relative} not found")


def col(name: str, physical: str | None = None, logical: str = "string", **kw: object) -> Column:
    return Column(
        name=name, physical_name=physical or name, logical_type=LogicalType(logical), **kw
    )


def contract(*columns: Column, null_values: tuple[str, ...] = ("",)) -> Contract:
    return Contract(
        id="x",
        version="1.0.0",
        title="x",
        sector="welfare_safety",
        agency="test",
        access="public",
        null_values=null_values,
        columns=columns,
        path=Path("x.yaml"),
        odcs=OpenDataContractStandard(
            apiVersion="v3.2.0", kind="DataContract", id="x", version="1.0.0"
        ),
    )


def check(result: ReadResult, kind: CheckKind, column: str | None = None):
    """The check of this kind on this column (for whole-file kinds: the one that passed)."""
    found = [
        c
        for c in result.checks
        if c.kind == kind and c.column == column and (column or c.rule == kind.value)
    ]
    assert found, f"no {kind} check for {column}: {result.checks}"
    return found[0]


def failed(result: ReadResult) -> list[str]:
    return [c.rule for c in result.checks if not c.passed]


def assert_clean(result: ReadResult) -> None:
    """Nothing failed but the warning for file columns the (partial) test contract omits."""
    problems = [c for c in result.checks if not c.passed and c.rule != "schema:extra_columns"]
    assert problems == [], [c.message for c in problems]
    assert result.table is not None
    assert {c.kind for c in result.checks} == {
        CheckKind.readable,
        CheckKind.schema,
        CheckKind.types,
    }


# --- real files -------------------------------------------------------------------------------


def test_hira_cp949_with_uhc_extension_syllables():
    c = contract(
        col("code", "일반명코드"),
        col("form", "제형"),
        col("generic_name", "일반명"),
        col("class_no", "분류번호", "integer"),
        col("route", "투여"),
        col("unit", "단위"),
    )
    r = read_delivery(real("finance_insurance/hira_drug_master_active_ingredients.csv"), c)
    assert_clean(r)
    assert (r.source.format, r.source.encoding, r.source.delimiter) == ("csv", "cp949", ",")
    assert r.source.rows == r.table.num_rows == 54_038
    assert r.table.column_names == [
        "code",
        "form",
        "generic_name",
        "class_no",
        "route",
        "unit",
        ROW,
    ]
    first = r.table.slice(0, 1).to_pylist()[0]
    assert first == {
        "code": "100101AGN",
        "form": "과립제,세립",
        "generic_name": "상황균사체엑스",
        "class_no": 421,
        "route": "내복",
        "unit": "g",
        ROW: 2,
    }
    # 럄 (8E 63) is outside EUC-KR: it must arrive intact, at its source row.
    names = r.table["generic_name"]
    hits = r.table.filter(pc.match_substring(names, "럄"))
    assert hits[ROW].to_pylist()[:2] == [25103, 25104]
    assert hits["generic_name"][0].as_py() == "혈청,뇨중의 아밀라제 효소성분 정럄검사용 시약"
    assert r.table.schema.field("class_no").type == pa.int64()


def test_kotra_quoted_newlines_count_records_not_lines():
    c = contract(
        col("continent", "구분"),
        col("country", "국가명"),
        col("company", "회사명(국문)"),
        col("company_en", "회사명(영문)"),
        col("address", "주소"),
        col("local_staff", "현지채용"),
    )
    path = real("industry_sme/kotra_overseas_korean_companies.csv")
    r = read_delivery(path, c)
    assert_clean(r)  # padded headers ('구분 ', ' 현지채용 ') still map
    assert r.source.encoding == "cp949"
    assert r.source.rows == 11_953
    rows = r.table[ROW].to_pylist()
    assert rows[0] == 2 and rows[-1] == 11_954  # records; the file has 12,036 lines
    assert rows == list(range(2, 11_955))
    row22 = r.table.filter(pc.equal(r.table[ROW], 22)).to_pylist()[0]
    assert row22["company"] == "대한전선뉴질랜드"
    assert row22["address"].endswith("AuStralia")  # its trailing line break is trimmed
    row131 = r.table.filter(pc.equal(r.table[ROW], 131)).to_pylist()[0]
    assert (
        row131["company_en"]
        == "Ssangyong Engineering & Construction Co., Ltd.\n(Kuala Lumpur Branch)"
    )
    # Surrounding whitespace is trimmed: '아시아 ' and '아시아' are one value.
    assert r.table["continent"][0].as_py() == "아시아"
    assert r.table["local_staff"][0].as_py() == "100"
    assert r.table.slice(r.table.num_rows - 1).to_pylist()[0]["company"] == "EMM㈜"


DRUNK = "welfare_safety/police_drunk_driving_detections_202207.csv"


def drunk_contract() -> Contract:
    return contract(
        col("sex", "성별"),
        col("count", "적발횟수", "integer"),
        col("alcohol", "알콜농도", "number"),
        col("measured_at", "측정일시", "timestamp", format="yyyy-MM-dd HH:mm"),
        col("station", "관할경찰서"),
    )


def test_police_utf16_tab_and_cast_failures_with_source_rows():
    path = real(DRUNK)
    r = read_delivery(path, drunk_contract(), sample_rows=5)
    assert (r.source.encoding, r.source.delimiter, r.source.rows) == ("utf-16-le", "\t", 12_021)
    assert check(r, CheckKind.readable).passed and check(r, CheckKind.schema).passed
    bad = check(r, CheckKind.types, "alcohol")
    assert not bad.passed and bad.severity == Severity.error
    assert bad.count == 457
    assert len(bad.samples) == 5
    assert all(s.values == {"alcohol": "측정거부"} for s in bad.samples)
    assert "알콜농도" in bad.message and "alcohol" in bad.message and "number" in bad.message
    assert bad.hint
    # The sample's row number points at that record in the raw file (header = row 1).
    records = list(
        csv.reader(io.StringIO(path.read_bytes().decode("utf-16"), newline=""), delimiter="\t")
    )
    for sample in bad.samples:
        assert records[sample.row - 1][3] == "측정거부"
    assert bad.samples[0].row == 19
    assert records[18][4] == "2022-07-01 00:23"
    # Bad cells are null in the table; the rest typed.
    t = r.table
    assert t["alcohol"].null_count == 457
    row19 = t.filter(pc.equal(t[ROW], 19)).to_pylist()[0]
    assert row19["alcohol"] is None and row19["station"] == "영암경찰서"
    assert t.slice(0, 1).to_pylist()[0] == {
        "sex": "남자",
        "count": 1,
        "alcohol": 0.153,
        "measured_at": dt.datetime(2022, 7, 1, 0, 0),
        "station": "아산경찰서",
        ROW: 2,
    }
    assert t.schema.field("measured_at").type == pa.timestamp("us")
    assert [c.rule for c in r.checks if c.kind == CheckKind.types] == ["types:alcohol"]


def test_mois_utf8_bom_and_java_date_formats():
    c = contract(
        col("no", "번호", "integer"),
        col("licensed_on", "인허가일자", "date", format="yyyy.M.d"),
        col("modified_at", "최종수정시점", "timestamp", format="yyyy.M.d HH:mm"),
        col("name", "사업장명"),
    )
    r = read_delivery(real("industry_sme/mois_localdata_edible_ice_sellers.csv"), c)
    assert (r.source.encoding, r.source.rows) == ("utf-8-sig", 1_584)
    assert r.table.slice(0, 1).to_pylist()[0] == {
        "no": 1,
        "licensed_on": dt.date(1973, 6, 12),
        "modified_at": dt.datetime(2013, 9, 25, 10, 38),
        "name": r.table["name"][0].as_py(),
        ROW: 2,
    }
    # A real defect of this file: one licence date written ISO-style, and not a real date.
    bad = check(r, CheckKind.types, "licensed_on")
    assert bad.count == 1
    assert [(s.row, s.values) for s in bad.samples] == [(745, {"licensed_on": "1997-04-31"})]
    assert "yyyy.M.d" in bad.message and "인허가일자" in bad.message
    assert failed(r) == ["schema:extra_columns", "types:licensed_on"]


def test_koica_thousands_separators_to_int64():
    c = contract(
        col("year", "연도", "integer"),
        col("group", "사업분류"),
        col("krw", "지원액_원화", "integer"),
        col("usd", "지원액_달러", "number"),
    )
    r = read_delivery(real("finance_insurance/koica_oda_by_income_group_20210521.csv"), c)
    assert_clean(r)
    assert r.source.rows == 172
    assert r.table.schema.field("krw").type == pa.int64()
    assert r.table.slice(0, 1).to_pylist()[0] == {
        "year": 1991,
        "group": "최빈국(LDCs)",
        "krw": 4_030_339_952,
        "usd": 5_297_503.0,
        ROW: 2,
    }


def test_urban_parks_trailing_empty_column_and_dash_null():
    c = contract(
        col("park_id", "관리번호"),
        col("name", "공원명"),
        col("lat", "위도", "number"),
        col("area_m2", "공원면적", "number"),
        col("amenities", "공원보유시설(편익시설)"),
        null_values=("", "-"),
    )
    r = read_delivery(real("environment_energy/national_urban_parks_standard_data.csv"), c)
    assert_clean(r)
    extra = next(c for c in r.checks if c.rule == "schema:extra_columns")
    assert "unnamed" not in extra.message  # the trailing comma's empty column is ignored
    assert r.source.rows == 18_137
    # 101 cells are '-', 13,053 empty: all null.
    assert r.table["amenities"].null_count == 101 + 13_053
    assert "-" not in r.table["amenities"].to_pylist()
    first = r.table.slice(0, 1).to_pylist()[0]
    assert (first["park_id"], first["name"], first["lat"]) == ("26440-00001", "구랑공원", 35.157215)
    assert first["amenities"] == "화장실"


def test_seoul_air_quality_xlsx_typed_cells():
    c = contract(
        col("measured_on", "측정일시", "date", format="yyyyMMdd"),
        col("station", "측정소명"),
        col("no2_ppm", "이산화질소농도(ppm)", "number"),
        col("pm10", "미세먼지(㎍/㎥)", "integer"),
    )
    r = read_delivery(real("environment_energy/seoul_daily_air_quality_2017.xlsx"), c)
    assert_clean(r)
    assert (r.source.format, r.source.encoding, r.source.rows) == ("xlsx", None, 14_235)
    assert r.table.slice(0, 2).to_pylist() == [
        {
            "measured_on": dt.date(2017, 1, 1),
            "station": "강남구",
            "no2_ppm": 0.04,
            "pm10": 80,
            ROW: 2,
        },
        {
            "measured_on": dt.date(2017, 1, 1),
            "station": "강남대로",
            "no2_ppm": 0.082,
            "pm10": 83,
            ROW: 3,
        },
    ]
    assert r.table[ROW][-1].as_py() == 14_236


def test_header_drift_is_a_schema_error_listing_the_headers():
    c = contract(col("co", "일산화탄소농도(ppm)", "number"), col("station", "측정소명"))
    r = read_delivery(real("environment_energy/seoul_daily_air_quality_2017.xlsx"), c)
    assert r.table is None
    miss = next(c for c in r.checks if c.rule == "schema:missing_columns")
    assert miss.blocking and miss.count == 1
    assert "일산화탄소농도(ppm)" in miss.message and "'이산화탄소농도(ppm)'" in miss.message
    assert miss.hint
    warn = next(c for c in r.checks if c.rule == "schema:extra_columns")
    assert warn.severity == Severity.warning and not warn.blocking
    assert check(r, CheckKind.readable).passed and r.source.rows == 14_235


# --- synthetic files --------------------------------------------------------------------------


def small_contract(**kw: object) -> Contract:
    return contract(
        col("station", "측정소"),
        col("value", "값", "number"),
        col("n", "개수", "integer"),
        col("ok", "정상", "boolean"),
        col("day", "날짜", "date"),
        **kw,
    )


ROWS = [
    {"측정소": "강남구", "값": 1.5, "개수": 3, "정상": True, "날짜": "2024-01-02"},
    {"측정소": "종로구", "값": None, "개수": 4, "정상": False, "날짜": "2024-01-03"},
]
EXPECTED = [
    {"station": "강남구", "value": 1.5, "n": 3, "ok": True, "day": dt.date(2024, 1, 2)},
    {"station": "종로구", "value": None, "n": 4, "ok": False, "day": dt.date(2024, 1, 3)},
]


def without_rows(table: pa.Table) -> list[dict]:
    return table.drop_columns([ROW]).to_pylist()


def test_json_lines(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n\n")
    r = read_delivery(path, small_contract())
    assert_clean(r)
    assert (r.source.format, r.source.rows) == ("jsonl", 2)
    assert without_rows(r.table) == EXPECTED
    assert r.table[ROW].to_pylist() == [1, 2]  # JSON Lines: line numbers


def test_json_lines_bad_line(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"측정소": "a"}\n{"측정소": \n')
    r = read_delivery(path, small_contract())
    assert r.table is None and failed(r) == ["readable:json"]
    assert r.checks[0].samples[0].row == 2


def test_parquet(tmp_path: Path):
    path = tmp_path / "d.csv"  # the extension lies; the content decides
    table = pa.Table.from_pylist(ROWS)
    table = table.set_column(
        4, "날짜", pc.cast(pc.strptime(table["날짜"], "%Y-%m-%d", "s"), pa.date32())
    )
    pq.write_table(table, path)
    r = read_delivery(path, small_contract())
    assert_clean(r)
    assert (r.source.format, r.source.rows) == ("parquet", 2)
    assert without_rows(r.table) == EXPECTED
    assert r.table[ROW].to_pylist() == [1, 2]


def test_semicolon_csv_nfd_headers_and_lakehouse_names(tmp_path: Path):
    nfd = unicodedata.normalize("NFD", "측정소")  # as macOS writes file names and text
    path = tmp_path / "d.txt"
    path.write_text(
        f'" {nfd} ";값;n;정상;날짜\n강남구;"1,234.5";1.0;예;2024-01-02\n종로구;;2;N;\n',
        encoding="utf-8",
    )
    r = read_delivery(path, small_contract())
    assert_clean(r)
    assert r.source.delimiter == ";"
    assert without_rows(r.table) == [
        {"station": "강남구", "value": 1234.5, "n": 1, "ok": True, "day": dt.date(2024, 1, 2)},
        {"station": "종로구", "value": None, "n": 2, "ok": False, "day": None},
    ]


def test_cast_rules_and_failures(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text(
        "측정소,값,개수,정상,날짜\n"
        "a, 12 ,1.5,maybe,2024-13-01\n"
        'b,12kg,"1,000",1,2024-02-29\n'
        "-,n/a,9999,아니오,-\n",
        encoding="cp949",
    )
    r = read_delivery(path, small_contract(null_values=("", "-", "9999")))
    assert r.source.encoding == "cp949"
    assert without_rows(r.table) == [
        {"station": "a", "value": 12.0, "n": None, "ok": None, "day": None},
        {"station": "b", "value": None, "n": 1000, "ok": True, "day": dt.date(2024, 2, 29)},
        {"station": None, "value": None, "n": None, "ok": False, "day": None},
    ]
    fails = {c.column: c for c in r.checks if c.kind == CheckKind.types}
    assert set(fails) == {"value", "n", "ok", "day"}
    assert fails["value"].count == 2
    assert [(s.row, s.values) for s in fails["value"].samples] == [
        (3, {"value": "12kg"}),
        (4, {"value": "n/a"}),
    ]
    assert [(s.row, s.values) for s in fails["n"].samples] == [(2, {"n": "1.5"})]
    assert fails["ok"].samples[0].values == {"ok": "maybe"}
    assert fails["day"].count == 1 and "yyyy-MM-dd" in fails["day"].hint
    assert not any(c.passed for c in r.checks if c.kind == CheckKind.types)


def test_missing_and_duplicate_headers(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("측정소,값,값,기타\nx,1,2,3\n", encoding="utf-8")
    r = read_delivery(path, small_contract())
    assert r.table is None
    rules = failed(r)
    assert "schema:duplicate_headers" in rules and "schema:missing_columns" in rules
    miss = next(c for c in r.checks if c.rule == "schema:missing_columns")
    assert miss.count == 3 and "'개수' (n)" in miss.message and "'기타'" in miss.message
    assert check(r, CheckKind.readable).passed


def test_extra_named_column_is_a_warning(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("측정소,메모,\nx,hello,\n", encoding="utf-8")
    r = read_delivery(path, contract(col("station", "측정소")))
    assert r.table is not None and r.table.to_pylist() == [{"station": "x", ROW: 2}]
    warn = next(c for c in r.checks if c.rule == "schema:extra_columns")
    assert warn.severity == Severity.warning and "'메모'" in warn.message
    assert warn.count == 1  # the unnamed empty column is not reported


def test_invalid_utf8_byte_names_offset_and_line(tmp_path: Path):
    path = tmp_path / "d.csv"
    good = "측정소\n" + "강남구\n" * 100
    data = good.encode() + b"\xed\x95" + b"\n"  # a cut-off 한 on line 102
    path.write_bytes(data)
    r = read_delivery(path, contract(col("station", "측정소")))
    assert r.table is None
    fail = r.checks[0]
    assert fail.rule == "readable:encoding" and fail.blocking
    assert f"byte offset {len(good.encode()):,}" in fail.message and "line 102" in fail.message
    assert "utf-8" in fail.message
    assert "UTF-8 or CP949" in fail.hint


def test_invalid_cp949_byte(tmp_path: Path):
    path = tmp_path / "d.csv"
    good = ("측정소\n" + "강남구\n" * 10).encode("cp949")
    path.write_bytes(good + b"\xff\xff\n")
    r = read_delivery(path, contract(col("station", "측정소")))
    assert r.table is None and failed(r) == ["readable:encoding"]
    assert "cp949" in r.checks[0].message and "line 12" in r.checks[0].message
    assert f"{len(good):,}" in r.checks[0].message


@pytest.mark.parametrize("content", [b"", b"  \r\n", "측정소\r\n".encode("cp949")])
def test_empty_and_header_only(tmp_path: Path, content: bytes):
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    r = read_delivery(path, contract(col("station", "측정소")))
    assert r.table is None
    assert failed(r) == ["readable:empty"] and r.checks[0].blocking


def test_ragged_row_reports_record_number(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text('a,b\n1,"x\ny"\n2,3,4\n5,6\n', encoding="utf-8")
    r = read_delivery(path, contract(col("a"), col("b")))
    assert r.table is None
    fail = r.checks[0]
    assert fail.rule == "readable:rows"
    assert "row 3" in fail.message  # records: the quoted newline does not count
    assert fail.samples[0].row == 3 and fail.samples[0].values["fields"] == 3


def test_xlsx_that_is_really_csv(tmp_path: Path):
    path = tmp_path / "d.xlsx"
    path.write_bytes("측정소\t값\n강남구\t1\n".encode("cp949"))
    r = read_delivery(path, contract(col("station", "측정소"), col("v", "값", "integer")))
    assert_clean(r)
    assert (r.source.format, r.source.delimiter) == ("csv", "\t")
    assert r.table.to_pylist() == [{"station": "강남구", "v": 1, ROW: 2}]


def test_xlsx_sheet_rows_and_mixed_cells(tmp_path: Path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A3"], sheet["B3"], sheet["C3"] = "코드", "날짜", "값"
    sheet.append([123, dt.datetime(2024, 1, 2), 1.5])
    sheet.append(["00456", dt.datetime(2024, 1, 3), "측정거부"])
    sheet.append([None, None, None])
    sheet.append([789, dt.datetime(2024, 1, 4), 2])
    path = tmp_path / "d.xlsx"
    book.save(path)
    r = read_delivery(
        path, contract(col("code", "코드"), col("day", "날짜", "date"), col("v", "값", "number"))
    )
    assert r.source.format == "xlsx"
    assert r.table.to_pylist() == [
        {"code": "123", "day": dt.date(2024, 1, 2), "v": 1.5, ROW: 4},
        {"code": "00456", "day": dt.date(2024, 1, 3), "v": None, ROW: 5},
        {"code": "789", "day": dt.date(2024, 1, 4), "v": 2.0, ROW: 7},
    ]
    bad = check(r, CheckKind.types, "v")
    assert bad.count == 1 and bad.samples[0].row == 5


def test_unrecognisable_binary_and_missing_file(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_bytes(bytes(range(256)) * 4)
    r = read_delivery(path, contract(col("a")))
    assert r.table is None and r.checks[0].kind == CheckKind.readable and r.checks[0].blocking
    r = read_delivery(tmp_path / "nope.csv", contract(col("a")))
    assert failed(r) == ["readable:missing"]


def test_java_formats():
    assert java_to_strptime("yyyy-MM-dd HH:mm:ss") == "%Y-%m-%d %H:%M:%S"
    assert java_to_strptime("yyyyMMdd") == "%Y%m%d"
    assert java_to_strptime("yyyy.M.d H:mm") == "%Y.%-m.%-d %-H:%M"
    assert java_to_strptime("yyyy-MM-dd'T'HH") == "%Y-%m-%dT%H"
