"""The contract's Great Expectations suite run on a typed delivery, judged as CheckResults."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from contracts.model import Contract, LogicalType
from quality.plans import OPERATORS, Plan, plan_checks
from quality.results import MAX_SAMPLES, ROW, CheckKind, CheckResult, Sample
from quality.running import GroupFailed, run_suite
from quality.spill import Typed, num_rows
from quality.suite import suite_for


class Validation(BaseModel):
    """The suite's outcome on one table: our checks, GX's own result and the suite, as JSON."""

    checks: list[CheckResult]
    result: dict[str, Any] = Field(default_factory=dict)
    suite: dict[str, Any] = Field(default_factory=dict)


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


def validate(typed: Typed, contract: Contract, *, sample_rows: int = 10) -> Validation:
    """Run the contract's suite on a typed delivery (contract columns + `__row`): a table or
    the spilled Arrow file. Never raises on data."""
    import pyarrow as pa

    sample_rows = max(0, min(sample_rows, MAX_SAMPLES))  # CheckResult keeps at most ten
    if isinstance(typed, pa.Table) and ROW not in typed.column_names:
        # Samples need source rows; assume a plain file.
        typed = typed.append_column(ROW, pa.array(range(2, typed.num_rows + 2), pa.int64()))
    plans = plan_checks(contract)
    suite = suite_for(contract, plans)
    result: dict[str, Any] = {}
    by_check: dict[int, list[dict]] = {}
    if suite.expectations:
        try:
            result, failed = run_suite(suite, typed, sample_rows)
        except Exception as exc:  # GX itself failed: every runnable plan reports it
            failed = [GroupFailed(exc, set(range(len(plans))))]
        for group in failed:
            for i in group.checks:
                if 0 <= i < len(plans):
                    why = f"{plans[i].rule} could not be checked: {group.error}"
                    plans[i].error = plans[i].error or why
        for res in result.get("results", []):
            meta = (res.get("expectation_config") or {}).get("meta") or {}
            by_check.setdefault(meta.get("check", -1), []).append(res)
    types = {c.name: c.logical_type for c in contract.columns}
    rows = num_rows(typed)
    checks = [
        _check(plan, by_check.get(i, []), rows, sample_rows, types) for i, plan in enumerate(plans)
    ]
    return Validation(checks=checks, result=result, suite=suite.to_json_dict())
