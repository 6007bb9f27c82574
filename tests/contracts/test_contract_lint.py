"""Broken contracts fail with the file and the field path; `lint` finds what the loader cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.lint import LintIssue, lint
from contracts.loader import DEFAULT_DIR, ContractError, load_contract, load_contracts

SOURCE = DEFAULT_DIR / "finance_insurance" / "koica" / "koica_oda_by_income_group.yaml"


def _raw() -> dict[str, Any]:
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))


def _custom(raw: dict[str, Any], key: str, value: Any) -> None:
    entry = next(p for p in raw["customProperties"] if p["property"] == key)
    entry["value"] = value


def _write(root: Path, raw: dict[str, Any], relative: str | None = None) -> Path:
    sector = next(p["value"] for p in raw["customProperties"] if p["property"] == "sector")
    agency = next(p["value"] for p in raw["customProperties"] if p["property"] == "agency")
    path = root / (relative or f"{sector}/{agency}/{raw['id']}.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _problems(path: Path) -> dict[str, str]:
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert str(path) in str(info.value)
    return dict(info.value.problems)


def _errors(issues: list[LintIssue]) -> dict[str, str]:
    return {i.path: i.message for i in issues if i.severity == "error"}


def test_the_untouched_copy_is_clean(tmp_path):
    path = _write(tmp_path, _raw())
    assert load_contract(path).id == "koica_oda_by_income_group"
    assert lint([path], root=tmp_path) == []


def test_unknown_agency_names_the_file_and_field(tmp_path):
    raw = _raw()
    _custom(raw, "agency", "no_such_agency")
    path = _write(tmp_path, raw)
    problems = _problems(path)
    assert "no_such_agency" in problems["customProperties.agency"]
    issues = lint([path], root=tmp_path)
    assert any(str(i).startswith(f"{path}:customProperties.agency: unknown agency") for i in issues)


def test_unknown_sector_names_the_file_and_field(tmp_path):
    raw = _raw()
    _custom(raw, "sector", "space_exploration")
    path = _write(tmp_path, raw)
    assert "unknown sector 'space_exploration'" in _problems(path)["customProperties.sector"]
    assert "customProperties.sector" in _errors(lint([path], root=tmp_path))


def test_agency_outside_its_sector_is_refused(tmp_path):
    raw = _raw()
    _custom(raw, "sector", "welfare_safety")  # koica is a finance_insurance member only
    path = _write(tmp_path, raw)
    assert "not a member" in _problems(path)["customProperties.agency"]


def test_bad_logical_type_points_at_the_property(tmp_path):
    raw = _raw()
    raw["schema"][0]["properties"][2]["logicalType"] = "money"
    path = _write(tmp_path, raw)
    assert "money" in _problems(path)["schema.0.properties.2.logicalType"]
    errors = _errors(lint([path], root=tmp_path))
    assert "schema.0.properties.2.logicalType" in errors
    # datacontract-cli's JSON-schema check reports the same field by name.
    assert any(p.endswith("properties.amount_krw.logicalType") for p in errors)


def test_bad_field_value_points_at_the_field(tmp_path):
    raw = _raw()
    raw["schema"][0]["properties"][0]["required"] = "sometimes"
    path = _write(tmp_path, raw)
    assert "schema.0.properties.0.required" in _problems(path)


def test_unknown_field_is_an_error(tmp_path):
    raw = _raw()
    raw["owner"] = "someone"
    path = _write(tmp_path, raw)
    assert "owner" in _problems(path)
    assert "owner" in _errors(lint([path], root=tmp_path))


def test_upsert_needs_a_primary_key(tmp_path):
    raw = _raw()
    _custom(raw, "applyMode", "upsert")
    for prop in raw["schema"][0]["properties"]:
        prop.pop("primaryKey", None)
        prop.pop("primaryKeyPosition", None)
    path = _write(tmp_path, raw)
    assert "primaryKey" in _problems(path)["customProperties.applyMode"]


def test_version_must_be_semver_and_names_the_table_version(tmp_path):
    raw = _raw()
    raw["version"] = "v2"
    assert "'v2' is not semver" in _problems(_write(tmp_path, raw))["version"]
    table = "finance_insurance.koica_oda_by_income_group"
    raw["version"] = "2.1.0"
    assert load_contract(_write(tmp_path, raw)).table == f"{table}_v2"
    raw["version"] = "1.4.2"
    assert load_contract(_write(tmp_path, raw)).table == table


def test_ids_ending_like_a_table_version_are_reserved(tmp_path):
    raw = _raw()
    raw["id"] = "koica_oda_v2"
    assert "reserved" in _problems(_write(tmp_path, raw))["id"]


def test_file_must_sit_at_sector_agency_id(tmp_path):
    path = _write(tmp_path, _raw(), "environment_energy/kpx/other_name.yaml")
    load_contract(path)  # the content itself is fine
    errors = _errors(lint([path], root=tmp_path))
    assert set(errors) >= {"customProperties.sector", "customProperties.agency", "id"}
    assert "'finance_insurance'" in errors["customProperties.sector"]


def test_files_outside_the_root_skip_the_layout_check(tmp_path):
    path = _write(tmp_path, _raw(), "loose.yaml")
    assert lint([path], root=tmp_path / "contracts") == []


def test_sanity_checks_patterns_bounds_and_enums(tmp_path):
    raw = _raw()
    props = raw["schema"][0]["properties"]
    props[0]["logicalTypeOptions"] = {"minimum": 2100, "maximum": 1991}
    props[1]["enum"].append({"value": " "})
    props[2]["quality"] = [
        {"metric": "invalidValues", "arguments": {"pattern": "^(\\d+$"}, "mustBe": 0}
    ]
    path = _write(tmp_path, raw)
    errors = _errors(lint([path], root=tmp_path))
    assert "minimum 2100 > maximum 1991" in errors["schema.0.properties.0.logicalTypeOptions"]
    assert "empty" in errors["schema.0.properties.1.enum.6.value"]
    assert "does not compile" in errors["schema.0.properties.2.quality.0.arguments.pattern"]


def test_datacontract_warnings_become_warning_issues(tmp_path):
    raw = _raw()
    raw["schema"][0]["quality"].append({"metric": "nullValues", "mustBe": 0})  # property-level only
    path = _write(tmp_path, raw)
    issues = lint([path], root=tmp_path)
    assert issues and all(i.severity == "warning" for i in issues)
    assert any("nullValues" in i.message for i in issues)


def test_duplicate_dataset_ids_are_reported(tmp_path):
    first = _write(tmp_path, _raw())
    second = _write(tmp_path, _raw(), "finance_insurance/koica/copy.yaml")
    issues = lint([first, second], root=tmp_path / "elsewhere")
    assert [i.path for i in issues] == ["id"]
    assert issues[0].file == str(second) and str(first) in issues[0].message
    with pytest.raises(ContractError, match="also used by"):
        load_contracts(tmp_path)  # the loader refuses the same clash


def test_unreadable_yaml_is_one_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    issues = lint([path], root=tmp_path / "contracts")
    assert issues and all(i.severity == "error" and i.file == str(path) for i in issues)


def test_issue_renders_as_file_path_message():
    issue = LintIssue(file="a.yaml", path="schema.0.name", message="bad", severity="warning")
    assert str(issue) == "a.yaml:schema.0.name: bad"
