"""`ContractVersions` on a real catalog database and real contract files in tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from catalog.contract_versions import ContractVersions
from catalog.db import connect
from contracts.loader import DEFAULT_DIR, load_contract
from sectors.registry import default_registry

KOTSA = DEFAULT_DIR / "transport_logistics/kotsa/kotsa_car_inspection_centers.yaml"


@pytest.fixture
def versions(tmp_path: Path) -> ContractVersions:
    return ContractVersions(connect(f"sqlite:///{tmp_path}/catalog.db"), default_registry())


def write(path: Path, version: str, edit=None) -> Path:
    doc = yaml.safe_load(KOTSA.read_text(encoding="utf-8"))
    doc["version"] = version
    if edit:
        edit(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_first_version_is_recorded_once(versions: ContractVersions, tmp_path: Path) -> None:
    contract = load_contract(write(tmp_path / "c.yaml", "1.0.0"))
    first = versions.admit(contract)
    assert first.check.passed and "first version" in first.check.message
    again = versions.admit(contract)
    assert again.check.passed and again.sha256 == first.sha256
    [recorded] = versions.history(contract.id)
    assert (recorded.version, recorded.table_version, recorded.sha256) == ("1.0.0", 1, first.sha256)
    assert versions.contract(recorded).odcs == contract.odcs


def test_a_version_never_goes_back(versions: ContractVersions, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    old = load_contract(write(path, "1.0.0"))
    assert versions.admit(old).check.passed
    assert versions.admit(load_contract(write(path, "1.0.1"))).check.passed
    back = versions.admit(load_contract(write(path, "1.0.0")))
    assert back.check.blocking
    assert "version 1.0.0 is lower than 1.0.1" in back.check.message
    assert [v.version for v in versions.history(old.id)] == ["1.0.0", "1.0.1"]


def test_what_is_recorded_is_the_text_the_contract_was_read_from(
    versions: ContractVersions, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.yaml", "1.0.0")
    text = path.read_text(encoding="utf-8")
    contract = load_contract(path)
    path.write_text("not: [valid", encoding="utf-8")  # the file moved on; the delivery did not
    assert versions.admit(contract).check.passed
    (recorded,) = versions.history(contract.id)
    assert (recorded.version, recorded.yaml) == ("1.0.0", text)


def test_a_version_recorded_meanwhile_is_checked_against(
    versions: ContractVersions, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.yaml", "1.0.0")
    contract = load_contract(path)
    text = path.read_text(encoding="utf-8")
    assert versions.admit(contract).check.passed
    # Another delivery recorded the same version first: this one finds it, nothing twice.
    sha = hashlib.sha256(text.encode()).hexdigest()
    late = versions._record(contract, text, sha)
    assert late.check.passed and "as recorded" in late.check.message
    assert len(versions.history(contract.id)) == 1
