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
from quality.wording import Param, Phrase

NUMERIC = (LogicalType.integer, LogicalType.number)
ORDERED = (*NUMERIC, LogicalType.date, LogicalType.timestamp)
GX_ENGINES = {"greatexpectations", "gx"}
METRIC_ALIASES = {"duplicateCount": "duplicateValues", "nullCheck": "nullValues"}

# ODCS comparison keywords: the metric value must satisfy each one that is given; the key
# words the threshold in reports.
OPERATORS: dict[str, tuple[str, Callable[[float, Any], bool]]] = {
    "mustBe": ("threshold.must_be", operator.eq),
    "mustNotBe": ("threshold.must_not_be", operator.ne),
    "mustBeGreaterThan": ("threshold.greater", operator.gt),
    "mustBeGreaterOrEqualTo": ("threshold.at_least", operator.ge),
    "mustBeLessThan": ("threshold.less", operator.lt),
    "mustBeLessOrEqualTo": ("threshold.at_most", operator.le),
    "mustBeBetween": ("threshold.between", lambda v, b: b[0] <= v <= b[1]),
    "mustNotBeBetween": ("threshold.outside", lambda v, b: not b[0] <= v <= b[1]),
}


@dataclass
class Plan:
    """One check to run: its GX expectations (type, kwargs), or why it cannot run."""

    kind: CheckKind
    rule: str
    column: str | None
    severity: Severity
    hint: Phrase
    failing: Phrase  # "<n> rows …": the failure message, given the count
    expectations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)  # ODCS operators, if any
    percent: bool = False  # thresholds are on the share of rows, not the count
    table_level: bool = False  # the metric is the row count itself
    overlap: bool = False  # expectations may flag the same row: count the largest, not the sum
    error: Phrase | None = None


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
        name, lab = col.name, {"lab": col.label}
        if col.required or name in key:
            plans.append(Plan(
                CheckKind.required, f"required:{name}", name, err,
                Phrase.of("hint.required", **lab), Phrase.of("rows.required", **lab),
                [("expect_column_values_to_not_be_null", {"column": name})],
            ))  # fmt: skip
        if col.unique and key != [name]:
            plans.append(Plan(
                CheckKind.unique, f"unique:{name}", name, err,
                Phrase.of("hint.unique", **lab), Phrase.of("rows.unique", **lab),
                [("expect_column_values_to_be_unique", {"column": name})],
            ))  # fmt: skip
        if col.enum:
            allowed = ", ".join(col.enum[:12]) + (", …" if len(col.enum) > 12 else "")
            plans.append(Plan(
                CheckKind.enum, f"enum:{name}", name, err,
                Phrase.of("hint.enum", **lab, allowed=allowed), Phrase.of("rows.enum", **lab),
                [("expect_column_values_to_be_in_set",
                  {"column": name, "value_set": _typed(col, col.enum)})],
            ))  # fmt: skip
        if col.pattern and col.logical_type == LogicalType.string:
            example = Phrase.of("hint.example", value=col.examples[0]) if col.examples else ""
            form = {**lab, "pattern": col.pattern}
            plans.append(Plan(
                CheckKind.pattern, f"pattern:{name}", name, err,
                Phrase.of("hint.pattern", **form, example=example),
                Phrase.of("rows.pattern", **form),
                [("expect_column_values_to_match_regex", {"column": name, "regex": col.pattern})],
            ))  # fmt: skip
        if (col.minimum is not None or col.maximum is not None) and col.logical_type in ORDERED:
            span = {**lab, "span": _span(col.minimum, col.maximum)}
            plans.append(Plan(
                CheckKind.range, f"range:{name}", name, err,
                Phrase.of("hint.range", **span), Phrase.of("rows.range", **span),
                [("expect_column_values_to_be_between", {
                    "column": name,
                    "min_value": _bound(col, col.minimum),
                    "max_value": _bound(col, col.maximum),
                })],
            ))  # fmt: skip
        if (col.min_length is not None or col.max_length is not None) and (
            col.logical_type == LogicalType.string
        ):
            span = {
                **lab,
                "span": _span(col.min_length, col.max_length, Phrase.of("unit.characters")),
            }
            plans.append(Plan(
                CheckKind.range, f"length:{name}", name, err,
                Phrase.of("hint.length", **span), Phrase.of("rows.length", **span),
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
            Phrase.of("hint.primary_key", labs=labs), Phrase.of("rows.primary_key", labs=labs),
            [expectation],
        ))  # fmt: skip
    return plans


def _span(low: Any, high: Any, unit: Param = "") -> Phrase:
    """'between 1 and 9', 'at least 1', 'at most 9'; `unit` follows each bound (characters)."""
    if low is not None and high is not None:
        return Phrase.of("span.between", low=low, high=high, unit=unit)
    if low is not None:
        return Phrase.of("span.at_least", low=low, unit=unit)
    return Phrase.of("span.at_most", high=high, unit=unit)


def rewrite_hint(rule: str) -> Phrase:
    """The hint of a rule that cannot run: its author must correct it."""
    return Phrase.of("hint.rewrite", quality_rule=rule)


def _quality_plan(contract: Contract, rule: QualityRule) -> Plan:
    """One ODCS quality entry as a plan; anything we cannot run becomes an `error` plan."""
    spec = rule.spec
    col = next((c for c in contract.columns if c.name == rule.column), None)
    lab: Param = col.label if col else Phrase.of("words.table")
    # An unnamed rule is called after its metric; say which column, as 'required:x' does.
    auto = rule.name in (spec.get("metric"), spec.get("rule")) and rule.column
    hint = (
        Phrase.of("hint.described", description=rule.description)
        if rule.description
        else Phrase.of("hint.quality", quality_rule=rule.name, lab=lab)
    )
    plan = Plan(
        CheckKind.quality, f"{rule.name}:{rule.column}" if auto else rule.name, rule.column,
        rule.severity, hint,
        Phrase.of("rows.rule"),  # replaced by the metric below
        thresholds={k: spec[k] for k in OPERATORS if spec.get(k) is not None},
        percent=str(spec.get("unit", "")).strip().lower() in ("percent", "percentage", "%"),
    )  # fmt: skip
    kind = str(spec.get("type") or ("library" if spec.get("metric") or spec.get("rule") else ""))
    if kind == "library":
        _library(plan, spec, contract, col, lab)
    elif kind == "custom":
        _custom(plan, spec, col)
    else:
        plan.error = Phrase.of("rule.unknown_type", rule=rule.name, type=repr(kind or "(none)"))
    if plan.error:
        plan.hint = rewrite_hint(rule.name)
    return plan


def _library(plan: Plan, spec: dict, contract: Contract, col: Column | None, lab: Param) -> None:
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
        plan.failing = (
            Phrase.of("rows.duplicate", lab=lab) if col else Phrase.of("rows.duplicate_rows")
        )
        if col:
            plan.expectations = [("expect_column_values_to_be_unique", {"column": name})]
        else:
            cols = list(args.get("properties") or [c.name for c in contract.columns])
            plan.expectations = [("expect_compound_columns_to_be_unique", {"column_list": cols})]
    elif name is None:
        plan.error = Phrase.of("rule.needs_column", metric=repr(metric))
        return
    elif metric == "nullValues":
        plan.failing = Phrase.of("rows.null", lab=lab)
        plan.expectations = [("expect_column_values_to_not_be_null", {"column": name})]
    elif metric == "missingValues":
        markers = [v for v in args.get("missingValues") or [] if v is not None]
        plan.failing = (
            Phrase.of("rows.missing.markers", lab=lab, markers=", ".join(map(str, markers)))
            if markers
            else Phrase.of("rows.null", lab=lab)
        )
        plan.expectations = [("expect_column_values_to_not_be_null", {"column": name})]
        if markers:
            plan.expectations.append(
                ("expect_column_values_to_not_be_in_set", {"column": name, "value_set": markers})
            )
    elif metric == "invalidValues" and (args.get("validValues") or args.get("pattern")):
        plan.failing = Phrase.of("rows.invalid", lab=lab)
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
        plan.error = Phrase.of("rule.unsupported_metric", metric=repr(metric))
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
        plan.error = Phrase.of("rule.engine", rule=plan.rule, engine=repr(spec.get("engine")))
        return
    impl = spec.get("implementation")
    try:
        if isinstance(impl, str):
            impl = yaml.safe_load(impl)
    except yaml.YAMLError as exc:
        impl = None
        plan.error = Phrase.of("rule.yaml", rule=plan.rule, error=str(exc))
    if not isinstance(impl, dict):
        plan.error = plan.error or Phrase.of("rule.implementation", rule=plan.rule)
        return
    etype = impl.get("type") or impl.get("expectation_type")
    kwargs = impl.get("kwargs")
    if etype is None and len(impl) == 1:  # {expect_x: {kwargs}}
        etype, kwargs = next(iter(impl.items()))
    if kwargs is None:
        kwargs = {k: v for k, v in impl.items() if k not in ("type", "expectation_type", "meta")}
    if not isinstance(etype, str) or not isinstance(kwargs, dict):
        plan.error = Phrase.of("rule.no_expectation", rule=plan.rule)
        return
    kwargs = {k: v for k, v in kwargs.items() if k not in ("meta", "result_format")}
    if col and "column" not in kwargs and "column_list" not in kwargs:
        kwargs["column"] = col.name  # a property-level rule is about its own column
    plan.expectations = [(etype, kwargs)]
    plan.failing = Phrase.of(
        "rows.custom",
        expectation=etype,
        on=Phrase.of("rows.custom.on", lab=col.label) if col else "",
    )


def plan_checks(contract: Contract) -> list[Plan]:
    return _column_plans(contract) + [_quality_plan(contract, r) for r in contract.quality]
