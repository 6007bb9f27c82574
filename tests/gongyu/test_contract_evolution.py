"""A steward's contract evolving under real deliveries: history, refusals, schema evolution and
table versions, from contract files and CSVs written to a tmp workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.deliveries import DeliveryState
from catalog.published import table_versions
from gongyu.delivery.report import Outcome
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from quality.results import CheckKind
from tests.conftest import REPO
from tests.published import read_arrow

GONGYU = str(Path(sys.executable).with_name("gongyu"))
DATASET = "air_test"
SECTOR = "environment_energy"


def column(name: str, header: str, logical: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "physicalName": header, "logicalType": logical, **extra}


STATION = column("station", "측정소명", "string", primaryKey=True, primaryKeyPosition=1)
PM10 = column("pm10", "미세먼지", "number")
NO2 = column("no2", "이산화질소", "number")


def contract_yaml(version: str, columns: list[dict[str, Any]], comment: str = "") -> str:
    """A small ODCS contract for Seoul air quality, appended delivery by delivery."""
    doc = {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": DATASET,
        "name": "Air quality (test)",
        "version": version,
        "status": "active",
        "team": {"members": [{"username": "data@seoul.go.kr", "role": "data steward"}]},
        "customProperties": [
            {"property": "sector", "value": SECTOR},
            {"property": "agency", "value": "seoul"},
            {"property": "accessLevel", "value": "public"},
            {"property": "applyMode", "value": "append"},
        ],
        "schema": [{"name": DATASET, "physicalType": "file", "properties": columns}],
    }
    return (f"# {comment}\n" if comment else "") + yaml.safe_dump(doc, allow_unicode=True)


class Steward:
    """Writes the contract file, delivers CSVs and runs them, as on a real workspace."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.contracts = tmp_path / "contracts"
        self.file = self.contracts / SECTOR / "seoul" / f"{DATASET}.yaml"
        self.file.parent.mkdir(parents=True)
        self.settings = Settings(home=tmp_path / "ws", contracts_dir=self.contracts)
        self.sent = 0

    def publish_contract(self, text: str) -> Platform:
        """Write the contract file; a fresh platform loads it, as a new run would."""
        self.file.write_text(text, encoding="utf-8")
        return Platform(self.settings)

    def deliver(self, platform: Platform, header: list[str], *rows: list[object]) -> Outcome:
        self.sent += 1
        csv = self.tmp / f"delivery-{self.sent}.csv"
        lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        delivery, _ = platform.deliver(DATASET, csv)
        return process_delivery(platform, delivery.delivery_id)


@pytest.fixture
def steward(tmp_path: Path) -> Steward:
    return Steward(tmp_path)


def test_history_kept_and_snapshot_tied_to_contract_version_and_sha(steward: Steward) -> None:
    v1 = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10]))
    first = steward.deliver(v1, ["측정소명", "미세먼지"], ["강남구", 41.0])
    assert first.published, first.report
    check = first.gate.checks[0]
    assert (check.kind, check.passed) == (CheckKind.contract, True)
    v11 = steward.publish_contract(contract_yaml("1.1.0", [STATION, PM10, NO2]))
    second = steward.deliver(v11, ["측정소명", "미세먼지", "이산화질소"], ["종로구", 38.5, 0.02])
    assert second.published, second.report

    history = v11.contract_versions.history(DATASET)
    assert [(v.version, v.table_version) for v in history] == [("1.0.0", 1), ("1.1.0", 1)]
    assert history[0].yaml == contract_yaml("1.0.0", [STATION, PM10])
    assert v11.contract_versions.get(DATASET, "1.0.0") == history[0]
    with pytest.raises(KeyError):
        v11.contract_versions.get(DATASET, "9.0.0")
    table = v11.lakehouse.catalog.load_table(f"{SECTOR}.{DATASET}")
    for outcome, recorded in ((first, history[0]), (second, history[1])):
        summary = table.snapshot_by_id(int(outcome.delivery.snapshot_id or 0)).summary
        assert summary["gongyu.contract-version"] == recorded.version
        assert summary["gongyu.contract-sha256"] == recorded.sha256


def test_breaking_change_without_major_bump_is_refused_and_main_untouched(
    steward: Steward,
) -> None:
    v1 = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10]))
    published = steward.deliver(v1, ["측정소명", "미세먼지"], ["강남구", 41.0])
    table = v1.lakehouse.catalog.load_table(f"{SECTOR}.{DATASET}")
    before = (table.metadata.current_snapshot_id, table.schema())

    # pm10 removed and station made unique: two breaking changes under a minor bump.
    station = {**STATION, "unique": True}
    bad = steward.publish_contract(contract_yaml("1.1.0", [station, NO2]))
    refused = steward.deliver(bad, ["측정소명", "이산화질소"], ["종로구", 0.02])
    assert refused.delivery.state == DeliveryState.quarantined
    check = refused.gate.checks[0]
    assert (check.kind, check.blocking) == (CheckKind.contract, True)
    assert check.message.startswith(
        "contract 1.0.0 -> 1.1.0 refused: 2 breaking change(s) need a new major version: "
        "bump 1.0.0 to 2.0.0"
    )
    assert "; schema.0.properties.1: column pm10 removed" in check.message
    assert "; schema.0.properties.0.unique: station: became unique" in check.message
    assert "no2" not in check.message  # a compatible change is not a reason
    assert "bump the major version to 2.0.0" in check.hint and "revert" in check.hint
    assert refused.delivery.reasons == [check.message]
    report = (
        bad.workspace.results / DATASET / refused.delivery.delivery_id / "report.txt"
    ).read_text()
    assert "column pm10 removed" in report and "bump the major version" in report
    assert refused.gate.rows == 0  # no row was read under the refused contract

    table = bad.lakehouse.catalog.load_table(f"{SECTOR}.{DATASET}")
    assert (table.metadata.current_snapshot_id, table.schema()) == before
    assert read_arrow(bad.lakehouse.catalog, table.name())["station"].to_pylist() == ["강남구"]
    assert [v.version for v in bad.contract_versions.history(DATASET)] == ["1.0.0"]
    assert published.published


def test_changed_text_under_the_same_version_is_refused(steward: Steward) -> None:
    v1 = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10]))
    assert steward.deliver(v1, ["측정소명", "미세먼지"], ["강남구", 41.0]).published

    touched = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10], "reviewed"))
    refused = steward.deliver(touched, ["측정소명", "미세먼지"], ["종로구", 1.0])
    check = refused.gate.checks[0]
    assert check.blocking
    assert "the text of version 1.0.0 changed" in check.message
    assert "give the changed contract a version above 1.0.0" in check.hint

    edited = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10, NO2]))
    refused = steward.deliver(edited, ["측정소명", "미세먼지"], ["중구", 2.0])
    assert "version 1.0.0 did not increase" in refused.gate.checks[0].message

    # Reverting the file to the recorded text is accepted again.
    reverted = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10]))
    assert steward.deliver(reverted, ["측정소명", "미세먼지"], ["용산구", 3.0]).published


def test_type_iceberg_cannot_promote_needs_a_new_table_version(steward: Steward) -> None:
    count = column("count", "건수", "integer")
    v1 = steward.publish_contract(contract_yaml("1.0.0", [STATION, count]))
    assert steward.deliver(v1, ["측정소명", "건수"], ["강남구", 3]).published

    # integer -> number keeps every value (the diff calls it compatible), but the table stores
    # a long that Iceberg cannot promote to double.
    widened = {**count, "logicalType": "number"}
    v11 = steward.publish_contract(contract_yaml("1.1.0", [STATION, widened]))
    refused = steward.deliver(v11, ["측정소명", "건수"], ["종로구", 2.5])
    check = refused.gate.checks[0]
    assert check.blocking
    assert "1 column type change(s) need a new table version: bump 1.0.0 to 2.0.0" in check.message
    assert "schema.0.properties.1: count: published as long" in check.message

    v2 = steward.publish_contract(contract_yaml("2.0.0", [STATION, widened]))
    assert steward.deliver(v2, ["측정소명", "건수"], ["중구", 1.5]).published
    assert read_arrow(v2.lakehouse.catalog, f"{SECTOR}.{DATASET}_v2")["count"].to_pylist() == [1.5]


def test_compatible_change_evolves_the_table_in_place(steward: Steward) -> None:
    v1 = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10]))
    first = steward.deliver(v1, ["측정소명", "미세먼지"], ["강남구", 41.0])
    identifier = f"{SECTOR}.{DATASET}"
    table = v1.lakehouse.catalog.load_table(identifier)
    files_before = {t.file.file_path for t in table.scan().plan_files()}

    # no2 added between station and pm10: optional, so compatible.
    v11 = steward.publish_contract(contract_yaml("1.1.0", [STATION, NO2, PM10]))
    second = steward.deliver(v11, ["측정소명", "이산화질소", "미세먼지"], ["종로구", 0.02, 38.5])
    assert second.published, second.report

    catalog = v11.lakehouse.catalog
    table = catalog.load_table(identifier)
    assert [f.name for f in table.schema().fields] == ["station", "no2", "pm10"]
    assert table.properties["gongyu.contract-version"] == "1.1.0"
    old = read_arrow(catalog, identifier, as_of=int(first.delivery.snapshot_id or 0))
    assert old.column_names == ["station", "pm10"]  # the old snapshot keeps its old schema
    assert old.to_pylist() == [{"station": "강남구", "pm10": 41.0}]
    now = read_arrow(catalog, identifier).sort_by("station")
    assert now.to_pylist() == [
        {"station": "강남구", "no2": None, "pm10": 41.0},
        {"station": "종로구", "no2": 0.02, "pm10": 38.5},
    ]
    # No data file was rewritten: the first delivery's file is still the one read.
    assert files_before <= {t.file.file_path for t in table.scan().plan_files()}
    assert [v.identifier for v in table_versions(catalog, SECTOR, DATASET)] == [identifier]


def test_major_version_starts_a_new_table_and_the_old_one_stays_readable(
    steward: Steward, tmp_path: Path
) -> None:
    v1 = steward.publish_contract(contract_yaml("1.0.0", [STATION, PM10]))
    assert steward.deliver(v1, ["측정소명", "미세먼지"], ["강남구", 41.0]).published

    v2 = steward.publish_contract(contract_yaml("2.0.0", [STATION, NO2]))  # pm10 removed
    outcome = steward.deliver(v2, ["측정소명", "이산화질소"], ["종로구", 0.02])
    assert outcome.published, outcome.report
    assert v2.contract(DATASET).table == f"{SECTOR}.{DATASET}_v2"

    catalog = v2.lakehouse.catalog
    versions = table_versions(catalog, SECTOR, DATASET)
    assert [(v.identifier, v.version, v.current) for v in versions] == [
        (f"{SECTOR}.{DATASET}", 1, False),
        (f"{SECTOR}.{DATASET}_v2", 2, True),
    ]
    assert versions[0].superseded_by == versions[1].identifier
    assert versions[1].supersedes == versions[0].identifier
    assert (versions[0].contract_version, versions[1].contract_version) == ("1.0.0", "2.0.0")
    new = catalog.load_table(versions[1].identifier)
    assert new.properties["gongyu.table-version"] == "2"
    assert read_arrow(catalog, versions[0].identifier).to_pylist() == [
        {"station": "강남구", "pm10": 41.0}
    ]
    assert read_arrow(catalog, versions[1].identifier).to_pylist() == [
        {"station": "종로구", "no2": 0.02}
    ]
    history = v2.contract_versions.history(DATASET)
    assert [(v.version, v.table_version, v.iceberg_table) for v in history] == [
        ("1.0.0", 1, f"{SECTOR}.{DATASET}"),
        ("2.0.0", 2, f"{SECTOR}.{DATASET}_v2"),
    ]

    # The same history from the command line, as a table and as JSON.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "GONGYU_CONTRACTS_DIR": str(steward.contracts),
    }
    ws = str(steward.settings.home)
    done = subprocess.run(
        [GONGYU, "contracts", "history", DATASET, "--workspace", ws, "--json"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["version"], r["table_version"]) for r in rows] == [("1.0.0", 1), ("2.0.0", 2)]
    assert rows[1]["sha256"] == history[1].sha256 and "yaml" not in rows[1]
    done = subprocess.run(
        [GONGYU, "contracts", "history", DATASET, "--workspace", ws],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{DATASET}_v2" in done.stdout and history[1].sha256[:12] in done.stdout
    done = subprocess.run(
        [GONGYU, "contracts", "history", "no_such_dataset", "--workspace", ws],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1 and "unknown dataset 'no_such_dataset'" in done.stderr
