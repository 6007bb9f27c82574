"""sectors.yaml: five sectors, real agencies, secretariats that are members."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sectors.registry import DEFAULT_FILE, load_registry

SLUGS = {
    "environment_energy",
    "transport_logistics",
    "finance_insurance",
    "welfare_safety",
    "industry_sme",
}


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "sectors.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_sectors_file_validates():
    registry = load_registry()
    assert {s.id for s in registry.sectors} == SLUGS
    for sector in registry.sectors:
        assert sector.secretariat in sector.members
        assert all(registry.agency(m) for m in sector.members)
    # Quoted in the YAML: an unquoted comma would split this flow mapping.
    assert registry.agency("motie").name_en == "Ministry of Trade, Industry and Energy"


def test_every_agency_sits_in_a_sector():
    registry = load_registry()
    assert [a.id for a in registry.agencies if not registry.sectors_of(a.id)] == []


def test_an_agency_can_sit_in_several_sectors():
    registry = load_registry()
    assert {s.id for s in registry.sectors_of("mois")} == {
        "environment_energy",
        "welfare_safety",
        "industry_sme",
    }
    assert {s.id for s in registry.sectors_of("hira")} == {"finance_insurance", "welfare_safety"}
    assert registry.sectors_of("no_such_agency") == []


def test_secretariat_must_be_a_member(tmp_path):
    raw = _raw()
    raw["sectors"][0]["members"].remove(raw["sectors"][0]["secretariat"])
    path = _write(tmp_path, raw)
    with pytest.raises(ValueError, match="secretariat 'keco' must be a member") as info:
        load_registry(path)
    assert str(path) in str(info.value)


def test_members_must_be_known_agencies(tmp_path):
    raw = _raw()
    raw["sectors"][1]["members"].append("ghost_agency")
    with pytest.raises(ValueError, match="unknown member agencies \\['ghost_agency'\\]"):
        load_registry(_write(tmp_path, raw))


def test_agencies_are_listed_once(tmp_path):
    raw = _raw()
    raw["agencies"].append(dict(raw["agencies"][0]))
    with pytest.raises(ValueError, match="agencies listed twice: keco"):
        load_registry(_write(tmp_path, raw))


def test_unknown_keys_and_bad_ids_are_refused(tmp_path):
    raw = _raw()
    raw["agencies"][0]["website"] = "https://www.keco.or.kr"
    with pytest.raises(ValueError, match="website"):
        load_registry(_write(tmp_path, raw))
    raw = _raw()
    raw["agencies"][0]["id"] = "KECO"
    with pytest.raises(ValueError, match=r"agencies\.0\.id"):
        load_registry(_write(tmp_path, raw))
