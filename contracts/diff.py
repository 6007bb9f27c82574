"""Compare two versions of a contract: which changes break deliveries or readers, and whether the
new version number says so (semver: a breaking change needs a new MAJOR version).

Paths are ODCS field paths in the new contract (in the old one for what was removed), so a
steward can find the line; messages name the column.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, computed_field

from contracts.model import AccessLevel, Classification, Column, Contract, LogicalType, Severity

# semver.org's own regex: MAJOR.MINOR.PATCH[-prerelease][+build], no leading zeros.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)

# Type changes every old value survives (anything can be read as a string).
_WIDENINGS = {(LogicalType.integer, LogicalType.number), (LogicalType.date, LogicalType.timestamp)}

_ACCESS_ORDER = list(AccessLevel)  # declared from least to most protected


REASONS = {
    "breaking": "{count} breaking change(s) need a new major version: bump {old} to {major}.0.0",
    "not_increased": "the contract changed but its version {new} did not increase",
    "lower": "version {new} is lower than {old}",
}


class Change(BaseModel):
    """One difference between the two contracts."""

    kind: Literal["breaking", "compatible"]
    path: str
    message: str


class ContractDiff(BaseModel):
    """Every change from `old_version` to `new_version`, and whether the version bump fits."""

    old_version: str
    new_version: str
    changes: list[Change]

    @property
    def breaking(self) -> list[Change]:
        """The changes that need a new major version."""
        return [c for c in self.changes if c.kind == "breaking"]

    @property
    def refusals(self) -> list[tuple[str, dict[str, Any]]]:
        """Why the new version is refused, as (code, values): `reasons` words them in English,
        a delivery's report in Korean and English (`contract.<code>` message keys)."""
        old, new = semver_key(self.old_version), semver_key(self.new_version)
        found: list[tuple[str, dict[str, Any]]] = []
        if self.breaking and new[0] <= old[0]:
            found.append(
                (
                    "breaking",
                    {"count": len(self.breaking), "old": self.old_version, "major": old[0] + 1},
                )
            )
        if new <= old and self.changes:
            found.append(("not_increased", {"new": self.new_version}))
        elif new < old:
            found.append(("lower", {"new": self.new_version, "old": self.old_version}))
        return found

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> list[str]:
        """Why the new version is refused (empty when it is accepted)."""
        return [REASONS[code].format(**values) for code, values in self.refusals]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refused(self) -> bool:
        """True when the new version may not replace the old one."""
        return bool(self.reasons)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> Literal["accepted", "refused"]:
        """`refused` or `accepted`."""
        return "refused" if self.refused else "accepted"


def semver_key(version: str) -> tuple[int, int, int, tuple[tuple[int, int | str], ...]]:
    """A sort key with semver precedence; raises ValueError for anything that is not semver."""
    match = _SEMVER.match(version)
    if not match:
        raise ValueError(f"version {version!r} is not semver (MAJOR.MINOR.PATCH)")
    major, minor, patch, pre = match.groups()
    # A release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones.
    ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ()
    return int(major), int(minor), int(patch), ids or ((2, 0),)


def _prop(i: int) -> str:
    return f"schema.0.properties.{i}"


def _tighter(old: Any, new: Any, lower: bool) -> bool:
    """True when a bound appeared, or a lower bound rose / an upper bound fell.

    Values that do not compare (a number against a date string) count as tighter.
    """
    if new is None:
        return False
    if old is None:
        return True
    try:
        return bool(new > old) if lower else bool(new < old)
    except TypeError:
        return True


def _raw_properties(contract: Contract) -> list[Any]:
    """The ODCS property objects, in the order `contract.columns` was built from."""
    return (contract.odcs.schema_ or [])[0].properties or []


def _column_changes(old: Column, new: Column, where: str) -> list[Change]:
    """Changes to one column that kept its name and physical name."""
    out: list[Change] = []

    def add(breaking: bool, field: str, message: str) -> None:
        kind: Literal["breaking", "compatible"] = "breaking" if breaking else "compatible"
        out.append(Change(kind=kind, path=f"{where}.{field}", message=f"{new.name}: {message}"))

    if old.logical_type != new.logical_type:
        pair = (old.logical_type, new.logical_type)
        widened = pair in _WIDENINGS or new.logical_type == LogicalType.string
        add(
            not widened,
            "logicalType",
            f"type {'widened' if widened else 'narrowed'} from {pair[0]} to {pair[1]}",
        )
    if old.format != new.format:
        add(True, "logicalTypeOptions.format", f"format changed from {old.format} to {new.format}")
    if old.required != new.required:
        add(new.required, "required", "became required" if new.required else "became optional")
    if old.unique != new.unique:
        add(new.unique, "unique", "became unique" if new.unique else "no longer unique")
    if old.enum != new.enum:
        if old.enum is None:
            add(True, "enum", f"enum added: {', '.join(new.enum or ())}")
        elif new.enum is None:
            add(False, "enum", "enum removed")
        else:
            if removed := [v for v in old.enum if v not in new.enum]:
                add(True, "enum", f"enum values removed: {', '.join(removed)}")
            if added := [v for v in new.enum if v not in old.enum]:
                add(False, "enum", f"enum values added: {', '.join(added)}")
    if old.pattern != new.pattern:
        verb = "removed" if new.pattern is None else "added" if old.pattern is None else "changed"
        add(new.pattern is not None, "logicalTypeOptions.pattern", f"pattern {verb}")
    for field, old_v, new_v, lower in (
        ("minimum", old.minimum, new.minimum, True),
        ("minLength", old.min_length, new.min_length, True),
        ("maximum", old.maximum, new.maximum, False),
        ("maxLength", old.max_length, new.max_length, False),
    ):
        if old_v != new_v:
            add(
                _tighter(old_v, new_v, lower),
                f"logicalTypeOptions.{field}",
                f"{field} changed from {old_v} to {new_v}",
            )
    if old.classification != new.classification:
        # Published values of a protected column get masked or pseudonymised; only a move back
        # to `none` leaves what readers already had intact.
        add(
            new.classification != Classification.none,
            "customProperties.classification",
            f"classification changed from {old.classification} to {new.classification}",
        )
    if old.allowed_identifiers != new.allowed_identifiers:
        dropped = [k for k in old.allowed_identifiers if k not in new.allowed_identifiers]
        gained = [k for k in new.allowed_identifiers if k not in old.allowed_identifiers]
        if dropped:
            add(
                True,
                "customProperties.allowedIdentifiers",
                f"no longer allows {', '.join(dropped)}",
            )
        if gained:
            add(False, "customProperties.allowedIdentifiers", f"now allows {', '.join(gained)}")
    if old.description != new.description:
        add(False, "description", "description changed")
    if old.examples != new.examples:
        add(False, "examples", "examples changed")
    return out


def _columns(old: Contract, new: Contract) -> list[Change]:
    """Pair columns by name, then by physical name (a rename), and compare each pair."""
    out: list[Change] = []
    new_index = {c.name: i for i, c in enumerate(new.columns)}
    new_by_physical = {c.physical_name: i for i, c in enumerate(new.columns)}
    matched: set[int] = set()
    for oi, oc in enumerate(old.columns):
        ni = new_index.get(oc.name, new_by_physical.get(oc.physical_name))
        if ni is None or ni in matched:
            out.append(Change(kind="breaking", path=_prop(oi), message=f"column {oc.name} removed"))
            continue
        matched.add(ni)
        nc = new.columns[ni]
        if nc.name != oc.name:
            message = (
                f"column renamed from {oc.name} to {nc.name} (physical name {nc.physical_name})"
            )
            out.append(Change(kind="breaking", path=f"{_prop(ni)}.name", message=message))
        elif nc.physical_name != oc.physical_name:
            message = (
                f"column {nc.name} renamed in the agency's file "
                f"from {oc.physical_name} to {nc.physical_name}"
            )
            out.append(Change(kind="breaking", path=f"{_prop(ni)}.physicalName", message=message))
        found = _column_changes(oc, nc, _prop(ni))
        # Fields Gongyu does not read (tags, businessName, ...) still count as a change; the
        # excluded ones are reported by the rename, primary-key and quality checks.
        covered = {"name", "physicalName", "primaryKey", "primaryKeyPosition", "quality"}
        old_raw = _raw_properties(old)[oi].model_dump(exclude=covered)
        if not found and old_raw != _raw_properties(new)[ni].model_dump(exclude=covered):
            found.append(
                Change(
                    kind="compatible", path=_prop(ni), message=f"{nc.name}: other fields changed"
                )
            )
        out += found
    for ni, nc in enumerate(new.columns):
        if ni not in matched:
            kind: Literal["breaking", "compatible"] = "breaking" if nc.required else "compatible"
            what = "required" if nc.required else "optional"
            out.append(Change(kind=kind, path=_prop(ni), message=f"new {what} column {nc.name}"))
    if old.primary_key != new.primary_key:
        message = f"primary key changed from {old.primary_key} to {new.primary_key}"
        out.append(Change(kind="breaking", path="schema.0.properties", message=message))
    return out


def _quality_paths(contract: Contract) -> dict[tuple[str | None, str], tuple[str, dict[str, Any]]]:
    """Each quality rule by (column, name): its ODCS path and its spec as written."""
    index = {c.name: i for i, c in enumerate(contract.columns)}
    seen: dict[str | None, int] = {}
    rules = {}
    for rule in contract.quality:
        n = seen[rule.column] = seen.get(rule.column, -1) + 1
        base = "schema.0" if rule.column is None else _prop(index[rule.column])
        rules[(rule.column, rule.name)] = (f"{base}.quality.{n}", rule.spec)
    return rules


def _quality(old: Contract, new: Contract) -> list[Change]:
    """New or changed `error` rules may fail deliveries that passed; warnings never block."""
    out: list[Change] = []
    old_rules, new_rules = _quality_paths(old), _quality_paths(new)
    severity = {(r.column, r.name): r.severity for r in new.quality}
    for key, (path, spec) in new_rules.items():
        where = f"{key[0]}: " if key[0] else ""
        blocking = severity[key] == Severity.error
        if key not in old_rules:
            kind: Literal["breaking", "compatible"] = "breaking" if blocking else "compatible"
            message = f"{where}new {severity[key]} quality rule {key[1]}"
            out.append(Change(kind=kind, path=path, message=message))
        elif old_rules[key][1] != spec:
            # A reworded description never changes which deliveries pass.
            checks = [
                {k: v for k, v in r.items() if k != "description"}
                for r in (old_rules[key][1], spec)
            ]
            kind = "breaking" if blocking and checks[0] != checks[1] else "compatible"
            message = f"{where}{severity[key]} quality rule {key[1]} changed"
            out.append(Change(kind=kind, path=path, message=message))
    for key, (path, _) in old_rules.items():
        if key not in new_rules:
            where = f"{key[0]}: " if key[0] else ""
            message = f"{where}quality rule {key[1]} removed"
            out.append(Change(kind="compatible", path=path, message=message))
    return out


def _table(old: Contract, new: Contract) -> list[Change]:
    """Dataset-level fields: identity, access, apply mode."""
    out: list[Change] = []
    for path, field, old_v, new_v in (
        ("id", "dataset id", old.id, new.id),
        ("customProperties.sector", "sector", old.sector, new.sector),
        ("customProperties.agency", "agency", old.agency, new.agency),
    ):
        if old_v != new_v:
            message = f"{field} changed from {old_v} to {new_v}: a different table"
            out.append(Change(kind="breaking", path=path, message=message))
    if old.access != new.access:
        raised = _ACCESS_ORDER.index(new.access) > _ACCESS_ORDER.index(old.access)
        out.append(
            Change(
                kind="breaking" if raised else "compatible",
                path="customProperties.accessLevel",
                message=f"access level {'raised' if raised else 'lowered'} "
                f"from {old.access} to {new.access}",
            )
        )
    if old.apply_mode != new.apply_mode:
        message = f"apply mode changed from {old.apply_mode} to {new.apply_mode}"
        out.append(Change(kind="breaking", path="customProperties.applyMode", message=message))
    return out


def _privacy(old: Contract, new: Contract) -> list[Change]:
    """k-anonymity and generalisation: a stricter gate breaks stewards, new levels break readers."""
    out: list[Change] = []
    path = "customProperties.privacy"
    before, after = old.privacy, new.privacy
    if before.k != after.k:
        stricter = after.k is not None and (before.k is None or after.k > before.k)
        out.append(
            Change(
                kind="breaking" if stricter else "compatible",
                path=f"{path}.k",
                message=f"k-anonymity k changed from {before.k} to {after.k}",
            )
        )
    for column in sorted(before.generalise.keys() | after.generalise.keys()):
        was, now = before.generalise.get(column), after.generalise.get(column)
        if was != now:
            # The published values (and often their type) change: readers see a new column.
            message = f"{column}: published generalisation changed from {was} to {now}"
            out.append(Change(kind="breaking", path=f"{path}.generalise.{column}", message=message))
    if before.max_suppressed != after.max_suppressed:
        lowered = after.max_suppressed < before.max_suppressed
        message = (
            f"suppression limit changed from {before.max_suppressed:.2%} "
            f"to {after.max_suppressed:.2%}"
        )
        kind: Literal["breaking", "compatible"] = "breaking" if lowered else "compatible"
        out.append(Change(kind=kind, path=f"{path}.maxSuppressed", message=message))
    return out


def _other(old: Contract, new: Contract) -> list[Change]:
    """Fields no rule above reads (name, team, tags, nullValues, the table's description, ...)."""
    old_doc = old.odcs.model_dump(by_alias=True, exclude_none=True)
    new_doc = new.odcs.model_dump(by_alias=True, exclude_none=True)
    pairs = [
        (key, old_doc.get(key), new_doc.get(key))
        for key in sorted(old_doc.keys() | new_doc.keys())
        if key not in {"version", "id", "schema", "customProperties"}
    ]
    table = {"properties", "quality"}
    old_table, new_table = old_doc["schema"][0], new_doc["schema"][0]
    pairs += [
        (f"schema.0.{key}", old_table.get(key), new_table.get(key))
        for key in sorted(old_table.keys() | new_table.keys())
        if key not in table
    ]
    read = {"sector", "agency", "accessLevel", "applyMode", "privacy"}
    old_custom, new_custom = _custom(old_doc), _custom(new_doc)
    pairs += [
        (f"customProperties.{key}", old_custom.get(key), new_custom.get(key))
        for key in sorted(old_custom.keys() | new_custom.keys())
        if key not in read
    ]
    return [
        Change(kind="compatible", path=path, message=f"{path} changed")
        for path, old_v, new_v in pairs
        if old_v != new_v
    ]


def _custom(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        p["property"]: p.get("value")
        for p in doc.get("customProperties") or []
        if p.get("property")
    }


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    """Every change from `old` to `new`, classified; raises ValueError for a non-semver version."""
    for contract in (old, new):
        try:
            semver_key(contract.version)
        except ValueError as exc:
            raise ValueError(f"{contract.path}:version: {exc}") from None
    changes = (
        _table(old, new)
        + _columns(old, new)
        + _quality(old, new)
        + _privacy(old, new)
        + _other(old, new)
    )
    return ContractDiff(old_version=old.version, new_version=new.version, changes=changes)
