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
from quality.wording import Param, Phrase


class Validation(BaseModel):
    """The suite's outcome on one table: our checks, GX's own result and the suite, as JSON."""

    checks: list[CheckResult]
    result: dict[str, Any] = Field(default_factory=dict)
    suite: dict[str, Any] = Field(default_factory=dict)


def _judge(plan: Plan, value: float) -> bool:
    return all(OPERATORS[k][1](value, v) for k, v in plan.thresholds.items())


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
            "severity": plan.severity, "hint_key": plan.hint.key}  # fmt: skip
    hinted = plan.hint.params

    def result(message: Phrase, **fields: Any) -> CheckResult:
        params = {**hinted, **message.params}
        return CheckResult(**base, **fields, key=message.key, params=params)

    if plan.error:
        return result(plan.error, passed=False, count=1)
    raised = [why for why in map(_exception, results) if why]
    if raised or len(results) != len(plan.expectations):
        why = raised[0] if raised else "Great Expectations returned no result"
        return result(Phrase.of("rule.unchecked", rule=plan.rule, why=why), passed=False, count=1)
    if plan.table_level:
        observed = int(results[0]["result"].get("observed_value") or 0)
        passed = _judge(plan, observed)
        if passed:
            return result(Phrase.of("rows.table", observed=observed), passed=True, count=0)
        wanted = Phrase.of(
            "rows.table.wanted", observed=observed, rule=plan.rule, wanted=_wanted(plan)
        )
        return result(wanted, passed=False, count=1)
    unexpected = [(r.get("result") or {}).get("unexpected_count") for r in results]
    if any(u is None for u in unexpected):  # an aggregate expectation (custom): GX decides
        passed = all(r["success"] for r in results)
        observed = (results[0].get("result") or {}).get("observed_value")
        shown = Phrase.of("rule.observed", value=str(observed)) if observed is not None else ""
        verdict = Phrase.of(
            "rule.holds" if passed else "rule.fails", rule=plan.rule, observed=shown
        )
        return result(verdict, passed=passed, count=0 if passed else 1)
    count = max(unexpected) if plan.overlap else sum(unexpected)
    percent = 100 * count / rows if rows else 0.0
    passed = (
        _judge(plan, percent if plan.percent else count)
        if plan.thresholds
        else all(r["success"] for r in results)
    )
    share = f" ({percent:.2f}%)" if plan.percent else ""
    if not count:
        return result(Phrase.of("rows.none", rule=plan.rule), passed=passed, count=0)
    message = Phrase(key=plan.failing.key, params={**plan.failing.params, "share": share})
    if plan.kind == CheckKind.quality and plan.thresholds and plan.thresholds != {"mustBe": 0}:
        counted = Phrase(key=message.key, params={**message.params, "count": count})
        message = Phrase.of("rows.allowed", base=counted, rule=plan.rule, wanted=_wanted(plan))
    return result(
        message, passed=passed, count=count,
        samples=_samples(results, types, limit) if count else [],
    )  # fmt: skip


def _wanted(plan: Plan) -> Phrase:
    """The rule's thresholds in words: 'less than 5%', 'more than 0 rows'."""
    unit: Param = "%" if plan.percent else Phrase.of("unit.rows")
    parts = []
    for key, value in plan.thresholds.items():
        word = OPERATORS[key][0]
        if isinstance(value, list):
            parts.append(Phrase.of(word, low=value[0], high=value[1], unit=unit))
        else:
            parts.append(Phrase.of(word, value=value, unit=unit))
    wanted = parts[0]
    for part in parts[1:]:
        wanted = Phrase.of("words.and", a=wanted, b=part)
    return wanted


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
                    why = Phrase.of("rule.unchecked", rule=plans[i].rule, why=str(group.error))
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
