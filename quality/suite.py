"""Planned checks as a Great Expectations suite, and GX itself, imported once and tuned.

Every expectation carries `meta` (kind, rule, column, severity, hint, check number) so each GX
result maps back to its plan. GX is imported lazily: it takes seconds to import.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from contracts.model import Contract, Severity
from quality.deferred_imports import defer_unused
from quality.plans import Plan, plan_checks, rewrite_hint
from quality.results import CheckKind
from quality.wording import Phrase, say

if TYPE_CHECKING:
    import great_expectations as gx


@functools.cache
def import_gx() -> Any:
    """great_expectations, imported on first use and tuned for large in-memory frames."""
    defer_unused()
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine as engine
    from great_expectations.expectations.metrics.map_metric_provider import (
        map_condition_auxilliary_methods as aux,
    )

    # GX fingerprints every batch with pandas' row hash; for Arrow-backed columns pandas hashes
    # in a Python loop (~2 s per million rows). The fingerprint is only a batch marker.
    if hasattr(engine, "HASH_THRESHOLD"):
        engine.HASH_THRESHOLD = 0
    # GX builds the row-number list for *every* unexpected row, one `.at` lookup each, and only
    # then keeps the first `partial_unexpected_count`: a million bad rows cost a minute.
    # Handing it just the rows it will keep gives the same result.
    original = getattr(aux, "compute_unexpected_pandas_indices", None)
    if original is not None and not getattr(original, "_gongyu", False):

        def first_rows_only(*, domain_records_df: Any, result_format: dict, **kwargs: Any) -> Any:
            if result_format.get("result_format") != "COMPLETE" and not result_format.get(
                "exclude_unexpected_values"
            ):
                keep = result_format.get("partial_unexpected_count", 20)
                domain_records_df = domain_records_df.iloc[:keep]
            return original(
                domain_records_df=domain_records_df, result_format=result_format, **kwargs
            )

        first_rows_only._gongyu = True  # type: ignore[attr-defined]
        aux.compute_unexpected_pandas_indices = first_rows_only
    return gx


@contextlib.contextmanager
def gx_imported_meanwhile() -> Iterator[None]:
    """Import GX on a thread while the body runs, and wait for it on the way out.

    GX's import is seconds of Python; reading a file (iconv's process, pyarrow's parser and
    casts) leaves the interpreter lock free most of the time, so the two overlap.
    """
    thread = threading.Thread(target=_import_gx_quietly, name="gx-import", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _import_gx_quietly() -> None:
    # A failed import is not cached: the gate's own `import_gx()` raises it where it is handled.
    with contextlib.suppress(Exception):
        import_gx()


def _meta(plan: Plan, index: int) -> dict[str, Any]:
    meta = {
        "kind": plan.kind.value,
        "rule": plan.rule,
        "column": plan.column,
        "severity": plan.severity.value,
        "hint": say(plan.hint, "en"),
        "check": index,
    }
    if plan.thresholds and plan.kind == CheckKind.quality:
        meta["threshold"] = {**plan.thresholds, "unit": "percent" if plan.percent else "rows"}
    return meta


def suite_for(contract: Contract, plans: list[Plan]) -> gx.ExpectationSuite:
    """Build the suite; a plan whose expectation GX rejects gets `error` and stays out."""
    gx = import_gx()
    from great_expectations.expectations.registry import get_expectation_impl

    expectations = []
    for i, plan in enumerate(plans):
        if plan.error:
            continue
        # GX's own severity, so the suite reads right outside Gongyu too.
        severity = "critical" if plan.severity == Severity.error else "warning"
        try:
            built = [
                get_expectation_impl(etype)(**kwargs, meta=_meta(plan, i), severity=severity)
                for etype, kwargs in plan.expectations
            ]
        except Exception as exc:  # unknown type or bad kwargs: the author must hear of it
            why = "; ".join(str(exc).strip().splitlines()[:3]) or type(exc).__name__
            plan.error = Phrase(key="rule.gx_build", params={"rule": plan.rule, "why": why})
            plan.hint = rewrite_hint(plan.rule)
            continue
        expectations += built
    # Given to the constructor: `add_expectation` wants an active data context.
    return gx.ExpectationSuite(name=f"{contract.id}@{contract.version}", expectations=expectations)


def build_suite(contract: Contract) -> gx.ExpectationSuite:
    """The contract's GX suite (rules GX cannot express are left out; `validate` reports them)."""
    return suite_for(contract, plan_checks(contract))
