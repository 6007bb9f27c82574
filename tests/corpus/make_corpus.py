"""A corpus of malformed deliveries, generated from the shipped real files (or from scratch).

Each `Case` says how to build the bytes, the dataset it is delivered to, and the quarantine
reason it must end with: the failing check's rule (prefix), and where it applies the column and
the sample row numbers. Files are generated into a temporary folder at run time; nothing here
is committed but this script. `tests/corpus/test_corpus.py` runs every case through the real
pipeline; `python -m tests.corpus.make_corpus --run` runs the full corpus and prints its figure.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.memory import own_peak_rss as peak_rss

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
KOICA = "koica_oda_by_income_group"
AIR = "seoul_daily_air_quality"
KOICA_FILE = DATA / "finance_insurance/koica_oda_by_income_group_20210521.csv"
AIR_FILE = DATA / "environment_energy/seoul_daily_air_quality_2022.csv"
AIR_ROWS = 300  # the air-quality deliveries are the file's first rows
# Bounded memory: no case may take a process past 1 GiB. A record longer than a parse block
# is cut a block past a segment, and a header wider than Excel's is refused before parsing.
MAX_RSS_BYTES = 1 << 30
MB = 1 << 20


def koica_rows() -> list[list[str]]:
    """The real KOICA file (CP949, quoted amounts with thousands separators) as rows."""
    text = KOICA_FILE.read_bytes().decode("cp949")
    return [r for r in csv.reader(io.StringIO(text, newline="")) if r]


def air_rows() -> list[list[str]]:
    """The first rows of the real Seoul air-quality file (CP949)."""
    text = AIR_FILE.read_bytes().decode("cp949")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    return rows[: AIR_ROWS + 1]


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def koica_text() -> str:
    return to_csv(koica_rows())


def edited(rows: list[list[str]], row: int, col: int, value: str) -> list[list[str]]:
    """A copy of `rows` with the cell at source row `row` (header = 1) set to `value`."""
    rows = [list(r) for r in rows]
    rows[row - 1][col] = value
    return rows


def bad_koica(value: str = "3개", row: int = 5, col: int = 2) -> str:
    """KOICA text with one amount (`amount_krw`, source row 5) that will not cast."""
    return to_csv(edited(koica_rows(), row, col, value))


def lines_of(text: str) -> list[str]:
    return text.split("\r\n")


def splice(text: str, row: int, line: str) -> str:
    """`text` with source line `row` (1-based) replaced by `line`."""
    lines = lines_of(text)
    lines[row - 1] = line
    return "\r\n".join(lines)


def xlsx(rows: list[list[object]], *, merged: str | None = None, top: list | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    if top is not None:
        sheet.append(top)
    for r in rows:
        sheet.append(r)
    if merged:
        sheet.merge_cells(merged)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def koica_typed() -> list[list[object]]:
    """KOICA rows with the numbers as numbers, as a spreadsheet would hold them."""
    rows = koica_rows()
    body = [
        [int(r[0]), r[1], int(r[2].replace(",", "")), int(r[3].replace(",", ""))] for r in rows[1:]
    ]
    return [rows[0], *body]


def bomb_zip(member: str, size: int, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip whose `member` expands to `size` bytes of zeros (a few KiB compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        with z.open(member, "w", force_zip64=True) as f:
            chunk = b"\0" * MB
            for _ in range(size // MB):
                f.write(chunk)
    return out.getvalue()


def xlsx_bomb(rows: int) -> bytes:
    """A valid workbook whose sheet XML holds `rows` identical rows: tiny zipped, huge unzipped."""
    base = zipfile.ZipFile(io.BytesIO(xlsx(koica_typed()[:2])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for info in base.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info.filename, base.read(info))
        head = (
            b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxml'
            b'formats.org/spreadsheetml/2006/main"><sheetData>'
        )
        cell = b'<c t="inlineStr"><is><t>1991</t></is></c>'
        row = b"<row>" + cell * 2 + b"</row>"
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(head)
            block = row * 10_000
            for _ in range(rows // 10_000):
                f.write(block)
            f.write(b"</sheetData></worksheet>")
    return out.getvalue()


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0\0"))
        + chunk(b"IEND", b"")
    )


def parquet(rows: list[list[str]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def jsonl(rows: list[list[str]]) -> str:
    return "".join(
        json.dumps(dict(zip(rows[0], r, strict=True)), ensure_ascii=False) + "\n" for r in rows[1:]
    )


def big_line(path: Path) -> None:
    """A header, then one 100 MB line (no line break) of digits: 100 MB of `year`."""
    with open(path, "wb") as f:
        f.write(lines_of(koica_text())[0].encode("utf-8") + b"\r\n")
        for _ in range(100):
            f.write(b"7" * MB)


def big_header(path: Path) -> None:
    """A 100 MB first line of commas: a header with millions of empty column names."""
    with open(path, "wb") as f:
        for _ in range(100):
            f.write(b"a," * (MB // 2))


@dataclass(frozen=True)
class Case:
    """One malformed delivery and the quarantine reason it must end with."""

    name: str
    build: Callable[[], bytes | str] | Callable[[Path], None]
    rule: str  # the failing check's rule, or its prefix ending in ':'
    column: str | None = None  # the failing check's column, where it has one
    rows: tuple[int, ...] = ()  # sample row numbers the report must name
    dataset: str = KOICA
    suffix: str = ".csv"
    encoding: str = "cp949"  # how a `str` build is written
    slow: bool = False  # big files: written to disk by `build(path)`, run in a child process
    too_large: bool = False  # refused at `deliver` by `max_delivery_bytes`

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        if self.slow:
            self.build(path)  # type: ignore[call-arg]
            return path
        data = self.build()  # type: ignore[call-arg]
        path.write_bytes(data.encode(self.encoding) if isinstance(data, str) else data)
        return path


K = koica_text
H = lambda: lines_of(koica_text())[0]  # noqa: E731 - the KOICA header line

CASES: list[Case] = [
    # --- wrong and mixed encodings ----------------------------------------------------------
    Case(
        "cp949_row_in_utf8",
        lambda: K().encode("utf-8").replace("2000,최빈국".encode(), "2000,최빈국".encode("cp949")),
        "readable:encoding",
        rows=(56,),
    ),
    Case(
        "utf8_row_in_cp949",
        lambda: K().encode("cp949").replace("2000,최빈국".encode("cp949"), "2000,최빈국".encode()),
        "readable:encoding",
    ),
    Case(
        "invalid_utf8_sequence",
        lambda: K().encode("utf-8").replace(b"1995,", b"19\xc3\x2895,", 1),
        "readable:encoding",
        rows=(26,),
    ),
    Case(
        "invalid_cp949_sequence",
        lambda: K().encode("cp949").replace(b"1995,", b"19\x80\xff95,", 1),
        "readable:encoding",
        rows=(26,),
    ),
    Case(
        "utf16le_no_bom",
        lambda: bad_koica().encode("utf-16-le"),
        "types:amount_krw",
        "amount_krw",
        (5,),
    ),
    Case(
        "utf16be_no_bom",
        lambda: bad_koica().encode("utf-16-be"),
        "types:amount_krw",
        "amount_krw",
        (5,),
    ),
    Case(
        "utf16le_bom", lambda: bad_koica().encode("utf-16"), "types:amount_krw", "amount_krw", (5,)
    ),
    Case("utf32_bom", lambda: bad_koica().encode("utf-32"), "types:amount_krw", "amount_krw", (5,)),
    Case(
        "utf32le_no_bom",
        lambda: bad_koica().encode("utf-32-le"),
        "types:amount_krw",
        "amount_krw",
        (5,),
    ),
    Case(
        "utf8_bom_bad_value",
        lambda: bad_koica().encode("utf-8-sig"),
        "types:amount_krw",
        "amount_krw",
        (5,),
    ),
    Case(
        "double_bom",
        lambda: b"\xef\xbb\xbf" + bad_koica().encode("utf-8-sig"),
        "types:amount_krw",
        "amount_krw",
        (5,),
    ),
    Case(
        "bom_mid_file",
        lambda: K().replace("\r\n1995,", "\r\n\ufeff1995,", 1).encode("utf-8"),
        "types:year",
        "year",
        (26,),
    ),
    Case("utf16_bom_on_utf8", lambda: b"\xff\xfe" + K().encode("utf-8"), "readable:"),
    Case(
        "latin1_header",
        lambda: "year,group,krw,usd\r\n1991,caf\xe9,1,2\r\n".encode("latin-1"),
        "readable:encoding",
        rows=(2,),
    ),
    # --- truncated ------------------------------------------------------------------------------
    Case(
        "cut_mid_row",
        lambda: K().encode("cp949")[: K().encode("cp949").rindex(b",")],
        "readable:quote",
        rows=(173,),
    ),
    Case(
        "cut_mid_multibyte_cp949",
        lambda: K().encode("cp949").rstrip(b"\r\n")[:-0] + b"\r\n1991,\xc3",
        "readable:encoding",
    ),
    Case(
        "cut_mid_multibyte_utf8",
        lambda: K().encode("utf-8") + "2020,최빈".encode()[:-1],
        "readable:encoding",
    ),
    Case("cut_mid_quote", lambda: K().encode("cp949") + b'2020,\xc3\xd6,"4,030', "readable:"),
    Case(
        "cut_after_header_quote", lambda: '연도,사업분류,"지원액_원화'.encode("cp949"), "readable:"
    ),
    # --- ragged rows, quotes ------------------------------------------------------------------
    Case(
        "too_many_fields",
        lambda: splice(K(), 10, "1992,미분류,1,2,3,4"),
        "readable:rows",
        rows=(10,),
    ),
    Case("too_few_fields", lambda: splice(K(), 20, "1994,미분류"), "readable:rows", rows=(20,)),
    Case(
        "many_ragged_rows",
        lambda: "\r\n".join(
            ln + (",x" if i % 7 == 3 else "") for i, ln in enumerate(lines_of(K()))
        ),
        "readable:rows",
        rows=(4, 11, 18),
    ),
    Case("unbalanced_quote_mid_file", lambda: splice(K(), 30, '1995,"미분류,1,2'), "readable:"),
    Case(
        "stray_quote_in_value",
        lambda: splice(K(), 12, '19"92,미분류,1,2'),
        "types:year",
        "year",
        (12,),
    ),
    Case(
        "semicolon_delimited_ragged",
        lambda: K().replace(",", ";").replace(";미분류;", ";미분류;x;", 1),
        "readable:rows",
    ),
    Case("header_only_line_no_break", lambda: H(), "readable:empty"),
    # --- NULs -------------------------------------------------------------------------------------
    Case(
        "nul_in_value",
        lambda: K().encode("utf-8").replace(b"1995,", b"19\x0095,", 1),
        "readable:nul",
        rows=(26,),
    ),
    Case(
        "nul_run_in_middle",
        lambda: K().encode("cp949").replace(b"\r\n2001,", b"\r\n" + b"\0" * 256 + b"2001,", 1),
        "readable:nul",
    ),
    # --- headers, empty -------------------------------------------------------------------------
    Case("duplicate_header", lambda: K().replace("지원액_달러", "지원액_원화", 1), "schema:"),
    Case("missing_column", lambda: to_csv([r[:3] for r in koica_rows()]), "schema:"),
    Case(
        "renamed_headers",
        lambda: to_csv([["year", "group", "krw", "usd"], *koica_rows()[1:]]),
        "schema:",
    ),
    Case("empty_file", lambda: b"", "readable:empty"),
    Case("whitespace_only", lambda: b" \r\n\r\n\t\r\n", "readable:empty"),
    Case("bom_only", lambda: b"\xef\xbb\xbf", "readable:empty"),
    Case("header_only", lambda: H() + "\r\n", "readable:empty"),
    Case("header_then_blank_lines", lambda: H() + "\r\n\r\n\r\n", "readable:empty"),
    # --- types, ranges, keys -----------------------------------------------------------------
    Case("count_with_unit", lambda: bad_koica("3개"), "types:amount_krw", "amount_krw", (5,)),
    Case("year_decimal", lambda: bad_koica("1991.5", 7, 0), "types:year", "year", (7,)),
    Case("year_word", lambda: bad_koica("작년", 9, 0), "types:year", "year", (9,)),
    Case(
        "integer_overflow",
        lambda: bad_koica("9" * 30, 11, 3),
        "types:amount_usd",
        "amount_usd",
        (11,),
    ),
    Case("year_out_of_range", lambda: bad_koica("0", 13, 0), "range:year", "year", (13,)),
    Case(
        "negative_amount", lambda: bad_koica("-5", 15, 2), "range:amount_krw", "amount_krw", (15,)
    ),
    Case(
        "enum_violation",
        lambda: bad_koica("중소득국", 17, 1),
        "enum:income_group",
        "income_group",
        (17,),
    ),
    Case(
        "required_missing", lambda: bad_koica("", 19, 3), "required:amount_usd", "amount_usd", (19,)
    ),
    Case(
        "duplicate_rows",
        lambda: to_csv([*koica_rows(), *koica_rows()[1:4]]),
        "primary_key:",
        rows=(174, 175, 176),
    ),
    Case(
        "duplicate_key_other_values",
        lambda: to_csv([*koica_rows(), ["1991", "미분류", "1", "2"]]),
        "primary_key:",
        rows=(174,),
    ),
    Case(
        "date_month_13",
        lambda: to_csv(edited(air_rows(), 4, 0, "20221345")),
        "types:measured_on",
        "measured_on",
        (4,),
        dataset=AIR,
    ),
    Case(
        "date_zero",
        lambda: to_csv(edited(air_rows(), 6, 0, "00000000")),
        "types:measured_on",
        "measured_on",
        (6,),
        dataset=AIR,
    ),
    Case(
        "date_iso_out_of_range",
        lambda: to_csv(edited(air_rows(), 8, 0, "2022-13-45")),
        "types:measured_on",
        "measured_on",
        (8,),
        dataset=AIR,
    ),
    Case(
        "date_feb_30",
        lambda: to_csv(edited(air_rows(), 10, 0, "20220230")),
        "types:measured_on",
        "measured_on",
        (10,),
        dataset=AIR,
    ),
    Case(
        "date_iso_zero",
        lambda: to_csv(edited(air_rows(), 12, 0, "0000-00-00")),
        "types:measured_on",
        "measured_on",
        (12,),
        dataset=AIR,
    ),
    # --- spreadsheets -------------------------------------------------------------------------
    Case(
        "xlsx_merged_header",
        lambda: xlsx(koica_typed()[1:], top=["KOICA ODA", None, None, None], merged="A1:D1"),
        "schema:",
        suffix=".xlsx",
    ),
    Case(
        "xlsx_formulas",
        lambda: xlsx([*koica_typed(), [2020, "미분류", "=C2*2", "=D2+D3"]]),
        "required:amount_krw",
        "amount_krw",
        (174,),
        suffix=".xlsx",
    ),
    Case(
        "xlsx_bad_value",
        lambda: xlsx(edited(koica_typed(), 5, 2, "3개")),
        "types:amount_krw",
        "amount_krw",
        (5,),
        suffix=".xlsx",
    ),
    Case(
        "xlsx_named_csv",
        lambda: xlsx(edited(koica_typed(), 6, 3, "n/a")),
        "types:amount_usd",
        "amount_usd",
        (6,),
    ),
    Case("xlsx_empty_sheet", lambda: xlsx([]), "readable:empty", suffix=".xlsx"),
    Case("xlsx_bomb", lambda: xlsx_bomb(5_000_000), "readable:bomb", suffix=".xlsx"),
    Case(
        "zip_bomb_named_xlsx",
        lambda: bomb_zip("xl/worksheets/sheet1.xml", 1 << 30),
        "readable:bomb",
        suffix=".xlsx",
    ),
    Case("zip_bomb_zip", lambda: bomb_zip("data.csv", 1 << 30), "readable:bomb", suffix=".zip"),
    Case("truncated_xlsx", lambda: xlsx(koica_typed())[:3000], "readable:format", suffix=".xlsx"),
    Case(
        "ole_garbage_xls",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096),
        "readable:format",
        suffix=".xls",
    ),
    # --- not what the extension says ----------------------------------------------------------
    Case("png_named_csv", png, "readable:format"),
    Case("random_bytes", lambda: __import__("random").Random(8).randbytes(64 * 1024), "readable:"),
    Case(
        "gzip_named_csv",
        lambda: __import__("gzip").compress(K().encode("utf-8"), mtime=0),
        "readable:",
    ),
    Case(
        "pdf_named_csv",
        lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + bytes(range(256)) * 8,
        "readable:",
    ),
    Case(
        "truncated_parquet",
        lambda: parquet(koica_rows())[:-40],
        "readable:format",
        suffix=".parquet",
    ),
    Case(
        "parquet_bad_value",
        lambda: parquet(edited(koica_rows(), 5, 2, "3개")),
        "types:amount_krw",
        "amount_krw",
        (4,),
        suffix=".parquet",
    ),
    Case(
        "jsonl_broken_line",
        lambda: splice(jsonl(koica_rows()).replace("\n", "\r\n"), 3, '{"연도": 1991,'),
        "readable:json",
        rows=(3,),
        suffix=".jsonl",
        encoding="utf-8",
    ),
    Case(
        "jsonl_truncated",
        lambda: jsonl(koica_rows())[:-20],
        "readable:json",
        rows=(172,),
        suffix=".jsonl",
        encoding="utf-8",
    ),
    # --- big ------------------------------------------------------------------------------------
    Case("line_100mb", big_line, "readable:record-too-long", rows=(2,), slow=True),
    Case("header_100mb", big_header, "readable:columns", rows=(1,), slow=True),
    Case("over_delivery_limit", lambda: K() * 4, "deliver:too-large", too_large=True),
]


# --- running ----------------------------------------------------------------------------------


def good_deliveries(folder: Path) -> dict[str, Path]:
    """The real files each corpus dataset is published from before the bad cases run."""
    air = folder / "air_good.csv"
    air.write_bytes(to_csv(air_rows()).encode("cp949"))
    return {KOICA: KOICA_FILE, AIR: air}


def main_state(platform, dataset_id: str) -> tuple[int | None, int, list[str]]:
    """`main`'s snapshot id, its row count, and the table's refs (no staging branch left)."""
    table = platform.lakehouse.table(platform.contract(dataset_id))
    snapshot = table.current_snapshot()
    rows = table.scan().to_arrow().num_rows if snapshot else 0
    return (snapshot.snapshot_id if snapshot else None), rows, sorted(table.refs())


def publish_good(platform, folder: Path) -> None:
    from gongyu.delivery.way import process_delivery

    for dataset_id, path in good_deliveries(folder).items():
        delivery, _ = platform.deliver(dataset_id, path)
        outcome = process_delivery(platform, delivery.delivery_id)
        assert outcome.published, outcome.report


def run_case(platform, case: Case, folder: Path) -> dict:
    """Deliver one case and run it; what happened, as data (never raises for a case)."""
    from catalog.deliveries import DeliveryTooLarge
    from gongyu.delivery.report import results_prefix
    from gongyu.delivery.way import process_delivery

    result: dict = {"case": case.name, "crash": None, "state": None, "report": None}
    try:
        path = case.write(folder)
        result["bytes"] = path.stat().st_size
        if case.too_large:
            try:
                platform.deliver(case.dataset, path)
            except DeliveryTooLarge as refused:
                result["state"] = "refused"
                result["report"] = {
                    "failures": [{"rule": "deliver:too-large", "message": str(refused)}]
                }
            return result
        delivery, new = platform.deliver(case.dataset, path)
        assert new, f"{case.name}: the same bytes were delivered before"
        outcome = process_delivery(platform, delivery.delivery_id)
        result["state"] = outcome.delivery.state.value
        prefix = results_prefix(outcome.delivery)
        text = platform.results.read_text(prefix + "report.json")
        result["report"] = json.loads(text) if text else None
        result["report_txt"] = platform.results.read_text(prefix + "report.txt") is not None
    except Exception as err:  # a crash is what the corpus counts
        result["crash"] = f"{type(err).__name__}: {err}"
    finally:
        path = folder / f"{case.name}{case.suffix}"
        path.unlink(missing_ok=True)
    return result


def failures(report: dict | None) -> list[dict]:
    """The failed checks a report.json lists."""
    if not report:
        return []
    return [
        c for c in report.get("failures", report.get("checks", [])) if not c.get("passed", False)
    ]


def verdict(case: Case, result: dict) -> str | None:
    """None when the case ended as it must; else what is wrong."""
    if result["crash"]:
        return f"crashed: {result['crash']}"
    want = "refused" if case.too_large else "quarantined"
    if result["state"] != want:
        return f"ended {result['state']}, not {want}"
    if not case.too_large and not result.get("report_txt"):
        return "no report.txt"
    fails = failures(result["report"])
    match = [
        f
        for f in fails
        if f.get("rule") == case.rule
        or (case.rule.endswith(":") and str(f.get("rule", "")).startswith(case.rule))
    ]
    if not match:
        return f"no failed check {case.rule!r}; got {[f.get('rule') for f in fails]}"
    check = match[0]
    if case.column and check.get("column") != case.column:
        return f"{case.rule}: column {check.get('column')!r}, not {case.column!r}"
    rows = {s.get("row") for s in check.get("samples", [])}
    if missing := [r for r in case.rows if r not in rows]:
        return f"{case.rule}: sample rows {sorted(r for r in rows if r)} lack {missing}"
    if not check.get("message"):
        return f"{case.rule}: no message"
    if not case.too_large and not check.get("key"):
        return f"{case.rule}: no message key"
    for found in (result["report"] or {}).get("findings", []):
        korean = found.get("text", {}).get("ko", {})
        if found.get("key") and not any("가" <= ch <= "힣" for ch in korean.get("message", "")):
            return f"{found.get('rule')}: not worded in Korean: {korean}"
    return None


def open_platform(home: Path, **settings):
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform

    return Platform(Settings(home=home, **settings))


def limited(platform):
    """The same workspace with a small delivery limit, for `too_large` cases."""
    return open_platform(platform.settings.home, max_delivery_bytes=10_000)


def child(home: str, name: str, folder: str) -> None:
    """Run one case in this (child) process and print its result and peak RSS as JSON."""
    case = next(c for c in CASES if c.name == name)
    result = run_case(open_platform(Path(home)), case, Path(folder))
    result["peak_rss"] = peak_rss()
    print(json.dumps(result, ensure_ascii=False, default=str))


def run_in_child(home: Path, case: Case, folder: Path, timeout: float = 300) -> dict:
    """Run a case in a fresh Python process: its own peak RSS is the case's memory."""
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.corpus.make_corpus",
            "--child",
            str(home),
            case.name,
            str(folder),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        return {
            "case": case.name,
            "crash": f"child exit {done.returncode}: {done.stderr[-2000:]}",
            "state": None,
            "report": None,
            "peak_rss": 0,
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_all(cases: list[Case] = CASES) -> int:
    with tempfile.TemporaryDirectory(prefix="gongyu-corpus-") as tmp:
        root = Path(tmp)
        folder = root / "files"
        folder.mkdir()
        platform = open_platform(root / "ws")
        publish_good(platform, folder)
        before = {d: main_state(platform, d) for d in {c.dataset for c in cases}}
        ok = crashes = 0
        peak = 0
        started = time.perf_counter()
        for case in cases:
            t = time.perf_counter()
            if case.slow:
                result = run_in_child(root / "ws", case, folder)
            else:
                result = run_case(limited(platform) if case.too_large else platform, case, folder)
                result["peak_rss"] = peak_rss()
            peak = max(peak, result["peak_rss"])
            crashes += bool(result["crash"])
            problem = verdict(case, result)
            if main_state(platform, case.dataset) != before[case.dataset]:
                problem = (problem or "") + " published table changed"
            ok += problem is None
            rule = next((f["rule"] for f in failures(result["report"])), "-")
            mark = "ok " if problem is None else "BAD"
            took, rss = time.perf_counter() - t, result["peak_rss"] / MB
            print(f"{mark} {case.name:32} {rule:30} {took:6.1f}s {rss:7.0f} MiB  {problem or ''}")
        print(
            f"\n{len(cases)} cases, {ok} quarantined (or refused) with a specific reason, "
            f"{crashes} crashes, published tables untouched, peak RSS {peak / MB:.0f} MiB "
            f"(bound {MAX_RSS_BYTES / MB:.0f} MiB), {time.perf_counter() - started:.0f}s"
        )
        return 0 if ok == len(cases) and not crashes and peak < MAX_RSS_BYTES else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the full corpus, print its figure")
    parser.add_argument("--case", action="append", help="only these cases (with --run)")
    parser.add_argument(
        "--child", nargs=3, metavar=("HOME", "CASE", "FOLDER"), help=argparse.SUPPRESS
    )
    parser.add_argument("--list", action="store_true", help="list the cases")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.list:
        for c in CASES:
            print(f"{c.name:32} {c.dataset:28} {c.rule:24} {c.column or ''}")
        return 0
    if args.run:
        return run_all([c for c in CASES if not args.case or c.name in args.case])
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
