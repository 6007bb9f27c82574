"""Lint contract files: Gongyu's loader, the folder layout, datacontract-cli and sanity checks.

Every finding is a `LintIssue` naming the file and the field path, so a steward knows what to fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from contracts.loader import DEFAULT_DIR, ContractError, contract_files, load_contract
from sectors.registry import Registry

IssueSeverity = Literal["error", "warning"]
_DC_PATH = re.compile(r"^data(?:\.(?P<path>[^:\s]+))?: (?P<message>.*)$", re.DOTALL)


class LintIssue(BaseModel):
    """One finding; `str(issue)` is `file:path: message`."""

    model_config = ConfigDict(frozen=True)

    file: str
    path: str
    message: str
    severity: IssueSeverity = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.path}: {self.message}"


def lint(
    paths: list[Path], registry: Registry | None = None, root: Path = DEFAULT_DIR
) -> list[LintIssue]:
    """Lint each contract file; files under `root` must sit at `<sector>/<agency>/<id>.yaml`."""
    issues: list[LintIssue] = []
    seen: dict[str, Path] = {}
    for path in map(Path, paths):
        file_issues, raw = _lint_file(path, registry, root)
        issues += file_issues
        dataset = raw.get("id") if raw else None
        if isinstance(dataset, str):
            if dataset in seen:
                issues.append(
                    _issue(path, "id", f"dataset id {dataset!r} also used by {seen[dataset]}")
                )
            seen.setdefault(dataset, path)
    return issues


def lint_all(root: Path = DEFAULT_DIR, registry: Registry | None = None) -> list[LintIssue]:
    """Lint every contract under `root`."""
    return lint(contract_files(root), registry, root)


def _issue(path: Path, where: str, message: str, severity: IssueSeverity = "error") -> LintIssue:
    return LintIssue(file=str(path), path=where, message=message, severity=severity)


def _lint_file(
    path: Path, registry: Registry | None, root: Path
) -> tuple[list[LintIssue], dict[str, Any] | None]:
    try:
        load_contract(path, registry)
        issues: list[LintIssue] = []
    except ContractError as exc:
        issues = [_issue(path, where, msg) for where, msg in exc.problems]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None
    if not isinstance(raw, dict):
        return issues, None  # unreadable or not a mapping: the loader already said so
    issues += _layout(path, raw, root)
    issues += _datacontract(path)
    issues += _sanity(path, raw)
    return issues, raw


def _custom(raw: dict[str, Any]) -> dict[str, Any]:
    entries = raw.get("customProperties") or []
    return {e.get("property"): e.get("value") for e in entries if isinstance(e, dict)}


def _layout(path: Path, raw: dict[str, Any], root: Path) -> list[LintIssue]:
    try:
        parts = path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        return []  # outside the contracts root: no layout to hold it to
    if len(parts) != 3 or not parts[2].endswith(".yaml"):
        return [_issue(path, "(file)", "contracts live at <sector>/<agency>/<dataset id>.yaml")]
    custom = _custom(raw)
    expected = {
        "customProperties.sector": (parts[0], custom.get("sector")),
        "customProperties.agency": (parts[1], custom.get("agency")),
        "id": (parts[2].removesuffix(".yaml"), raw.get("id")),
    }
    return [
        _issue(path, where, f"is {actual!r} but the file sits under {folder!r}")
        for where, (folder, actual) in expected.items()
        if actual != folder
    ]


def _datacontract(path: Path) -> list[LintIssue]:
    from datacontract.data_contract import DataContract  # slow import, only when linting

    run = DataContract(data_contract_file=str(path), all_errors=True).lint()
    issues = []
    for check in run.checks:
        result = getattr(check.result, "value", check.result)
        if result not in ("failed", "error", "warning"):
            continue
        reason = check.reason or check.name or "datacontract lint failed"
        match = _DC_PATH.match(reason)
        where = (match.group("path") if match else None) or check.field or "(root)"
        message = match.group("message") if match else reason
        severity: IssueSeverity = "warning" if result == "warning" else "error"
        issues.append(_issue(path, where, f"datacontract lint: {message}", severity))
    return issues


def _sanity(path: Path, raw: dict[str, Any]) -> list[LintIssue]:
    issues = []
    for s, obj in enumerate(raw.get("schema") or []):
        if not isinstance(obj, dict):
            continue
        for i, prop in enumerate(obj.get("properties") or []):
            if isinstance(prop, dict):
                issues += _sanity_property(path, f"schema.{s}.properties.{i}", prop)
        for j, rule in enumerate(obj.get("quality") or []):
            issues += _pattern(path, f"schema.{s}.quality.{j}.arguments.pattern", rule)
    return issues


def _sanity_property(path: Path, where: str, prop: dict[str, Any]) -> list[LintIssue]:
    issues = []
    options = prop.get("logicalTypeOptions") or {}
    if isinstance(options, dict):
        issues += _pattern(path, f"{where}.logicalTypeOptions.pattern", {"arguments": options})
        for low, high in (("minimum", "maximum"), ("minLength", "maxLength")):
            lo, hi = options.get(low), options.get(high)
            try:
                if lo is not None and hi is not None and lo > hi:
                    issues.append(
                        _issue(path, f"{where}.logicalTypeOptions", f"{low} {lo!r} > {high} {hi!r}")
                    )
            except TypeError:
                issues.append(
                    _issue(path, f"{where}.logicalTypeOptions", f"{low} and {high} differ in type")
                )
    for k, entry in enumerate(prop.get("enum") or []):
        value = entry.get("value") if isinstance(entry, dict) else entry
        if value is None or (isinstance(value, str) and not value.strip()):
            issues.append(_issue(path, f"{where}.enum.{k}.value", "enum values must not be empty"))
    for j, rule in enumerate(prop.get("quality") or []):
        issues += _pattern(path, f"{where}.quality.{j}.arguments.pattern", rule)
    return issues


def _pattern(path: Path, where: str, holder: Any) -> list[LintIssue]:
    args = holder.get("arguments") if isinstance(holder, dict) else None
    pattern = args.get("pattern") if isinstance(args, dict) else None
    if pattern is None:
        return []
    try:
        re.compile(str(pattern))
    except re.error as exc:
        return [_issue(path, where, f"pattern {pattern!r} does not compile: {exc}")]
    return []
