"""Read ODCS YAML files into `Contract`s, with errors that name the file and the field."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml
from open_data_contract_standard.model import (
    CustomProperty,
    OpenDataContractStandard,
    SchemaProperty,
    Team,
)
from pydantic import ValidationError

from contracts.model import (
    AccessLevel,
    ApplyMode,
    Classification,
    Column,
    Contract,
    LogicalType,
    QualityRule,
    Severity,
)
from sectors.registry import Registry, default_registry

DEFAULT_DIR = Path(__file__).parent


class ContractError(ValueError):
    """A contract that cannot be used; `problems` are `(field path, message)` pairs."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}:{where}: {msg}" for where, msg in problems))


def _custom(props: list[CustomProperty] | None) -> dict[str, Any]:
    return {p.property: p.value for p in props or [] if p.property}


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(root)"


E = TypeVar("E", bound=StrEnum)


def _choice(
    kind: type[E], value: Any, where: str, what: str, problems: list[tuple[str, str]]
) -> E | None:
    """`value` as a member of `kind`, or None with a problem naming the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        problems.append((where, f"unknown {what} {value!r}; use one of {allowed}"))
        return None


def _steward(odcs: OpenDataContractStandard) -> str | None:
    """The first team member whose role names a steward (ODCS `team`, object or list form)."""
    team = odcs.team
    members = team.members if isinstance(team, Team) else team
    return next(
        (m.username for m in members or [] if m.username and "steward" in (m.role or "")), None
    )


def _column(prop: SchemaProperty, where: str, problems: list[tuple[str, str]]) -> Column | None:
    options = prop.logicalTypeOptions or {}
    custom = _custom(prop.customProperties)
    logical = _choice(
        LogicalType, prop.logicalType or "string", f"{where}.logicalType", "logicalType", problems
    )
    classification = _choice(
        Classification,
        custom.get("classification", "none"),
        f"{where}.customProperties.classification",
        "classification",
        problems,
    )
    if logical is None or classification is None:
        return None
    if not prop.name:
        problems.append((f"{where}.name", "every property needs a name"))
        return None
    return Column(
        name=prop.name,
        physical_name=prop.physicalName or prop.name,
        logical_type=logical,
        description=prop.description,
        required=bool(prop.required) or bool(prop.primaryKey),
        unique=bool(prop.unique),
        primary_key_position=(prop.primaryKeyPosition or 1) if prop.primaryKey else None,
        pattern=options.get("pattern"),
        minimum=options.get("minimum"),
        maximum=options.get("maximum"),
        min_length=options.get("minLength"),
        max_length=options.get("maxLength"),
        format=options.get("format"),
        enum=tuple(str(e.value) for e in prop.enum) if prop.enum else None,
        classification=classification,
        examples=tuple(prop.examples or ()),
    )


def _rules(column: str | None, entries: list[Any] | None, where: str) -> list[QualityRule]:
    rules = []
    for i, q in enumerate(entries or []):
        spec = q.model_dump(exclude_none=True, by_alias=True)
        severity = Severity.warning if (q.severity or "").lower() == "warning" else Severity.error
        name = q.name or q.id or q.metric or q.rule or f"{where}.quality.{i}"
        rules.append(
            QualityRule(
                column=column, name=name, severity=severity, description=q.description, spec=spec
            )
        )
    return rules


def load_contract(path: Path, registry: Registry | None = None) -> Contract:
    """Load one contract file; raises ContractError listing every problem with its field path."""
    registry = registry or default_registry()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContractError(path, [("(file)", str(exc).replace("\n", " "))]) from exc
    try:
        odcs = OpenDataContractStandard.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(
            path, [(_loc(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        ) from exc

    problems: list[tuple[str, str]] = []
    custom = _custom(odcs.customProperties)
    for key in ("sector", "agency", "accessLevel"):
        if key not in custom:
            problems.append((f"customProperties.{key}", f"missing; every contract names its {key}"))
    sector, agency = custom.get("sector"), custom.get("agency")
    if sector and not registry.sector(sector):
        known = ", ".join(s.id for s in registry.sectors)
        problems.append(("customProperties.sector", f"unknown sector {sector!r}; one of {known}"))
    if agency and not registry.agency(agency):
        problems.append(
            ("customProperties.agency", f"unknown agency {agency!r}; add it to sectors.yaml first")
        )
    elif (
        agency
        and sector
        and registry.sector(sector)
        and sector not in {s.id for s in registry.sectors_of(agency)}
    ):
        problems.append(
            ("customProperties.agency", f"agency {agency!r} is not a member of sector {sector!r}")
        )
    access = _choice(
        AccessLevel,
        custom.get("accessLevel", AccessLevel.private.value),
        "customProperties.accessLevel",
        "access level",
        problems,
    )
    mode = _choice(
        ApplyMode,
        custom.get("applyMode", ApplyMode.replace.value),
        "customProperties.applyMode",
        "apply mode",
        problems,
    )
    if not odcs.schema_ or len(odcs.schema_) != 1:
        problems.append(("schema", "a contract describes exactly one table (one schema object)"))
        raise ContractError(path, problems)
    obj = odcs.schema_[0]
    columns: list[Column] = []
    rules = _rules(None, obj.quality, "schema.0")
    for i, prop in enumerate(obj.properties or []):
        where = f"schema.0.properties.{i}"
        col = _column(prop, where, problems)
        if col:
            columns.append(col)
            rules += _rules(col.name, prop.quality, where)
    if not columns:
        problems.append(("schema.0.properties", "a contract needs at least one property"))
    names = [c.name for c in columns]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("schema.0.properties", f"property name {dup!r} is used twice"))
    if mode == ApplyMode.upsert and not any(c.primary_key_position for c in columns):
        problems.append(("customProperties.applyMode", "upsert needs a primaryKey property"))
    if not odcs.version:
        problems.append(("version", "missing; contracts are versioned (semver)"))
    if problems:
        raise ContractError(path, problems)
    assert sector and agency and access and mode  # narrowed by the checks above
    return Contract(
        id=odcs.id,
        version=odcs.version or "",
        title=odcs.name or odcs.id,
        description=(odcs.description.purpose if odcs.description else None),
        sector=sector,
        agency=agency,
        access=access,
        apply_mode=mode,
        steward=_steward(odcs),
        null_values=tuple(custom.get("nullValues", [""])),
        columns=tuple(columns),
        quality=tuple(rules),
        path=path,
        odcs=odcs,
    )


def contract_files(root: Path = DEFAULT_DIR) -> list[Path]:
    """Every contract file under `root` (`<sector>/<agency>/<dataset>.yaml`)."""
    return sorted(root.glob("*/*/*.yaml"))


def load_contracts(root: Path = DEFAULT_DIR, registry: Registry | None = None) -> list[Contract]:
    """Load every contract under `root`; raises ContractError for the first bad file."""
    contracts = [load_contract(p, registry) for p in contract_files(root)]
    ids = [c.id for c in contracts]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        paths = [str(c.path) for c in contracts if c.id == dup]
        raise ContractError(Path(paths[1]), [("id", f"dataset id {dup!r} also used by {paths[0]}")])
    return contracts
