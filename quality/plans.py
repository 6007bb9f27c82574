"""A contract as planned checks: each column rule and ODCS quality entry as GX expectations.

A `Plan` is one check: the expectations that run it, how its result is judged and worded, or
why it cannot run. `quality.suite` turns plans into a GX suite; `quality.expectations` runs it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from contracts.model import Column, Contract, LogicalType, QualityRule, Severity
from quality.results import CheckKind

NUMERIC = (LogicalType.integer, LogicalType.number)
ORDERED = (*NUMERIC, LogicalType.date, LogicalType.timestamp)
GX_ENGINES = {"greatexpectations", "gx"}
METRIC_ALIASES = {"duplicateCount": "duplicateValues", "nullCheck": "nullValues"}

# ODCS comparison keywords: the metric value must satisfy each one that is given.
OPERATORS: dict[str, tuple[str, Callable[[float, Any], bool]]] = {
    "mustBe": ("exactly", operator.eq),
    "mustNotBe": ("anything but", operator.ne),
    "mustBeGreaterThan": ("more than", operator.gt),
    "mustBeGreaterOrEqualTo": ("at least", operator.ge),
    "mustBeLessThan": ("less than", operator.lt),
    "mustBeLessOrEqualTo": ("at most", operator.le),
    "mustBeBetween": ("between", lambda v, b: b[0] <= v <= b[1]),
    "mustNotBeBetween": ("outside", lambda v, b: not b[0] <= v <= b[1]),
}


@dataclass
class Plan:
    """One check to run: its GX expectations (type, kwargs), or why it cannot run."""

    kind: CheckKind
    rule: str
    column: str | None
    severity: Severity
    hint: str
    failing: str  # finishes "<n> rows …" in the failure message
    expectations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)  # ODCS operators, if any
    percent: bool = False  # thresholds are on the share of rows, not the count
    table_level: bool = False  # the metric is the row count itself
    overlap: bool = False  # expectations may flag the same row: count the largest, not the sum
    error: str | None = None


def _typed(col: Column, values: tuple[str, ...]) -> list[Any]:
    """Enum values (strings in the contract) as the column's Python type."""
    if col.logical_type == LogicalType.integer:
        return [int(v) for v in values]
    if col.logical_type == LogicalType.number:
        return [float(v) for v in values]
    if col.logical_type == LogicalType.boolean:
        return [str(v).lower() in ("true", "1", "y", "yes") for v in values]
    return list(values)


def _bound(col: Column, value: Any) -> Any:
    """A min/max bound as GX sees it: dates as midnight datetimes (see `expectations._frame`)."""
    if value is None:
        return None
    if col.logical_type == LogicalType.date and isinstance(value, str) and len(value) == 10:
        return value + "T00:00:00"
    return value


def _column_plans(contract: Contract) -> list[Plan]:
    """Checks that follow from the columns: required, key, unique, enum, pattern, range."""
    plans: list[Plan] = []
    key = contract.primary_key
    err = Severity.error
    for col in contract.columns:
        name, lab = col.name, col.label
        if col.required or name in key:
            plans.append(Plan(
                CheckKind.required, f"required:{name}", name, err,
                f"fill in {lab} in every row, or make the column optional in the contract",
                f"have no value in {lab}, which is required",
                [("expect_column_values_to_not_be_null", {"column": name})],
            ))  # fmt: skip
        if col.unique and key != [name]:
            plans.append(Plan(
                CheckKind.unique, f"unique:{name}", name, err,
                f"correct or remove the repeated values of {lab}, "
                "or drop `unique` from the contract",
                f"repeat a value of {lab}, which must be unique",
                [("expect_column_values_to_be_unique", {"column": name})],
            ))  # fmt: skip
        if col.enum:
            allowed = ", ".join(col.enum[:12]) + (", …" if len(col.enum) > 12 else "")
            plans.append(Plan(
                CheckKind.enum, f"enum:{name}", name, err,
                f"use one of {allowed} in {lab}, or add the new value to the contract's enum",
                f"have a value of {lab} that is not in the contract's list",
                [("expect_column_values_to_be_in_set",
                  {"column": name, "value_set": _typed(col, col.enum)})],
            ))  # fmt: skip
        if col.pattern and col.logical_type == LogicalType.string:
            example = f" (e.g. {col.examples[0]})" if col.examples else ""
            plans.append(Plan(
                CheckKind.pattern, f"pattern:{name}", name, err,
                f"write {lab} in the form {col.pattern}{example}, "
                "or change the pattern in the contract",
                f"have a value of {lab} that does not match the pattern {col.pattern}",
                [("expect_column_values_to_match_regex", {"column": name, "regex": col.pattern})],
            ))  # fmt: skip
        if (col.minimum is not None or col.maximum is not None) and col.logical_type in ORDERED:
            span = _span(col.minimum, col.maximum)
            plans.append(Plan(
                CheckKind.range, f"range:{name}", name, err,
                f"correct {lab} (allowed: {span}), or widen the range in the contract",
                f"have a value of {lab} that is not {span}",
                [("expect_column_values_to_be_between", {
                    "column": name,
                    "min_value": _bound(col, col.minimum),
                    "max_value": _bound(col, col.maximum),
                })],
            ))  # fmt: skip
        if (col.min_length is not None or col.max_length is not None) and (
            col.logical_type == LogicalType.string
        ):
            span = _span(col.min_length, col.max_length) + " characters long"
            plans.append(Plan(
                CheckKind.range, f"length:{name}", name, err,
                f"correct {lab} (allowed: {span}), or change the lengths in the contract",
                f"have a value of {lab} that is not {span}",
                [("expect_column_value_lengths_to_be_between",
                  {"column": name, "min_value": col.min_length, "max_value": col.max_length})],
            ))  # fmt: skip
    if key:
        labs = ", ".join(contract.column(k).label for k in key)
        expectation = (
            ("expect_column_values_to_be_unique", {"column": key[0]})
            if len(key) == 1
            else ("expect_compound_columns_to_be_unique", {"column_list": key})
        )
        plans.append(Plan(
            CheckKind.primary_key, "primary_key:" + ",".join(key),
            key[0] if len(key) == 1 else None, err,
            f"make each {labs} appear only once: remove or merge the repeated rows",
            f"share their primary key ({labs}) with another row",
            [expectation],
        ))  # fmt: skip
    return plans


def _span(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


REWRITE_HINT = "correct rule '{rule}' in the contract (or remove it), then replay the delivery"


def _quality_plan(contract: Contract, rule: QualityRule) -> Plan:
    """One ODCS quality entry as a plan; anything we cannot run becomes an `error` plan."""
    spec = rule.spec
    col = next((c for c in contract.columns if c.name == rule.column), None)
    lab = col.label if col else "the table"
    # An unnamed rule is called after its metric; say which column, as 'required:x' does.
    auto = rule.name in (spec.get("metric"), spec.get("rule")) and rule.column
    plan = Plan(
        CheckKind.quality, f"{rule.name}:{rule.column}" if auto else rule.name, rule.column,
        rule.severity,
        rule.description or f"see the quality rule '{rule.name}' of {lab} in the contract",
        "break this rule",  # replaced by the metric below
        thresholds={k: spec[k] for k in OPERATORS if spec.get(k) is not None},
        percent=str(spec.get("unit", "")).strip().lower() in ("percent", "percentage", "%"),
    )  # fmt: skip
    kind = str(spec.get("type") or ("library" if spec.get("metric") or spec.get("rule") else ""))
    if kind == "library":
        _library(plan, spec, contract, col, lab)
    elif kind == "custom":
        _custom(plan, spec, col)
    else:
        plan.error = (
            f"quality rule '{rule.name}' has type {kind or '(none)'!r}, which Gongyu cannot run; "
            "use a library metric (rowCount, nullValues, missingValues, invalidValues, "
            "duplicateValues) or type: custom with engine: greatExpectations"
        )
    if plan.error:
        plan.hint = REWRITE_HINT.format(rule=rule.name)
    return plan


def _library(plan: Plan, spec: dict, contract: Contract, col: Column | None, lab: str) -> None:
    """ODCS library metrics: the GX expectation, default threshold and failure wording."""
    metric = spec.get("metric") or spec.get("rule")
    metric = METRIC_ALIASES.get(metric, metric)
    args = spec.get("arguments") or {}
    name = col.name if col else None
    if metric == "rowCount":
        plan.table_level = True
        plan.thresholds = plan.thresholds or {"mustBeGreaterThan": 0}
        plan.expectations = [("expect_table_row_count_to_be_between", _row_bounds(plan.thresholds))]
        return
    if metric == "duplicateValues":
        plan.failing = f"repeat a value of {lab}" if col else "repeat another row"
        if col:
            plan.expectations = [("expect_column_values_to_be_unique", {"column": name})]
        else:
            cols = list(args.get("properties") or [c.name for c in contract.columns])
            plan.expectations = [("expect_compound_columns_to_be_unique", {"column_list": cols})]
    elif name is None:
        plan.error = f"quality metric {metric!r} needs a column; attach it to a property"
        return
    elif metric == "nullValues":
        plan.failing = f"have no value in {lab}"
        plan.expectations = [("expect_column_values_to_not_be_null", {"column": name})]
    elif metric == "missingValues":
        markers = [v for v in args.get("missingValues") or [] if v is not None]
        plan.failing = f"have no value in {lab}" + (
            f" or a missing-value marker ({', '.join(map(str, markers))})" if markers else ""
        )
        plan.expectations = [("expect_column_values_to_not_be_null", {"column": name})]
        if markers:
            plan.expectations.append(
                ("expect_column_values_to_not_be_in_set", {"column": name, "value_set": markers})
            )
    elif metric == "invalidValues" and (args.get("validValues") or args.get("pattern")):
        plan.failing = f"have an invalid value in {lab}"
        if args.get("validValues"):
            values = [v for v in args["validValues"] if v is not None]
            plan.expectations.append(
                ("expect_column_values_to_be_in_set", {"column": name, "value_set": values})
            )
        if args.get("pattern"):
            plan.overlap = bool(plan.expectations)
            plan.expectations.append(
                ("expect_column_values_to_match_regex", {"column": name, "regex": args["pattern"]})
            )
    else:
        plan.error = (
            f"quality metric {metric!r} is not supported here (invalidValues needs "
            "arguments.validValues or arguments.pattern); use rowCount, nullValues, "
            "missingValues, invalidValues or duplicateValues"
        )
        return
    plan.thresholds = plan.thresholds or {"mustBe": 0}
    mostly = _mostly(plan)
    if mostly is not None:
        for _, kwargs in plan.expectations:
            kwargs["mostly"] = mostly


def _mostly(plan: Plan) -> float | None:
    """GX `mostly` for a percent ceiling, so the suite itself shows the tolerance."""
    if not plan.percent:
        return None  # an absolute count: GX cannot say it; `expectations._judge` compares it
    for key in ("mustBeLessThan", "mustBeLessOrEqualTo"):
        if key in plan.thresholds:
            return min(1.0, max(0.0, 1 - float(plan.thresholds[key]) / 100))
    return None


def _row_bounds(thresholds: dict[str, Any]) -> dict[str, Any]:
    """expect_table_row_count_to_be_between bounds for the ODCS operators GX can express."""
    bounds: dict[str, Any] = {"min_value": 0}
    for key, value in thresholds.items():
        if key == "mustBe":
            bounds = {"min_value": value, "max_value": value}
        elif key == "mustBeGreaterThan":
            bounds["min_value"] = math.floor(value) + 1
        elif key == "mustBeGreaterOrEqualTo":
            bounds["min_value"] = math.ceil(value)
        elif key == "mustBeLessThan":
            bounds["max_value"] = math.ceil(value) - 1
        elif key == "mustBeLessOrEqualTo":
            bounds["max_value"] = math.floor(value)
        elif key == "mustBeBetween":
            bounds = {"min_value": math.ceil(value[0]), "max_value": math.floor(value[1])}
    return bounds


def _custom(plan: Plan, spec: dict, col: Column | None) -> None:
    """`type: custom, engine: greatExpectations`: the expectation given in `implementation`."""
    engine = re.sub(r"[^a-z]", "", str(spec.get("engine", "")).lower())
    if engine not in GX_ENGINES:
        plan.error = (
            f"custom quality rule '{plan.rule}' uses engine {spec.get('engine')!r}; "
            "only engine: greatExpectations runs here"
        )
        return
    impl = spec.get("implementation")
    try:
        if isinstance(impl, str):
            impl = yaml.safe_load(impl)
    except yaml.YAMLError as exc:
        impl = None
        plan.error = f"implementation of '{plan.rule}' is not valid YAML: {exc}"
    if not isinstance(impl, dict):
        plan.error = plan.error or (
            f"custom quality rule '{plan.rule}' needs implementation: "
            "{type: expect_…, kwargs: {…}}"
        )
        return
    etype = impl.get("type") or impl.get("expectation_type")
    kwargs = impl.get("kwargs")
    if etype is None and len(impl) == 1:  # {expect_x: {kwargs}}
        etype, kwargs = next(iter(impl.items()))
    if kwargs is None:
        kwargs = {k: v for k, v in impl.items() if k not in ("type", "expectation_type", "meta")}
    if not isinstance(etype, str) or not isinstance(kwargs, dict):
        plan.error = f"custom quality rule '{plan.rule}' names no GX expectation type"
        return
    kwargs = {k: v for k, v in kwargs.items() if k not in ("meta", "result_format")}
    if col and "column" not in kwargs and "column_list" not in kwargs:
        kwargs["column"] = col.name  # a property-level rule is about its own column
    plan.expectations = [(etype, kwargs)]
    plan.failing = f"fail {etype}" + (f" on {col.label}" if col else "")


def plan_checks(contract: Contract) -> list[Plan]:
    return _column_plans(contract) + [_quality_plan(contract, r) for r in contract.quality]
