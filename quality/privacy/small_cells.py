"""Small cells: a joint product declared an aggregate publishes counts of people, and a count
between 1 and k-1 can point at one of them (Statistics Korea's and Eurostat's small-cell rule).

A product over restricted person-level data may be opened wider than its inputs only as such an
aggregate; this check is what holds it to that promise on every build.
"""

from __future__ import annotations

import pyarrow.compute as pc

from contracts.model import Contract, Severity
from quality.results import MAX_SAMPLES, ROW, CheckKind, CheckResult, Sample
from quality.spill import Typed, load

RULE = "privacy:small-cells"


def small_cells(typed: Typed, contract: Contract) -> CheckResult:
    """Blocking when a row's count column holds 1 … k-1 (0 and nulls count nobody)."""
    assert contract.product is not None and contract.product.aggregate is not None  # callers check
    aggregate = contract.product.aggregate
    column, k = aggregate.count_column, aggregate.k
    table = load(typed, [column, ROW])
    counts = table[column]
    small = pc.and_(pc.greater(counts, 0), pc.less(counts, k))
    found = table.filter(pc.fill_null(small, False))
    params = {"column": column, "k": k, "k_less": k - 1, "rows": table.num_rows}
    params["small"] = found.num_rows
    if not found.num_rows:
        return CheckResult(
            kind=CheckKind.privacy, rule=RULE, passed=True, key="privacy.cells.met", params=params
        )
    samples = [
        Sample(row=row, values={column: value})
        for row, value in zip(
            found[ROW].to_pylist()[:MAX_SAMPLES], found[column].to_pylist(), strict=False
        )
    ]
    return CheckResult(
        kind=CheckKind.privacy,
        rule=RULE,
        column=column,
        severity=Severity.error,
        passed=False,
        count=found.num_rows,
        key="privacy.cells.failed",
        hint_key="privacy.cells.hint",
        params=params,
        samples=samples,
    )
