"""The gate as one call: read a delivery, run the contract's GX suite, collect every result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contracts.model import Classification, Contract
from quality.expectations import validate
from quality.freed_memory import return_freed_memory
from quality.privacy.pseudonym_batches import PseudonymBatches
from quality.privacy.pseudonyms import Keyring
from quality.privacy.screening import screen
from quality.readers import read_delivery
from quality.results import CheckKind, CheckResult, GateResult
from quality.spill import Typed
from quality.suite import gx_imported_meanwhile


@dataclass
class GateRun:
    """A gate's verdict plus what it produced: the typed delivery, the GX suite and its result.

    `typed` is the spilled Arrow file when the gate ran with a work folder (the caller
    removes it), else the table in memory; None when the file could not be read.
    `withheld` holds the source rows the privacy gate keeps out of the published table;
    `pseudonyms` the pseudonyms of its direct identifiers, begun while the checks ran (None
    when the gate had no keyring, or the contract declares none). `close` ends their helper.
    """

    result: GateResult
    typed: Typed | None
    validation: dict[str, Any] | None
    suite: dict[str, Any] | None
    withheld: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pseudonyms: PseudonymBatches | None = None

    def close(self) -> None:
        """End the pseudonym helper if it still runs."""
        if self.pseudonyms is not None:
            self.pseudonyms.close()


def explain_cast_nulls(checks: list[CheckResult], read: list[CheckResult]) -> list[CheckResult]:
    """Say so where a `required` failure counts cells that were nulled for not casting.

    Such a cell held a value; without this the steward reads "no value" for, say, '3개'.
    """
    uncast = {c.column: c.count for c in read if c.kind == CheckKind.types and not c.passed}
    explained = []
    for check in checks:
        required = check.kind == CheckKind.required and not check.passed
        if required and check.key and check.column in uncast:
            held = min(uncast[check.column], check.count)
            check = check.reworded("rows.uncast", base=check.phrase(check.key), uncast=held)
        explained.append(check)
    return explained


def run_gate(
    path: Path,
    contract: Contract,
    *,
    sample_rows: int = 10,
    work: Path | None = None,
    keyring: Keyring | None = None,
) -> GateRun:
    """Read `path` under `contract` and run every check, privacy included; never raises for bad
    data. With a `work` folder the delivery is spilled there, never held in memory whole.
    With a `keyring`, the direct identifiers' pseudonyms are made meanwhile, for the publish.
    """
    return_freed_memory()
    with gx_imported_meanwhile():
        read = read_delivery(path, contract, sample_rows=sample_rows, work=work)
    checks = list(read.checks)
    validation = suite = None
    typed = read.typed
    withheld = np.zeros(0, np.int64)
    pseudonyms = None
    direct = contract.classified(Classification.direct_identifier)
    if typed is not None and keyring is not None and direct:
        pseudonyms = PseudonymBatches(typed, direct, keyring, contract.sector)
    if typed is not None:
        outcome = validate(typed, contract, sample_rows=sample_rows)
        checks += explain_cast_nulls(outcome.checks, read.checks)
        validation, suite = outcome.result, outcome.suite
        privacy = screen(typed, contract)
        checks += privacy.checks
        withheld = privacy.withheld
    result = GateResult(
        dataset_id=contract.id,
        contract_version=contract.version,
        source=read.source,
        checks=checks,
        rows=read.source.rows,
    )
    return GateRun(
        result=result,
        typed=typed,
        validation=validation,
        suite=suite,
        withheld=withheld,
        pseudonyms=pseudonyms,
    )
