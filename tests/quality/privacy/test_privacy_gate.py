"""The privacy gate end to end: contracts in YAML, synthetic person-level files, real pipeline.

Two welfare agencies deliver beneficiary tables holding the same people; a finance agency
delivers one too. What lands in the lakehouse is checked value by value.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from catalog.deliveries import DeliveryState
from catalog.privacy_scan import raw_identifier_auditor
from contracts.loader import DEFAULT_DIR
from contracts.model import arrow_schema
from gongyu.delivery.report import Outcome, results_prefix
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from quality.privacy import pseudonym_batches
from quality.privacy.pseudonyms import PSEUDONYM_PATTERN
from tests.conftest import data_file
from tests.published import read_arrow
from tests.quality.privacy.labelled import mobile, rrn

SEED = 20261201
PEOPLE = 120  # 12 (sex, 시·도, age band) combinations, 10 people each
SIDO = ["서울특별시", "부산광역시", "경기도"]
CRIME = "welfare_safety/police_crime_by_region_20151231.csv"


COLUMNS = [
    ("name", "string", "direct_identifier"),
    ("rrn", "string", "direct_identifier"),
    ("phone", "string", "direct_identifier"),
    ("age", "integer", "quasi_identifier"),
    ("sex", "string", "quasi_identifier"),
    ("sido", "string", "quasi_identifier"),
    ("amount", "integer", "sensitive"),
    ("note", "string", "none"),
]


def contract_doc(
    dataset: str, sector: str, agency: str, privacy: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An ODCS contract for a beneficiary-level table, with `privacy` as its customProperty."""
    custom = [
        {"property": "sector", "value": sector},
        {"property": "agency", "value": agency},
        {"property": "accessLevel", "value": "sector"},
    ]
    if privacy:
        custom.append({"property": "privacy", "value": privacy})
    properties = [
        {
            "name": name,
            "logicalType": logical,
            "customProperties": [{"property": "classification", "value": cls}],
        }
        for name, logical, cls in COLUMNS
    ]
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": dataset,
        "name": dataset,
        "version": "1.0.0",
        "status": "active",
        "customProperties": custom,
        "schema": [{"name": dataset, "physicalType": "file", "properties": properties}],
    }


def people() -> list[dict[str, object]]:
    """Synthetic people with valid-looking identifiers (check digits right), fixed seed."""
    rng = random.Random(SEED)
    surnames, given = "김이박최정강조윤", ["민준", "서연", "지호", "하은", "도윤", "수빈"]
    return [
        {
            "name": rng.choice(surnames) + rng.choice(given),
            "rrn": rrn(rng, foreign=False),
            "phone": mobile(rng),
            "age": 20 + (i // 6) % 2 * 10 + rng.randrange(10),
            "sex": "남" if i % 2 else "여",
            "sido": SIDO[i // 2 % 3],
            "amount": rng.randrange(10_000, 900_000),
            "note": "",
        }
        for i in range(PEOPLE)
    ]


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def contracts_dir(tmp_path: Path) -> Path:
    """The shipped contracts plus the test's beneficiary contracts."""
    root = tmp_path / "contracts"
    shutil.copytree(DEFAULT_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    generalised = {"k": 5, "generalise": {"age": "age_band_10"}, "maxSuppressed": 0.05}
    specs = [
        ("nhis_beneficiaries", "welfare_safety", "nhis", generalised),
        ("hira_claimants", "welfare_safety", "hira", None),
        ("kamco_debtors", "finance_insurance", "kamco", None),
        ("nhis_strict", "welfare_safety", "nhis", {"k": 5}),
    ]
    for dataset, sector, agency, privacy in specs:
        path = root / sector / agency / f"{dataset}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = contract_doc(dataset, sector, agency, privacy)
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return root


@pytest.fixture
def gated(tmp_path: Path, contracts_dir: Path) -> Platform:
    return Platform(Settings(home=tmp_path / "ws", contracts_dir=contracts_dir))


def run(platform: Platform, dataset: str, file: Path) -> Outcome:
    delivery, _ = platform.deliver(dataset, file)
    return process_delivery(platform, delivery.delivery_id)


def test_direct_identifiers_are_published_as_pseudonyms_only(
    gated: Platform, tmp_path: Path
) -> None:
    rows = people()
    outcome = run(gated, "hira_claimants", write_csv(tmp_path / "in/hira.csv", rows))
    assert outcome.published, outcome.report
    table = read_arrow(gated.lakehouse.catalog, "welfare_safety.hira_claimants")
    assert table.num_rows == PEOPLE
    for name in ("name", "rrn", "phone"):
        assert pc.all(pc.match_substring_regex(table[name], PSEUDONYM_PATTERN)).as_py()
    # Not a single raw identifier anywhere in the warehouse's data files, by value.
    raw = {str(r[c]) for r in rows for c in ("name", "rrn", "phone")}
    for parquet in gated.workspace.warehouse.rglob("*.parquet"):
        values = set()
        for col in pq.read_table(parquet).columns:
            values |= {str(v) for v in col.to_pylist()}
        assert not raw & values
    # The key never reaches the lakehouse or the results.
    key = json.loads(gated.key_file.read_text())["keys"]["1"]["key"]
    for path in [*gated.workspace.warehouse.rglob("*"), *gated.workspace.results.rglob("*")]:
        if path.is_file():
            assert key.encode() not in path.read_bytes()
    assert gated.key_file.stat().st_mode & 0o077 == 0
    snapshot = gated.lakehouse.catalog.load_table("welfare_safety.hira_claimants")
    assert snapshot.current_snapshot().summary["gongyu.pseudonym-key-version"] == "1"


def test_same_person_same_pseudonym_within_a_sector_not_across(
    gated: Platform, tmp_path: Path
) -> None:
    rows = people()
    # The second agency writes resident numbers without the hyphen, phones with spaces.
    respelled = [
        {**r, "rrn": str(r["rrn"]).replace("-", ""), "phone": str(r["phone"]).replace("-", " ")}
        for r in rows
    ]
    assert run(gated, "nhis_beneficiaries", write_csv(tmp_path / "a.csv", rows)).published
    with pytest.MonkeyPatch.context() as patch:
        # The second agency's pseudonyms come from the gate's helper process, the others'
        # from this one: both ways give one person one pseudonym.
        patch.setattr(pseudonym_batches, "MIN_HELPER_VALUES", 0)
        assert run(gated, "hira_claimants", write_csv(tmp_path / "b.csv", respelled)).published
    assert run(gated, "kamco_debtors", write_csv(tmp_path / "c.csv", rows)).published

    def pseudonyms(dataset: str) -> dict[str, set[str]]:
        t = read_arrow(gated.lakehouse.catalog, gated.contract(dataset).table)
        return {c: set(t[c].to_pylist()) for c in ("rrn", "phone", "name")}

    nhis, hira, kamco = (
        pseudonyms(d) for d in ("nhis_beneficiaries", "hira_claimants", "kamco_debtors")
    )
    assert nhis["rrn"] == hira["rrn"] and nhis["phone"] == hira["phone"]
    assert not nhis["rrn"] & kamco["rrn"]  # another sector: unlinkable


def gongyu(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    """The `gongyu` CLI in a child process, on the test's workspace and contracts."""
    env = {
        **os.environ,
        "GONGYU_HOME": str(platform.workspace.root),
        "GONGYU_CONTRACTS_DIR": str(platform.settings.contracts_dir),
    }
    cli = str(Path(sys.executable).with_name("gongyu"))
    return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=300)


def test_rotation_is_used_and_recorded(gated: Platform, tmp_path: Path) -> None:
    rows = people()
    assert run(gated, "hira_claimants", write_csv(tmp_path / "a.csv", rows)).published
    rotated = gongyu(gated, "privacy", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    assert "version 2 is now current" in rotated.stdout
    listed = gongyu(gated, "privacy", "keys").stdout
    assert "2026" in listed or "20" in listed
    assert json.loads(gated.key_file.read_text())["keys"]["1"]["key"] not in listed
    rows[0]["amount"] = 1  # a new delivery (different bytes)
    assert run(gated, "hira_claimants", write_csv(tmp_path / "b.csv", rows)).published
    table = gated.lakehouse.catalog.load_table("welfare_safety.hira_claimants")
    assert table.current_snapshot().summary["gongyu.pseudonym-key-version"] == "2"
    published = read_arrow(gated.lakehouse.catalog, "welfare_safety.hira_claimants")
    assert pc.all(pc.starts_with(published["rrn"], "p2_")).as_py()


def test_undeclared_identifiers_block_with_masked_samples(gated: Platform, tmp_path: Path) -> None:
    rows = people()
    leaked = [str(r["phone"]) for r in rows[:4]]
    for row, phone in zip(rows, leaked, strict=False):
        row["note"] = f"보호자 연락처 {phone}"
    outcome = run(gated, "hira_claimants", write_csv(tmp_path / "a.csv", rows))
    assert outcome.delivery.state == DeliveryState.quarantined
    [check] = [c for c in outcome.gate.failures if c.rule == "privacy:mobile_phone"]
    assert check.column == "note" and check.count == 4 and len(check.samples) == 4
    assert [s.row for s in check.samples] == [2, 3, 4, 5]
    assert all("****" in s.values["note"] for s in check.samples)
    report = gated.results.path(results_prefix(outcome.delivery) + "report.json").read_text()
    text = gated.results.path(results_prefix(outcome.delivery) + "report.txt").read_text()
    assert "note" in text and "mobile phone" in text
    for phone in leaked:
        assert phone not in report and phone not in text and phone[-9:] not in text
    assert not gated.lakehouse.catalog.table_exists("welfare_safety.hira_claimants") or (
        read_arrow(gated.lakehouse.catalog, "welfare_safety.hira_claimants").num_rows == 0
    )


def children() -> set[int]:
    """This process's child processes."""
    return {
        int(pid)
        for task in Path("/proc/self/task").iterdir()
        for pid in (task / "children").read_text().split()
    }


def test_a_quarantined_delivery_ends_its_pseudonym_helper(
    gated: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper starts before the checks; a delivery they stop leaves no process and no
    pseudonym files behind."""
    monkeypatch.setattr(pseudonym_batches, "MIN_HELPER_VALUES", 0)
    started: list[pseudonym_batches.PseudonymBatches] = []
    real = pseudonym_batches.PseudonymBatches._start

    def start(self: pseudonym_batches.PseudonymBatches, spill: Path) -> None:
        real(self, spill)
        started.append(self)

    monkeypatch.setattr(pseudonym_batches.PseudonymBatches, "_start", start)
    before = children()
    rows = people()
    rows[3]["note"] = f"보호자 연락처 {rows[0]['phone']}"
    outcome = run(gated, "hira_claimants", write_csv(tmp_path / "a.csv", rows))
    assert outcome.delivery.state == DeliveryState.quarantined
    assert started and started[0]._proc is None
    assert children() <= before
    assert not list(gated.workspace.staging.rglob("*.arrow"))


def test_k_anonymity_blocks_and_names_sizes_not_values(gated: Platform, tmp_path: Path) -> None:
    outcome = run(gated, "nhis_strict", write_csv(tmp_path / "a.csv", people()))
    assert outcome.delivery.state == DeliveryState.quarantined
    [check] = [c for c in outcome.gate.failures if c.rule == "k_anonymity"]
    assert "k=5" in check.message and "smallest class" in check.message
    assert "age_band" in check.hint and "first_token" in check.hint
    for value in ("서울특별시", "부산광역시", "경기도"):
        assert value not in check.message and value not in check.hint


def test_generalisation_and_suppression_publish_a_k_anonymous_table(
    gated: Platform, tmp_path: Path
) -> None:
    rows = people()
    rows[0]["age"] = 97  # an outlier alone in its band: withheld, not published
    outcome = run(gated, "nhis_beneficiaries", write_csv(tmp_path / "a.csv", rows))
    assert outcome.published, outcome.report
    [check] = [c for c in outcome.gate.checks if c.rule == "k_anonymity"]
    assert check.passed and "withholding 1 row(s)" in check.message
    table = read_arrow(gated.lakehouse.catalog, "welfare_safety.nhis_beneficiaries")
    assert table.num_rows == PEOPLE - 1
    assert table.schema.field("age").type == "string"
    assert set(table["age"].to_pylist()) == {"20-29", "30-39"}
    sizes = table.group_by(["age", "sex", "sido"]).aggregate([([], "count_all")])
    assert min(sizes["count_all"].to_pylist()) >= 5
    snapshot = gated.lakehouse.catalog.load_table("welfare_safety.nhis_beneficiaries")
    assert snapshot.current_snapshot().summary["gongyu.rows-withheld"] == "1"


def test_published_scan_finds_a_planted_identifier(gated: Platform, tmp_path: Path) -> None:
    assert run(gated, "hira_claimants", write_csv(tmp_path / "a.csv", people())).published
    assert run(gated, "police_crime_by_region_2015", data_file(CRIME)).published
    clean = gongyu(gated, "privacy", "scan")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no raw identifiers" in clean.stdout
    # Someone writes around the gate: a raw resident number lands in a published table.
    table = gated.lakehouse.catalog.load_table("welfare_safety.hira_claimants")
    planted = read_arrow(gated.lakehouse.catalog, "welfare_safety.hira_claimants").slice(0, 1)
    raw = str(people()[0]["rrn"])
    planted = planted.set_column(
        planted.schema.get_field_index("note"), "note", pa.array([f"주민번호 {raw}"])
    )
    table.append(planted)
    found = gongyu(gated, "privacy", "scan", "--json")
    assert found.returncode == 1
    [finding] = json.loads(found.stdout)
    assert finding["table"] == "welfare_safety.hira_claimants" and finding["column"] == "note"
    assert finding["detector"] == "resident_registration_number" and finding["count"] == 1
    assert raw not in found.stdout and raw[:6] in found.stdout


def test_audit_refuses_a_staged_snapshot_with_raw_direct_identifiers(
    gated: Platform, tmp_path: Path
) -> None:
    contract = gated.contract("hira_claimants")
    raw = pa.table({c: [str(v)] for c, v in people()[0].items()}).cast(
        arrow_schema(contract.published_columns), safe=False
    )
    staged = gated.lakehouse.stage(contract, "d-raw", raw, {"contract-version": "1.0.0"})
    audit = gated.lakehouse.audit(staged, [raw_identifier_auditor(contract)])
    assert not audit.passed
    assert any("raw direct identifier" in p for p in audit.problems)
    assert str(people()[0]["rrn"]) not in " ".join(audit.problems)
    gated.lakehouse.discard(staged)
