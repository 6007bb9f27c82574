"""Privacy benchmark: the privacy gate's cost, as a ratio to the same gate without it.

    ./dev bench privacy [--rows N] [--rows-per-person R] [--repeat K]

Input: the gate benchmark's KoROAD file (CP949, N rows) with three synthetic direct identifiers
appended to every row: a Korean name, a resident registration number (valid check digit) and a
mobile number. Each person has R rows (default 10, as in claim- or visit-level tables; R=1 is
the worst case: every identifier distinct). Its contract, `koroad_people`, declares the three
identifiers and four quasi-identifiers (time, 주야, 시도, 시군구) with k=5 and the time
generalised to the month.

Two measurements, each in its own process, of land + gate + publish in a fresh workspace:
with the privacy gate (detection on every undeclared column, k-anonymity, pseudonymisation
before the Iceberg write, the raw-identifier audit) and without it (those steps replaced by
pass-throughs, `bench.gongyu_run.without_privacy`). Target: ratio ≤ 1.2, also at R=1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from bench import REPO, WORK
from bench.data import KOROAD, build_csv, warm
from bench.gate import child, repeated
from bench.memory import MIB
from bench.report import table

TARGET_RATIO = 1.2
DATASET = "koroad_people"
QUASI = {"occurred_at", "day_night", "sido", "sigungu"}
SURNAMES = "김이박최정강조윤장임한오서신권황안송류전홍"
GIVEN = (
    ["민준", "서연", "지호", "하은", "도윤", "수빈"],
    ["예준", "지우", "시우", "서윤", "현우", "민서"],
)
RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def person(j: int) -> tuple[str, str, str]:
    """Person j's name, resident registration number and mobile number (deterministic)."""
    given = GIVEN[0] + GIVEN[1]
    name = SURNAMES[j % len(SURNAMES)] + given[(j // len(SURNAMES)) % len(given)]
    year, month, day = 40 + j % 60, 1 + (j // 60) % 12, 1 + (j // 720) % 28
    body = f"{year:02d}{month:02d}{day:02d}{1 + j % 2}{(j * 7919) % 100000:05d}"
    check = (11 - sum(int(d) * w for d, w in zip(body, RRN_WEIGHTS, strict=True)) % 11) % 10
    return name, f"{body[:6]}-{body[6:]}{check}", f"010-{(j // 10000) % 10000:04d}-{j % 10000:04d}"


def people_csv(rows: int, rows_per_person: int) -> Path:
    """The KoROAD file of `rows` rows with 성명, 주민등록번호, 휴대전화 appended (CP949, cached)."""
    source = build_csv(KOROAD, rows)
    out = source.with_name(source.name.replace(".cp949", f"-people{rows_per_person}.cp949"))
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    with open(source, "rb") as src, open(tmp, "wb") as dst:
        header = src.readline().rstrip(b"\r\n")
        dst.write(header + ",성명,주민등록번호,휴대전화\r\n".encode("cp949"))
        for i, line in enumerate(src):
            extra = ",".join(person(i // rows_per_person))
            dst.write(line.rstrip(b"\r\n") + b"," + extra.encode("cp949") + b"\r\n")
    os.replace(tmp, out)
    return out


def contracts_dir() -> Path:
    """The shipped contracts plus `koroad_people` (KoROAD's contract with three identifiers)."""
    root = WORK / "privacy-contracts"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "contracts", root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    src = root / "welfare_safety/koroad/koroad_fatal_traffic_accidents.yaml"
    doc = yaml.safe_load(src.read_text(encoding="utf-8"))
    doc["id"] = DATASET
    obj = doc["schema"][0]
    obj["name"] = DATASET
    for prop in obj["properties"]:
        cls = "quasi_identifier" if prop["name"] in QUASI else "none"
        prop["customProperties"] = [{"property": "classification", "value": cls}]
    for name, physical in (("name", "성명"), ("rrn", "주민등록번호"), ("mobile", "휴대전화")):
        classification = [{"property": "classification", "value": "direct_identifier"}]
        obj["properties"].append(
            {
                "name": name,
                "physicalName": physical,
                "logicalType": "string",
                "required": True,
                "customProperties": classification,
            }
        )
    privacy = {"k": 5, "generalise": {"occurred_at": "month"}}
    doc["customProperties"].append({"property": "privacy", "value": privacy})
    (src.parent / f"{DATASET}.yaml").write_text(
        yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return root


def measure(csv: Path, contracts: Path, rows: int, privacy: bool, repeat: int) -> dict[str, Any]:
    """Land + gate + publish in a child process, with or without the privacy gate."""
    args = ["--dataset", DATASET, "--rows", str(rows), "--contracts-dir", str(contracts)]
    label = "with privacy gate" if privacy else "without privacy gate"
    if not privacy:
        args.append("--no-privacy")
    log = WORK / f"privacy-{'on' if privacy else 'off'}-{rows}.log"
    run = repeated(lambda: child("gongyu", csv, *args, log=log), repeat)
    run["label"] = label
    return run


def main(argv: list[str]) -> int:
    """Build the input, measure both sides, print and save the results."""
    parser = argparse.ArgumentParser(prog="python -m bench privacy", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows (default 1M)")
    parser.add_argument("--rows-per-person", type=int, default=10, help="rows per person")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; fastest kept")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    csv = people_csv(args.rows, args.rows_per_person)
    contracts = contracts_dir()
    size = csv.stat().st_size / MIB
    people = -(-args.rows // args.rows_per_person)
    print(f"privacy benchmark: {args.rows:,} rows, {people:,} people, {size:,.1f} MiB")
    warm(csv)
    print(f"measuring without the privacy gate (x{args.repeat})...", flush=True)
    off = measure(csv, contracts, args.rows, False, args.repeat)
    print(f"measuring with the privacy gate (x{args.repeat})...", flush=True)
    on = measure(csv, contracts, args.rows, True, args.repeat)
    ok = off["ok"] and on["ok"]
    ratio = on["seconds"] / off["seconds"] if ok else None
    rows = []
    for run in (off, on):
        if not run["ok"]:
            rows.append([run["label"], "error", "", ""])
            continue
        stages = run["stages"]
        rows.append(
            [
                run["label"],
                f"{run['seconds']:,.2f}",
                f"{stages.get('privacy', {}).get('seconds', 0.0):,.2f}",
                f"{stages['stage']['seconds']:,.2f}",
                f"{run['peak_rss_mib']:,.0f}",
            ]
        )
    print(table(["measurement", "seconds", "privacy screen s", "stage s", "peak MiB"], rows))
    verdict = "PASS" if ratio is not None and ratio <= TARGET_RATIO else "MISS"
    shown = f"{ratio:.2f}" if ratio is not None else "n/a"
    print(f"ratio with/without: {shown} (target ≤ {TARGET_RATIO:g}: {verdict})")
    for run in (off, on):
        if not run["ok"]:
            print(f"{run['label']} failed: {run['error']}", file=sys.stderr)
    results = {
        "benchmark": "privacy",
        "rows": args.rows,
        "rows_per_person": args.rows_per_person,
        "file_mib": size,
        "without": off,
        "with": on,
        "ratio": ratio,
        "target": TARGET_RATIO,
        "pass": verdict == "PASS",
        "cpus": os.cpu_count(),
    }
    out = WORK / f"results-privacy-{args.rows}-{args.rows_per_person}.json"
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"results: {out.relative_to(REPO)}")
    return 0 if ok else 1
