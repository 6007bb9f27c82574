"""The contract's Great Expectations suite run on a delivery's Arrow table, as CheckResults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from contracts.model import Contract, LogicalType
from quality.plans import OPERATORS, Plan, plan_checks
from quality.results import MAX_SAMPLES, ROW, CheckKind, CheckResult, Sample
from quality.suite import import_gx, suite_for

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd
    import pyarrow as pa


class Validation(BaseModel):
    """The suite's outcome on one table: our checks, and GX's own result as JSON."""

    checks: list[CheckResult]
    result: dict[str, Any] = Field(default_factory=dict)


def _frame(table: pa.Table) -> pd.DataFrame:
    """The table as pandas: text Arrow-backed; numbers and times as NumPy.

    GX's pandas `between` runs a Python function per value unless the column is NumPy int,
    float or datetime64[ns]; those stay vectorised this way (nullable ints become floats).
    """
    import pandas as pd
    import pyarrow as pa

    def mapper(t: pa.DataType) -> Any:
        fast = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t)
        return None if fast else pd.ArrowDtype(t)

    try:
        return table.to_pandas(
            types_mapper=mapper, date_as_object=False, coerce_temporal_nanoseconds=True
        )
    except (pa.ArrowInvalid, OverflowError):  # a date outside datetime64[ns]'s years
        return table.to_pandas(types_mapper=pd.ArrowDtype)


def _run(suite: gx.ExpectationSuite, frame: pd.DataFrame, sample_rows: int) -> dict[str, Any]:
    """Validate `frame` in a throw-away context; the GX result as a JSON-able dict."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # No tqdm "Calculating Metrics" bars in gate logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("delivery")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={
            "result_format": "SUMMARY",
            "unexpected_index_column_names": [ROW],
            "partial_unexpected_count": sample_rows,
        },
    )
    return result.to_json_dict()


def _judge(plan: Plan, value: float) -> bool:
    return all(OPERATORS[k][1](value, v) for k, v in plan.thresholds.items())


SINGULAR = {"have": "has", "repeat": "repeats", "share": "shares", "fail": "fails"}


def _rows(n: int, share: str, phrase: str) -> str:
    """'3 rows have …' / '1 row has …': `phrase` starts with a plural verb."""
    if n != 1:
        return f"{n:,} rows{share} {phrase}"
    verb, _, rest = phrase.partition(" ")
    return f"1 row{share} {SINGULAR.get(verb, verb)} {rest}"


def _sample_value(value: Any, logical: LogicalType | None) -> Any:
    """Undo the frame's conversions in samples: midnight dates, floats of int columns."""
    if value == "NaT":
        return None
    if logical == LogicalType.date and isinstance(value, str):
        return value[:10]
    if logical == LogicalType.integer and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _samples(results: list[dict], types: dict[str, LogicalType], limit: int) -> list[Sample]:
    samples: list[Sample] = []
    for res in results:
        for entry in (res.get("result") or {}).get("partial_unexpected_index_list") or []:
            if not isinstance(entry, dict) or len(samples) >= limit:
                continue
            values = {k: _sample_value(v, types.get(k)) for k, v in entry.items() if k != ROW}
            samples.append(Sample(row=entry.get(ROW), values=values))
    return sorted(samples, key=lambda s: s.row or 0)[:limit]


def _exception(result: dict) -> str | None:
    """The message of an exception GX caught while running one expectation, if any."""
    info = result.get("exception_info") or {}
    # Flat for the expectation itself; keyed by metric when a metric failed (GX 1.24).
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error").strip()
    return None


def _check(
    plan: Plan, results: list[dict], rows: int, limit: int, types: dict[str, LogicalType]
) -> CheckResult:
    """One plan's GX results as a CheckResult with a plain-words message."""
    base = {"kind": plan.kind, "rule": plan.rule, "column": plan.column,
            "severity": plan.severity, "hint": plan.hint}  # fmt: skip
    if plan.error:
        return CheckResult(**base, passed=False, count=1, message=plan.error)
    raised = [why for why in map(_exception, results) if why]
    if raised or len(results) != len(plan.expectations):
        why = raised[0] if raised else "Great Expectations returned no result"
        return CheckResult(
            **base, passed=False, count=1, message=f"{plan.rule} could not be checked: {why}"
        )
    if plan.table_level:
        observed = int(results[0]["result"].get("observed_value") or 0)
        passed = _judge(plan, observed)
        message = f"the delivery has {observed:,} rows"
        if not passed:
            message += f"; rule '{plan.rule}' wants {_wanted(plan)}"
        return CheckResult(**base, passed=passed, count=0 if passed else 1, message=message)
    unexpected = [(r.get("result") or {}).get("unexpected_count") for r in results]
    if any(u is None for u in unexpected):  # an aggregate expectation (custom): GX decides
        passed = all(r["success"] for r in results)
        observed = (results[0].get("result") or {}).get("observed_value")
        shown = f" (observed value: {observed})" if observed is not None else ""
        verdict = "holds" if passed else "fails"
        return CheckResult(
            **base, passed=passed, count=0 if passed else 1, message=f"{plan.rule} {verdict}{shown}"
        )
    count = max(unexpected) if plan.overlap else sum(unexpected)
    percent = 100 * count / rows if rows else 0.0
    passed = (
        _judge(plan, percent if plan.percent else count)
        if plan.thresholds
        else all(r["success"] for r in results)
    )
    share = f" ({percent:.2f}%)" if plan.percent else ""
    message = _rows(count, share, plan.failing) if count else f"no row fails {plan.rule}"
    if plan.kind == CheckKind.quality and plan.thresholds and plan.thresholds != {"mustBe": 0}:
        message += f"; rule '{plan.rule}' allows {_wanted(plan)}"
    return CheckResult(
        **base, passed=passed, count=count, message=message,
        samples=_samples(results, types, limit) if count else [],
    )  # fmt: skip


def _wanted(plan: Plan) -> str:
    """The rule's thresholds in words: 'less than 5%', 'more than 0 rows'."""
    unit = "%" if plan.percent else " rows"
    parts = []
    for key, value in plan.thresholds.items():
        shown = f"{value[0]}{unit} and {value[1]}{unit}" if isinstance(value, list) else value
        parts.append(f"{OPERATORS[key][0]} {shown}{'' if isinstance(value, list) else unit}")
    return " and ".join(parts)


def validate(table: pa.Table, contract: Contract, *, sample_rows: int = 10) -> Validation:
    """Run the contract's suite on `table` (contract columns + `__row`); never raises on data."""
    import pyarrow as pa

    sample_rows = max(0, min(sample_rows, MAX_SAMPLES))  # CheckResult keeps at most ten
    if ROW not in table.column_names:  # samples need source rows; assume a plain file
        table = table.append_column(ROW, pa.array(range(2, table.num_rows + 2), pa.int64()))
    plans = plan_checks(contract)
    suite = suite_for(contract, plans)
    result: dict[str, Any] = {}
    by_check: dict[int, list[dict]] = {}
    if suite.expectations:
        try:
            result = _run(suite, _frame(table), sample_rows)
        except Exception as exc:  # GX itself failed: every runnable plan reports it
            for plan in plans:
                plan.error = plan.error or f"{plan.rule} could not be checked: {exc}"
        for res in result.get("results", []):
            meta = (res.get("expectation_config") or {}).get("meta") or {}
            by_check.setdefault(meta.get("check", -1), []).append(res)
    types = {c.name: c.logical_type for c in contract.columns}
    checks = [
        _check(plan, by_check.get(i, []), table.num_rows, sample_rows, types)
        for i, plan in enumerate(plans)
    ]
    return Validation(checks=checks, result=result)
