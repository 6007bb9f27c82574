"""Drafting a contract from a sample file: the shipped real files and small synthetic ones.

Every draft must load (`parse_contract`), pass `contracts.lint` and, read back by the gate, let
its own file through: types, required, code sets and ranges come from the file itself.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from contracts.lint import lint
from contracts.loader import load_contract, parse_contract
from contracts.model import Classification, Contract, LogicalType
from quality.drafting import draft_contract, read_text, spread_sample
from quality.gate import run_gate
from quality.privacy.detectors import detect_identifiers
from quality.romanisation import column_name, romanise, unique_names
from sectors.registry import Registry, default_registry
from tests.conftest import REPO, data_file
from tests.gongyu.test_cli import gongyu

POLICE = "welfare_safety/police_drunk_driving_detections_202207.csv"
ICE = "industry_sme/mois_localdata_edible_ice_sellers.csv"
AIR_XLSX = "environment_energy/seoul_daily_air_quality_2017.xlsx"
SHIPPED = REPO / "contracts"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def drafted(relative: str, registry: Registry, **kw: str) -> tuple[str, Contract]:
    text = draft_contract(data_file(relative), registry=registry, **kw)  # type: ignore[arg-type]
    return text, parse_contract(text, Path("draft.yaml"), registry)


def lint_clean(text: str, tmp_path: Path, dataset: str, registry: Registry) -> None:
    """`contracts.lint` (Gongyu's loader, datacontract-cli, sanity) finds nothing in the draft."""
    path = tmp_path / f"{dataset}.yaml"
    path.write_text(text, encoding="utf-8")
    issues = lint([path], registry, root=tmp_path / "elsewhere")
    assert issues == [], "\n".join(map(str, issues))


def by_physical(contract: Contract) -> dict[str, Classification]:
    return {c.physical_name: c.classification for c in contract.columns}


@pytest.fixture(scope="module")
def police(registry: Registry) -> tuple[str, Contract]:
    return drafted(
        POLICE,
        registry,
        agency="knpa",
        dataset="police_drunk_driving_detections",
        cadence="month",
    )


def test_police_draft_loads_lints_and_matches_the_hand_written_privacy(
    police: tuple[str, Contract], registry: Registry, tmp_path: Path
) -> None:
    text, draft = police
    lint_clean(text, tmp_path, "police_drunk_driving_detections", registry)
    shipped = load_contract(SHIPPED / "welfare_safety/knpa/police_drunk_driving_detections.yaml")
    mine, theirs = by_physical(draft), by_physical(shipped)
    assert set(mine) == set(theirs)  # the same six headers, kept as physicalName
    for header in ("성별", "나이", "측정일시", "관할경찰서"):
        assert mine[header] == theirs[header] == Classification.quasi_identifier, header
    assert draft.access.value == "restricted"
    assert draft.privacy.k == 5
    assert draft.privacy.generalise["age"] == "age_band_5"
    assert draft.privacy.generalise["measured_datetime"] == "month"
    assert draft.privacy.generalise["jurisdiction_police_station"] == "suppress"
    # `불명` (unknown) is what kept 나이 from being whole numbers: it is the contract's null.
    assert "불명" in draft.null_values
    age = draft.column("age")
    assert age.logical_type == LogicalType.integer and not age.required
    detected = draft.column("measured_datetime")
    assert (detected.logical_type, detected.format) == (LogicalType.timestamp, "yyyy-MM-dd HH:mm")
    assert draft.column("sex").enum == ("남자", "여자")
    assert draft.column("detection_count").minimum == 1
    assert draft.primary_key == []  # nothing identifies a detection: no key is made up


def test_police_draft_names_agency_team_and_cadence(police: tuple[str, Contract]) -> None:
    text, draft = police
    assert (draft.version, draft.odcs.status) == ("1.0.0", "draft")
    assert (draft.sector, draft.agency, draft.steward) == (
        "welfare_safety",
        "knpa",
        "data@police.go.kr",
    )
    assert draft.approval.policy.value == "owner"
    assert draft.sla.frequency is not None and draft.sla.frequency.days == 31
    header = text.split("apiVersion:")[0]
    assert "초안" in header and "DRAFT" in header and "# suggested:" in header
    names = [c.name for c in draft.columns]
    assert all(n.isascii() and n == n.lower() and " " not in n for n in names)
    classified = [line for line in text.splitlines() if "property: classification" in line]
    quasi = [line for line in classified if "quasi_identifier" in line]
    assert len(quasi) == 4 and all("# suggested:" in line for line in quasi)


def test_a_draft_lets_its_own_file_through_the_gate(
    police: tuple[str, Contract], registry: Registry
) -> None:
    _, draft = police
    run = run_gate(data_file(POLICE), draft)
    failed = [c.message for c in run.result.checks if not c.passed]
    assert run.result.passed, failed
    # k=5 holds after generalisation, the few rows in smaller classes withheld (≤ 1%).
    assert draft.privacy.max_suppressed == 0.01


def test_ice_sellers_phone_numbers_are_an_offices_published_contact(
    registry: Registry, tmp_path: Path
) -> None:
    text, draft = drafted(ICE, registry, agency="mois", dataset="mois_localdata_edible_ice_sellers")
    lint_clean(text, tmp_path, "mois_localdata_edible_ice_sellers", registry)
    # The detector recognises the column's numbers that carry separators as landline numbers.
    with read_text(data_file(ICE)) as read:
        sample = spread_sample(read)
        at = read.headers.index("소재지전화")
    found = detect_identifiers(pa.table({"phone": sample[f"c{at}"]}))
    assert [d.detector for d in found] == ["landline_phone"]
    # In a register of businesses (사업장명) they are the businesses' own numbers: shared as is,
    # as the hand-written contract has it, with the detector's kind allowed and a note to check.
    phone = next(c for c in draft.columns if c.physical_name == "소재지전화")
    shipped = load_contract(SHIPPED / "industry_sme/mois/mois_localdata_edible_ice_sellers.yaml")
    theirs = next(c for c in shipped.columns if c.physical_name == "소재지전화")
    assert phone.classification == theirs.classification == Classification.none
    assert phone.allowed_identifiers == theirs.allowed_identifiers
    line = next(line for line in text.splitlines() if "value: none}  # suggested: the det" in line)
    assert "landline_phone" in line and "direct_identifier" in line
    assert draft.access.value == "public"
    assert draft.primary_key == ["management_no"]  # 관리번호, not the row number 번호
    assert draft.column("closure_date").format == "yyyy.M.d"
    assert run_gate(data_file(ICE), draft).result.passed


def test_xlsx_drafts_dates_and_numbers(registry: Registry, tmp_path: Path) -> None:
    text, draft = drafted(AIR_XLSX, registry, agency="seoul", dataset="seoul_air_2017")
    lint_clean(text, tmp_path, "seoul_air_2017", registry)
    measured = draft.column("measured_datetime")
    assert (measured.logical_type, measured.format) == (LogicalType.date, "yyyyMMdd")
    assert measured.minimum == "2017-01-01" and measured.maximum == "2017-12-31"
    kinds = {c.physical_name: c.logical_type for c in draft.columns}
    assert kinds["이산화질소농도(ppm)"] == LogicalType.number
    assert kinds["미세먼지(㎍/㎥)"] == LogicalType.integer
    assert draft.column("pm10_ug_m3").minimum is not None
    assert draft.primary_key == ["measured_datetime", "station_name"]
    assert draft.sector == "environment_energy"  # seoul's first sector in sectors.yaml
    assert draft.sla.frequency is None  # no cadence stated, no SLA made up
    assert run_gate(data_file(AIR_XLSX), draft).result.passed


def test_an_unreadable_file_is_one_line_naming_it(registry: Registry, tmp_path: Path) -> None:
    junk = tmp_path / "scan.csv"
    junk.write_bytes(b"\x00\x01\x02\x03binary\x00\x00" * 50)
    with pytest.raises(ValueError, match=r"^scan\.csv") as err:
        draft_contract(junk, agency="knpa", dataset="scan", registry=registry)
    assert "\n" not in str(err.value) and "CSV" in str(err.value)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5,6\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^ragged\.csv: .*field") as err:
        draft_contract(ragged, agency="knpa", dataset="ragged", registry=registry)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"no such file"):
        draft_contract(tmp_path / "gone.csv", agency="knpa", dataset="gone", registry=registry)


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"agency": "nobody", "dataset": "x"}, "unknown agency 'nobody'"),
        ({"agency": "knpa", "dataset": "Bad-Id"}, "snake_case"),
        ({"agency": "knpa", "dataset": "cases_v2"}, "_v<number>"),
        ({"agency": "knpa", "dataset": "x", "sector": "industry_sme"}, "not a member"),
        ({"agency": "knpa", "dataset": "x", "cadence": "hourly"}, "unknown cadence"),
    ],
)
def test_bad_requests_name_the_file_and_the_fix(
    kw: dict[str, str], says: str, registry: Registry
) -> None:
    with pytest.raises(ValueError, match=r"^police_drunk") as err:
        draft_contract(data_file(POLICE), registry=registry, **kw)  # type: ignore[arg-type]
    assert says in str(err.value)


def people_rows(n: int = 80) -> list[dict[str, str]]:
    """Synthetic person-level rows: a mobile number, sex, age, a Y/N flag, a date, an amount."""
    return [
        {
            "접수번호": f"R-{i:05d}",
            "휴대전화": f"010-{1000 + i:04d}-{5000 + i:04d}",
            "성별": "남" if i % 2 else "여",
            "연령": str(20 + i % 50),
            "수급여부": "Y" if i % 3 else "N",
            "신청일자": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "지원금액": f"{(i + 1) * 1000:,}",
        }
        for i in range(n)
    ]


def write(tmp_path: Path, kind: str, rows: list[dict[str, str]]) -> Path:
    if kind == "parquet":
        path = tmp_path / "people.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        return path
    if kind == "jsonl":
        path = tmp_path / "people.jsonl"
        lines = (json.dumps(r, ensure_ascii=False) for r in rows)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    encoding = {"csv-utf8": "utf-8-sig", "csv-cp949": "cp949", "csv-utf16": "utf-16"}[kind]
    path = tmp_path / "people.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("kind", ["csv-utf8", "csv-cp949", "csv-utf16", "parquet", "jsonl"])
def test_every_format_the_gate_reads(kind: str, registry: Registry, tmp_path: Path) -> None:
    path = write(tmp_path, kind, people_rows())
    text = draft_contract(path, agency="nhis", dataset="benefits", registry=registry)
    draft = parse_contract(text, Path("draft.yaml"), registry)
    kinds = {c.physical_name: (c.logical_type, c.classification) for c in draft.columns}
    assert kinds["휴대전화"] == (LogicalType.string, Classification.direct_identifier)
    assert kinds["성별"] == (LogicalType.string, Classification.quasi_identifier)
    assert kinds["연령"] == (LogicalType.integer, Classification.quasi_identifier)
    assert kinds["수급여부"][0] == LogicalType.boolean
    assert kinds["신청일자"] == (LogicalType.date, Classification.quasi_identifier)
    assert kinds["지원금액"] == (LogicalType.integer, Classification.none)  # 1,000 → 1000
    assert draft.primary_key == ["jeopsu_no"]
    assert draft.access.value == "restricted"
    assert draft.privacy.k == 5
    # 80 rows are too few for k=5 at 5-year bands and months: the draft went one step coarser.
    assert draft.privacy.generalise == {"age": "age_band_10", "sincheong_date": "year"}
    assert set(draft.column("sex").enum or ()) == {"남", "여"}
    gate = run_gate(path, draft)
    assert gate.result.passed, [c.message for c in gate.result.checks if not c.passed]


def test_a_value_outside_the_sample_makes_the_column_text(
    registry: Registry, tmp_path: Path
) -> None:
    rows = [{"번호": str(i), "수량": str(i % 7)} for i in range(1, 3001)]
    rows[1234]["수량"] = "없음?"  # one word among the numbers, likely outside a 100-row sample
    path = tmp_path / "counts.csv"
    path.write_text(
        "번호,수량\n" + "".join(f"{r['번호']},{r['수량']}\n" for r in rows), encoding="utf-8"
    )
    text = draft_contract(
        path, agency="kosme", dataset="counts", registry=registry, sample_rows=100
    )
    draft = parse_contract(text, Path("draft.yaml"), registry)
    assert draft.column("suryang").logical_type == LogicalType.string
    assert "# suggested: 1 value(s) outside the sample are not integer" in text
    assert run_gate(path, draft).result.passed


def test_the_yaml_is_what_it_means(registry: Registry, tmp_path: Path) -> None:
    """Awkward headers and values (quotes, colons, newlines, YAML words) survive the emitter."""
    rows = [
        {"이름: 별칭": "yes", "메모\n(여러 줄)": f"'{i}' # not a comment", "null": "-"}
        for i in range(60)
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "awkward.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    text = draft_contract(path, agency="kosme", dataset="awkward", registry=registry)
    raw = yaml.safe_load(text)
    headers = [p["physicalName"] for p in raw["schema"][0]["properties"]]
    assert headers == ["이름: 별칭", "메모\n(여러 줄)", "null"]
    draft = parse_contract(text, Path("draft.yaml"), registry)
    assert draft.columns[1].examples == ("'0' # not a comment",)


def test_romanisation() -> None:
    assert romanise("한국어") == "hangugeo"  # liaison
    assert romanise("일련") == "illyeon"  # ㄹㄹ → ll
    assert romanise("감전동") == "gamjeondong"
    assert column_name("측정일시") == "measured_datetime"
    assert column_name("적발횟수") == "detection_count"
    assert column_name("미세먼지(㎍/㎥)") == "pm10_ug_m3"
    assert column_name("판매업종류") == "panmaeeop_kind"  # fewest romanised syllables
    assert column_name("시·도") == "sido"
    assert column_name("5시30분") == "t0530"
    assert column_name("2015년") == "c_2015_nyeon"  # never starts with a digit
    assert unique_names(["시도", "시·도", "", "  "]) == ["sido", "sido_2", "column_3", "column_4"]


def test_cli_prints_the_draft_and_errors_in_one_line(tmp_path: Path) -> None:
    done = gongyu(
        "contracts",
        "draft",
        f"data/{POLICE}",
        "--agency",
        "knpa",
        "--dataset",
        "police_drunk_driving_detections",
        "--cadence",
        "month",
    )
    assert done.returncode == 0, done.stderr
    draft = parse_contract(done.stdout, Path("draft.yaml"))
    assert draft.id == "police_drunk_driving_detections" and draft.sla.frequency is not None
    junk = tmp_path / "scan.csv"
    junk.write_bytes(b"\x00\x01\x02binary" * 40)
    failed = gongyu("contracts", "draft", str(junk), "--agency", "knpa", "--dataset", "scan")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith("error: scan.csv") and failed.stderr.count("\n") == 1
