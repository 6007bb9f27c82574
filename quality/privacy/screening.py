"""The privacy gate on a typed delivery: undeclared identifiers and k-anonymity, as checks.

`screen` runs after the contract's suite and decides what may be published; `Screen.withheld`
lists the source rows that local suppression keeps out of the published table (they stay in
the raw delivery: nothing is deleted). Reading is column by column from the spill, so a large
delivery is never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import Classification, Contract, Severity
from quality.privacy.detectors import detect_identifiers, detection_checks
from quality.privacy.kanonymity import RULE, check_k, equivalence_classes, generalise
from quality.privacy.small_cells import small_cells
from quality.results import ROW, CheckKind, CheckResult
from quality.spill import Typed, load
from quality.wording import Param, Phrase


@dataclass
class Screen:
    """The privacy checks of one delivery and the source rows suppression withholds."""

    checks: list[CheckResult]
    withheld: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def scanned_columns(contract: Contract) -> list[str]:
    """Columns scanned for identifiers: all but the declared direct identifiers (pseudonymised)."""
    return [
        c.name for c in contract.columns if c.classification != Classification.direct_identifier
    ]


def detection(typed: Typed, contract: Contract) -> list[CheckResult]:
    """Blocking checks for identifiers in columns that do not declare them; one column at a time."""
    found = []
    rows = load(typed, [ROW]).column(ROW)  # for every column's samples: read once
    for name in scanned_columns(contract):
        found += detect_identifiers(load(typed, [name]).append_column(ROW, rows), [name])
    declared = {c.name: c.classification for c in contract.columns}
    allowed = {c.name: tuple(c.allowed_identifiers) for c in contract.columns}
    labels = {c.name: c.label for c in contract.columns}
    return detection_checks(found, declared, allowed, labels)


def _suppressed(table: pa.Table, quasi: list[str], k: int) -> np.ndarray:
    """Source rows of the classes smaller than k (nulls grouped as one value, as in the report)."""
    grouped = table.group_by(quasi).aggregate([([], "count_all"), (ROW, "list")])
    small = grouped.filter(pc.less(grouped["count_all"], k))
    return np.sort(pc.list_flatten(small[f"{ROW}_list"]).to_numpy())


def anonymity(typed: Typed, contract: Contract) -> tuple[CheckResult, np.ndarray]:
    """The k-anonymity check after the contract's generalisation, and the rows it withholds."""
    privacy = contract.privacy
    quasi = contract.classified(Classification.quasi_identifier)
    assert privacy.k is not None  # callers check
    table = generalise(load(typed, [*quasi, ROW]), privacy.generalise)
    report = equivalence_classes(table, quasi, privacy.k)
    levels = ", ".join(f"{c}→{lv}" for c, lv in privacy.generalise.items())
    after: Param = Phrase(key="privacy.k.after", params={"levels": levels}) if levels else ""
    if report.passed:
        return check_k(table, quasi, privacy.k, after), np.zeros(0, np.int64)
    share = report.rows_below_k / report.rows
    allowed = f"{privacy.max_suppressed:.2%}"
    if share <= privacy.max_suppressed:
        withheld = _suppressed(table, quasi, privacy.k)
        check = CheckResult(
            kind=CheckKind.privacy,
            rule=RULE,
            passed=True,
            count=report.rows_below_k,
            key="privacy.k.suppressed",
            params={
                "k": privacy.k,
                "quasi": ", ".join(quasi),
                "after": after,
                "withheld": report.rows_below_k,
                "classes_below": report.classes_below_k,
                "share": f"{share:.2%}",
                "allowed": allowed,
            },
        )
        return check, withheld
    limit: Param = ""
    if privacy.max_suppressed:
        limit = Phrase(key="privacy.k.limit", params={"share": f"{share:.2%}", "allowed": allowed})
    return check_k(table, quasi, privacy.k, after, limit), np.zeros(0, np.int64)


def screen(typed: Typed, contract: Contract) -> Screen:
    """Every privacy check of a typed delivery; blocking failures stop it at the gate."""
    checks = detection(typed, contract)
    if not checks:
        checks.append(
            CheckResult(
                kind=CheckKind.privacy,
                rule="privacy:undeclared-identifiers",
                severity=Severity.error,
                passed=True,
                key="privacy.identifiers.none",
            )
        )
    withheld = np.zeros(0, np.int64)
    if contract.privacy.k is not None:
        check, withheld = anonymity(typed, contract)
        checks.append(check)
    if contract.product is not None and contract.product.aggregate is not None:
        checks.append(small_cells(typed, contract))
    return Screen(checks=checks, withheld=withheld)
