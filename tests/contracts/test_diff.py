"""`contracts.diff`: each kind of change to a shipped contract, the version verdict, and the CLI."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.diff import ContractDiff, diff_contracts, semver_key
from contracts.loader import load_contract
from contracts.model import Contract

REPO = Path(__file__).resolve().parents[2]
KOTSA = REPO / "contracts/transport_logistics/kotsa/kotsa_car_inspection_centers.yaml"
GONGYU = str(Path(sys.executable).with_name("gongyu"))
P = "schema.0.properties"

Edit = Callable[[dict[str, Any]], None]


def base() -> dict[str, Any]:
    return yaml.safe_load(KOTSA.read_text(encoding="utf-8"))


def prop(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["schema"][0]["properties"] if p["name"] == name)


def options(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return prop(doc, name).setdefault("logicalTypeOptions", {})


def custom(doc: dict[str, Any], key: str, value: Any) -> None:
    props = doc["customProperties"]
    props[:] = [p for p in props if p["property"] != key] + [{"property": key, "value": value}]


def write(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def pair(tmp_path: Path, edit: Edit, before: Edit | None = None) -> tuple[Contract, Contract]:
    """The shipped contract (after `before`) and a copy with `edit` applied."""
    old = base()
    if before:
        before(old)
    new = copy.deepcopy(old)
    edit(new)
    return (
        load_contract(write(old, tmp_path / "old.yaml")),
        load_contract(write(new, tmp_path / "new.yaml")),
    )


def add_column(required: bool) -> Edit:
    column = {"name": "fax", "physicalName": "팩스번호", "logicalType": "string"}
    return lambda d: d["schema"][0]["properties"].append({**column, "required": required})


def set_prop(column: str, /, **fields: Any) -> Edit:
    return lambda d: prop(d, column).update(fields)


def set_option(name: str, **fields: Any) -> Edit:
    return lambda d: options(d, name).update(fields)


def classify(name: str, value: str) -> Edit:
    """Set a column's classification, keeping its other custom properties."""

    def edit(d: dict[str, Any]) -> None:
        props = prop(d, name).setdefault("customProperties", [])
        props[:] = [p for p in props if p["property"] != "classification"]
        props.insert(0, {"property": "classification", "value": value})

    return edit


def add_rule(severity: str) -> Edit:
    rule = {"name": "at_most_5000_rows", "metric": "rowCount", "mustBeLessThan": 5000}
    return lambda d: d["schema"][0]["quality"].append({**rule, "severity": severity})


def unkey(d: dict[str, Any]) -> None:
    del prop(d, "center_name")["primaryKey"], prop(d, "center_name")["primaryKeyPosition"]


def quasi_with(privacy: dict[str, Any] | None) -> Edit:
    """center_type as a quasi-identifier, and `privacy` as the contract's privacy settings."""

    def edit(d: dict[str, Any]) -> None:
        classify("center_type", "quasi_identifier")(d)
        if privacy is not None:
            custom(d, "privacy", privacy)

    return edit


def allow(column: str, kinds: list[str]) -> Edit:
    props = [
        {"property": "classification", "value": "none"},
        {"property": "allowedIdentifiers", "value": kinds},
    ]
    return set_prop(column, customProperties=props)


# (id, edit of the new contract, edit of both beforehand, expected (kind, path) of every change)
CASES: list[tuple[str, Edit, Edit | None, list[tuple[str, str]]]] = [
    (
        "column removed",
        lambda d: d["schema"][0]["properties"].pop(11),
        None,
        [("breaking", f"{P}.11")],
    ),
    (
        "column renamed",
        set_prop("center_type", name="centre_type"),
        None,
        [("breaking", f"{P}.1.name")],
    ),
    (
        "physical name renamed",
        set_prop("center_type", physicalName="검사소유형"),
        None,
        [("breaking", f"{P}.1.physicalName")],
    ),
    (
        "number to integer",
        set_prop("latitude", logicalType="integer"),
        None,
        [("breaking", f"{P}.4.logicalType")],
    ),
    (
        "string to date",
        set_prop("opening_hours", logicalType="date"),
        None,
        [("breaking", f"{P}.7.logicalType")],
    ),
    (
        "timestamp to date",
        set_prop("reference_date", logicalType="date"),
        set_prop("reference_date", logicalType="timestamp"),
        [("breaking", f"{P}.21.logicalType")],
    ),
    ("new required column", add_column(True), None, [("breaking", f"{P}.22")]),
    (
        "column becomes required",
        set_prop("technical_staff", required=True),
        None,
        [("breaking", f"{P}.11.required")],
    ),
    ("primary key changed", unkey, None, [("breaking", P)]),
    (
        "enum value removed",
        set_prop("center_type", enum=[{"value": "공공"}]),
        None,
        [("breaking", f"{P}.1.enum")],
    ),
    (
        "enum added",
        set_prop("opening_hours", enum=[{"value": "상시"}]),
        None,
        [("breaking", f"{P}.7.enum")],
    ),
    (
        "pattern added",
        set_option("opening_hours", pattern="^평일"),
        None,
        [("breaking", f"{P}.7.logicalTypeOptions.pattern")],
    ),
    (
        "pattern changed",
        set_option("phone", pattern=r"^\d{3}-\d{4}-\d{4}$"),
        None,
        [("breaking", f"{P}.6.logicalTypeOptions.pattern")],
    ),
    (
        "minimum raised",
        set_option("inspection_lanes", minimum=2),
        None,
        [("breaking", f"{P}.8.logicalTypeOptions.minimum")],
    ),
    (
        "maximum lowered",
        set_option("inspection_lanes", maximum=20),
        None,
        [("breaking", f"{P}.8.logicalTypeOptions.maximum")],
    ),
    (
        "maximum added",
        set_option("site_area_m2", maximum=1e6),
        None,
        [("breaking", f"{P}.9.logicalTypeOptions.maximum")],
    ),
    (
        "minLength raised",
        set_option("opening_hours", minLength=5),
        set_option("opening_hours", minLength=1),
        [("breaking", f"{P}.7.logicalTypeOptions.minLength")],
    ),
    (
        "maxLength lowered",
        set_option("opening_hours", maxLength=50),
        set_option("opening_hours", maxLength=100),
        [("breaking", f"{P}.7.logicalTypeOptions.maxLength")],
    ),
    (
        "format changed",
        set_option("reference_date", format="yyyyMMdd"),
        None,
        [("breaking", f"{P}.21.logicalTypeOptions.format")],
    ),
    (
        "became unique",
        set_prop("road_address", unique=True),
        None,
        [("breaking", f"{P}.2.unique")],
    ),
    (
        "access raised",
        lambda d: custom(d, "accessLevel", "restricted"),
        None,
        [("breaking", "customProperties.accessLevel")],
    ),
    *[
        (
            f"classification none to {level}",
            classify("phone", level),
            None,
            [("breaking", f"{P}.6.customProperties.classification")],
        )
        for level in ("quasi_identifier", "sensitive", "direct_identifier")
    ],
    (
        "apply mode changed",
        lambda d: custom(d, "applyMode", "append"),
        None,
        [("breaking", "customProperties.applyMode")],
    ),
    ("dataset id changed", lambda d: d.update(id="kotsa_centres"), None, [("breaking", "id")]),
    (
        "agency changed",
        lambda d: custom(d, "agency", "koroad"),
        None,
        [("breaking", "customProperties.agency")],
    ),
    (
        "sector changed",
        lambda d: custom(d, "sector", "environment_energy"),
        lambda d: custom(d, "agency", "seoul"),
        [("breaking", "customProperties.sector")],
    ),
    ("new error rule", add_rule("error"), None, [("breaking", "schema.0.quality.1")]),
    (
        "warning rule becomes an error",
        lambda d: prop(d, "road_address")["quality"][0].update(severity="error"),
        None,
        [("breaking", f"{P}.2.quality.0")],
    ),
    ("new optional column", add_column(False), None, [("compatible", f"{P}.22")]),
    (
        "integer to number",
        set_prop("inspection_lanes", logicalType="number"),
        None,
        [("compatible", f"{P}.8.logicalType")],
    ),
    (
        "date to timestamp",
        set_prop("reference_date", logicalType="timestamp"),
        None,
        [("compatible", f"{P}.21.logicalType")],
    ),
    (
        "integer to string",
        set_prop("inspection_lanes", logicalType="string"),
        None,
        [("compatible", f"{P}.8.logicalType")],
    ),
    (
        "column becomes optional",
        set_prop("latitude", required=False),
        None,
        [("compatible", f"{P}.4.required")],
    ),
    (
        "enum value added",
        lambda d: prop(d, "center_type")["enum"].append({"value": "기타"}),
        None,
        [("compatible", f"{P}.1.enum")],
    ),
    (
        "enum dropped",
        lambda d: prop(d, "center_type").pop("enum"),
        None,
        [("compatible", f"{P}.1.enum")],
    ),
    (
        "bounds relaxed",
        set_option("latitude", minimum=30, maximum=40),
        None,
        [
            ("compatible", f"{P}.4.logicalTypeOptions.minimum"),
            ("compatible", f"{P}.4.logicalTypeOptions.maximum"),
        ],
    ),
    (
        "maxLength raised",
        set_option("opening_hours", maxLength=200),
        set_option("opening_hours", maxLength=100),
        [("compatible", f"{P}.7.logicalTypeOptions.maxLength")],
    ),
    (
        "pattern removed",
        lambda d: prop(d, "phone").pop("logicalTypeOptions"),
        None,
        [("compatible", f"{P}.6.logicalTypeOptions.pattern")],
    ),
    (
        "access lowered",
        lambda d: custom(d, "accessLevel", "public"),
        lambda d: custom(d, "accessLevel", "sector"),
        [("compatible", "customProperties.accessLevel")],
    ),
    (
        "classification back to none",
        classify("phone", "none"),
        classify("phone", "sensitive"),
        [("compatible", f"{P}.6.customProperties.classification")],
    ),
    (
        "description and examples",
        set_prop("phone", description="대표 번호", examples=["02-000-0000"]),
        None,
        [("compatible", f"{P}.6.description"), ("compatible", f"{P}.6.examples")],
    ),
    ("new warning rule", add_rule("warning"), None, [("compatible", "schema.0.quality.1")]),
    (
        "quality rule removed",
        lambda d: prop(d, "road_address").pop("quality"),
        None,
        [("compatible", f"{P}.2.quality.0")],
    ),
    (
        "quality description reworded",
        lambda d: d["schema"][0]["quality"][0].update(description="비어 있으면 안 된다"),
        None,
        [("compatible", "schema.0.quality.0")],
    ),
    ("title changed", lambda d: d.update(name="자동차검사소"), None, [("compatible", "name")]),
    (
        "null values declared",
        lambda d: custom(d, "nullValues", ["", "-"]),
        None,
        [("compatible", "customProperties.nullValues")],
    ),
    (
        "k-anonymity added",
        lambda d: custom(d, "privacy", {"k": 5}),
        quasi_with(None),
        [("breaking", "customProperties.privacy.k")],
    ),
    (
        "k lowered",
        lambda d: custom(d, "privacy", {"k": 3}),
        quasi_with({"k": 10}),
        [("compatible", "customProperties.privacy.k")],
    ),
    (
        "generalisation added",
        lambda d: custom(d, "privacy", {"k": 5, "generalise": {"center_type": "first_token"}}),
        quasi_with({"k": 5}),
        [("breaking", "customProperties.privacy.generalise.center_type")],
    ),
    (
        "suppression limit lowered",
        lambda d: custom(d, "privacy", {"k": 5, "maxSuppressed": 0.01}),
        quasi_with({"k": 5, "maxSuppressed": 0.02}),
        [("breaking", "customProperties.privacy.maxSuppressed")],
    ),
    (
        "suppression limit raised",
        lambda d: custom(d, "privacy", {"k": 5, "maxSuppressed": 0.02}),
        quasi_with({"k": 5, "maxSuppressed": 0.01}),
        [("compatible", "customProperties.privacy.maxSuppressed")],
    ),
    (
        "allowed identifier dropped",
        set_prop("phone", customProperties=[{"property": "classification", "value": "none"}]),
        None,
        [("breaking", f"{P}.6.customProperties.allowedIdentifiers")],
    ),
    (
        "allowed identifier added",
        allow("center_name", ["person_name"]),
        None,
        [("compatible", f"{P}.0.customProperties.allowedIdentifiers")],
    ),
    (
        "property tag added",
        set_prop("phone", tags=["contact"]),
        None,
        [("compatible", f"{P}.6")],
    ),
]


@pytest.mark.parametrize(
    ("edit", "before", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_change_is_classified(
    tmp_path: Path, edit: Edit, before: Edit | None, expected: list[tuple[str, str]]
) -> None:
    old, new = pair(tmp_path, edit, before)
    diff = diff_contracts(old, new)
    assert [(c.kind, c.path) for c in diff.changes] == expected, diff.changes


def test_identical_contracts_have_no_changes() -> None:
    contract = load_contract(KOTSA)
    diff = diff_contracts(contract, contract)
    assert diff.changes == []
    assert not diff.refused


def versioned(old: str, new: str, edit: Edit, tmp_path: Path) -> ContractDiff:
    def bump(d: dict[str, Any]) -> None:
        edit(d)
        d["version"] = new

    before_edit, after_edit = pair(tmp_path, bump, lambda d: d.update(version=old))
    return diff_contracts(before_edit, after_edit)


BREAKING = set_prop("latitude", logicalType="integer")
COMPATIBLE = add_column(False)


@pytest.mark.parametrize(
    ("old", "new", "edit", "refused"),
    [
        ("1.0.0", "1.1.0", BREAKING, True),  # breaking without a major bump
        ("1.4.2", "1.4.3", BREAKING, True),
        ("1.0.0", "2.0.0", BREAKING, False),
        ("1.0.0", "2.0.0-rc.1", BREAKING, False),
        ("1.0.0", "1.1.0", COMPATIBLE, False),  # compatible with a minor bump
        ("1.0.0", "1.0.1", COMPATIBLE, False),
        ("1.0.0", "1.0.0", COMPATIBLE, True),  # changed without any bump
        ("1.1.0", "1.0.9", COMPATIBLE, True),
        ("1.0.0", "1.0.0-rc.1", COMPATIBLE, True),  # a pre-release sorts before its release
        ("1.0.0", "1.0.0", lambda d: None, False),  # nothing changed
        ("1.1.0", "1.0.0", lambda d: None, True),  # a version never goes back
    ],
)
def test_verdict(old: str, new: str, edit: Edit, refused: bool, tmp_path: Path) -> None:
    diff = versioned(old, new, edit, tmp_path)
    assert diff.refused is refused, diff.reasons
    assert diff.verdict == ("refused" if refused else "accepted")
    assert bool(diff.reasons) is refused


def test_refusal_reasons_name_the_major_bump(tmp_path: Path) -> None:
    diff = versioned("1.2.0", "1.3.0", BREAKING, tmp_path)
    assert diff.reasons == ["1 breaking change(s) need a new major version: bump 1.2.0 to 2.0.0"]
    unbumped = versioned("1.2.0", "1.2.0", COMPATIBLE, tmp_path)
    assert unbumped.reasons == ["the contract changed but its version 1.2.0 did not increase"]


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0.0", "latest"])
def test_non_semver_version_is_an_error(version: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not semver"):
        versioned("1.0.0", version, COMPATIBLE, tmp_path)
    with pytest.raises(ValueError):
        semver_key(version)


def test_semver_precedence() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-rc.1", "1.0.0"]
    assert sorted(order[::-1], key=semver_key) == order
    assert semver_key("1.0.0+build.5") == semver_key("1.0.0")
    assert semver_key("1.10.0") > semver_key("1.9.0")


def gongyu(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run(
        [GONGYU, "contracts", "diff", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def new_version(tmp_path: Path, version: str, edit: Edit) -> Path:
    doc = base()
    edit(doc)
    doc["version"] = version
    return write(doc, tmp_path / f"new-{version}.yaml")


def test_cli_accepts_compatible_change(tmp_path: Path) -> None:
    done = gongyu(KOTSA, new_version(tmp_path, "1.2.0", COMPATIBLE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"compatible {P}.22: new optional column fax",
        "1.1.0 -> 1.2.0: accepted",
    ]


def test_cli_refuses_breaking_change_without_major_bump(tmp_path: Path) -> None:
    done = gongyu(KOTSA, new_version(tmp_path, "1.2.0", BREAKING))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"BREAKING {P}.4.logicalType: latitude: type narrowed from number to integer",
        "1.1.0 -> 1.2.0: refused",
    ]
    assert "bump 1.1.0 to 2.0.0" in done.stderr
    assert f"  {P}.4.logicalType: latitude: type narrowed" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_json(tmp_path: Path) -> None:
    done = gongyu(KOTSA, new_version(tmp_path, "2.0.0", BREAKING), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verdict"] == "accepted"
    assert result["refused"] is False
    assert (result["old_version"], result["new_version"]) == ("1.1.0", "2.0.0")
    assert result["changes"] == [
        {
            "kind": "breaking",
            "path": f"{P}.4.logicalType",
            "message": "latitude: type narrowed from number to integer",
        }
    ]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("missing.yaml", "No such file or directory"),
        ("bad-agency.yaml", "unknown agency 'nowhere'"),
        ("not-semver.yaml", "version: version '1.0' is not semver"),
    ],
)
def test_cli_unloadable_file_exits_2(new: str, message: str, tmp_path: Path) -> None:
    write(
        base() | {"customProperties": [{"property": "agency", "value": "nowhere"}]},
        tmp_path / "bad-agency.yaml",
    )
    write(base() | {"version": "1.0"}, tmp_path / "not-semver.yaml")
    done = gongyu(KOTSA, tmp_path / new)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
