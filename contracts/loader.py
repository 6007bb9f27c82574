"""Read ODCS YAML files into `Contract`s, with errors that name the file and the field."""

from __future__ import annotations

import datetime as dt
import re
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
from pydantic import BaseModel, ValidationError

from contracts.diff import semver_key
from contracts.licences import Licence
from contracts.model import (
    GENERALISATION_LEVELS,
    AccessLevel,
    ApplyMode,
    Approval,
    Classification,
    Column,
    Contract,
    Coverage,
    English,
    IdentifierKind,
    LogicalType,
    Privacy,
    Product,
    QualityRule,
    Severity,
    Sla,
)
from contracts.product_sql import ProductSqlError, dataset_of, input_tables
from gongyu.ground.yamlfile import SAFE_LOADER, safe_load
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
    allowed = [
        _choice(
            IdentifierKind,
            kind,
            f"{where}.customProperties.allowedIdentifiers",
            "identifier kind",
            problems,
        )
        for kind in custom.get("allowedIdentifiers", [])
    ]
    if logical is None or classification is None or None in allowed:
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
        allowed_identifiers=tuple(a for a in allowed if a is not None),
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


_UNITS = {
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
    "m": dt.timedelta(days=31),  # ODCS month: a calendar month at its longest
    "y": dt.timedelta(days=366),
}
_UNIT_NAMES = {"hour": "h", "day": "d", "week": "w", "month": "m", "year": "y"}


def _duration(value: Any, unit: str | None) -> dt.timedelta | None:
    """`value` `unit` (ODCS units: h/d/w/m/y, singular or plural words) as a timedelta."""
    word = (unit or "d").lower()
    key = _UNIT_NAMES.get(word.rstrip("s"), word)
    if key not in _UNITS or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _UNITS[key] * value


def _sla(odcs: OpenDataContractStandard, problems: list[tuple[str, str]]) -> Sla:
    found: dict[str, dt.timedelta] = {}
    for i, prop in enumerate(odcs.slaProperties or []):
        name = (prop.property or "").lower()
        if name not in ("frequency", "latency"):
            continue  # other SLA properties (retention, availability...) are informative here
        span = _duration(prop.value, prop.unit)
        if span is None or span <= dt.timedelta(0):
            problems.append(
                (
                    f"slaProperties.{i}",
                    f"{name} needs a positive number and a unit (h, d, w, m or y), "
                    f"got {prop.value!r} {prop.unit or ''}".rstrip(),
                )
            )
            continue
        found[name] = span
    return Sla(**found)


_ROUND = re.compile(r"^round_\d+(\.\d+)?$")
_RESERVED_ID = re.compile(r"_v\d+$")


def _privacy(raw: Any, columns: list[Column], problems: list[tuple[str, str]]) -> Privacy:
    where = "customProperties.privacy"
    try:
        privacy = Privacy.model_validate(raw or {})
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            problems.append((f"{where}.{_loc(e['loc'])}", e["msg"]))
        return Privacy()
    by_name = {c.name: c for c in columns}
    quasi = [c for c in columns if c.classification == Classification.quasi_identifier]
    if privacy.k is not None and not quasi:
        problems.append((f"{where}.k", "k needs at least one quasi_identifier column"))
    for column, level in privacy.generalise.items():
        if column not in by_name:
            problems.append((f"{where}.generalise.{column}", "no such property"))
        elif by_name[column].classification != Classification.quasi_identifier:
            problems.append(
                (f"{where}.generalise.{column}", "only quasi_identifier columns are generalised")
            )
        if level not in GENERALISATION_LEVELS and not _ROUND.match(level):
            problems.append(
                (
                    f"{where}.generalise.{column}",
                    f"unknown level {level!r}; use one of {', '.join(GENERALISATION_LEVELS)}",
                )
            )
    if privacy.max_suppressed and privacy.k is None:
        problems.append((f"{where}.maxSuppressed", "suppression needs k"))
    return privacy


M = TypeVar("M", bound=BaseModel)


def _custom_model(kind: type[M], raw: Any, where: str, problems: list[tuple[str, str]]) -> M:
    """A custom property's object as `kind`, or its default with each problem's field path."""
    try:
        return kind.model_validate(raw or {})
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            problems.append((where + (f".{_loc(e['loc'])}" if e["loc"] else ""), e["msg"]))
        return kind()


def _approval(raw: Any, problems: list[tuple[str, str]]) -> Approval:
    return _custom_model(Approval, raw, "customProperties.approval", problems)


def _product(
    raw: Any,
    path: Path,
    contract_id: str,
    columns: list[Column],
    mode: ApplyMode | None,
    problems: list[tuple[str, str]],
) -> Product | None:
    """`customProperties.product` with its SQL read (from `sqlFile` beside a contract file) and
    its inputs taken from the SQL."""
    where = "customProperties.product"
    if raw is None:
        return None
    if isinstance(raw, dict) and "inputs" in raw:
        problems.append((f"{where}.inputs", "inputs are read from the SQL; remove the list"))
        return None
    spec = _custom_model(Product, raw, where, problems)
    sql = spec.sql
    if spec.sql_file:
        target = path.parent / spec.sql_file
        if spec.sql_file != f"{path.stem}.sql":
            problems.append((f"{where}.sqlFile", f"the query lives beside it as {path.stem}.sql"))
            return None
        try:
            sql = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(
                (f"{where}.sqlFile", f"cannot read {target.name}: {exc.strerror or exc}")
            )
            return None
    elif not sql.strip():
        problems.append((f"{where}.sql", "a product needs its SQL (sql, or sqlFile beside it)"))
        return None
    try:
        tables = input_tables(sql)
    except ProductSqlError as exc:
        problems.append((f"{where}.sql", str(exc)))
        return None
    inputs = tuple(dict.fromkeys(dataset_of(name) for _, name in tables))
    if not inputs:
        problems.append((f"{where}.sql", "a product reads at least one published dataset"))
    if contract_id in inputs:
        problems.append((f"{where}.sql", "a product cannot read its own table"))
    if mode is not None and mode != ApplyMode.replace:
        problems.append(
            ("customProperties.applyMode", "a product replaces its table at each build: replace")
        )
    if spec.aggregate and spec.aggregate.count_column not in {c.name for c in columns}:
        problems.append((f"{where}.aggregate.countColumn", "no such property"))
    return spec.model_copy(update={"sql": sql, "inputs": inputs})


def load_contract(path: Path, registry: Registry | None = None) -> Contract:
    """Load one contract file; raises ContractError listing every problem with its field path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(path, [("(file)", str(exc).replace("\n", " "))]) from exc
    return parse_contract(text, path, registry)


def refuse_aliases(text: str, path: Path) -> None:
    """Raise ContractError when the YAML uses anchors and aliases: contracts come from callers
    now, and a few nested aliases expand to billions of nodes in whatever walks the result."""
    try:
        for event in yaml.parse(text, Loader=SAFE_LOADER):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                where = f"line {mark.line + 1}" if mark else "(file)"
                raise ContractError(
                    path, [(where, "YAML aliases (*name) are not accepted; write the value out")]
                )
    except yaml.YAMLError as exc:
        raise ContractError(path, [("(file)", str(exc).replace("\n", " "))]) from exc


def parse_contract(text: str, path: Path, registry: Registry | None = None) -> Contract:
    """A contract from its YAML text (`path` names it in errors and in `Contract.path`)."""
    registry = registry or default_registry()
    refuse_aliases(text, path)
    try:
        raw = safe_load(text)
    except yaml.YAMLError as exc:
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
    else:
        try:
            semver_key(odcs.version)  # the major version names the table version
        except ValueError as exc:
            problems.append(("version", str(exc)))
    if _RESERVED_ID.search(odcs.id):
        problems.append(
            ("id", "ids ending in _v<number> are reserved: <id>_v2 is major version 2's table")
        )
    privacy = _privacy(custom.get("privacy"), columns, problems)
    sla = _sla(odcs, problems)
    approval = _approval(custom.get("approval"), problems)
    licence = (
        _choice(Licence, custom["licence"], "customProperties.licence", "licence", problems)
        if custom.get("licence") is not None
        else None
    )
    coverage = _custom_model(
        Coverage, custom.get("temporalCoverage"), "customProperties.temporalCoverage", problems
    )
    if coverage.start and coverage.end and coverage.end < coverage.start:
        problems.append(("customProperties.temporalCoverage.end", "ends before it starts"))
    english = _custom_model(English, custom.get("english"), "customProperties.english", problems)
    product = _product(custom.get("product"), path, odcs.id, columns, mode, problems)
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
        privacy=privacy,
        sla=sla,
        approval=approval,
        licence=licence,
        coverage=coverage,
        english=english,
        product=product,
        path=path,
        odcs=odcs,
        text=text,
    )


def contract_files(root: Path = DEFAULT_DIR) -> list[Path]:
    """Every contract file under `root` (`<sector>/<agency>/<dataset>.yaml`)."""
    return sorted(root.glob("*/*/*.yaml"))


def write_contracts(contracts: list[Contract], root: Path) -> list[Path]:
    """Write each contract's text to `<root>/<sector>/<agency>/<id>.yaml` (the seed layout)."""
    written = []
    for contract in contracts:
        path = root / contract.sector / contract.agency / f"{contract.id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contract.text, encoding="utf-8")
        written.append(path)
        if contract.product and contract.product.sql_file:
            sql = path.parent / contract.product.sql_file
            sql.write_text(contract.product.sql, encoding="utf-8")
            written.append(sql)
    return written


def load_contracts(root: Path = DEFAULT_DIR, registry: Registry | None = None) -> list[Contract]:
    """Load every contract under `root`; raises ContractError for the first bad file."""
    contracts = [load_contract(p, registry) for p in contract_files(root)]
    ids = [c.id for c in contracts]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        paths = [str(c.path) for c in contracts if c.id == dup]
        raise ContractError(Path(paths[1]), [("id", f"dataset id {dup!r} also used by {paths[0]}")])
    return contracts
