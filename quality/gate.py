"""The gate as one call: read a delivery, run the contract's GX suite, collect every result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from contracts.model import Contract
from quality.expectations import validate
from quality.readers import read_delivery
from quality.results import GateResult


@dataclass
class GateRun:
    """A gate's verdict plus what it produced: the cast table and the GX validation result."""

    result: GateResult
    table: pa.Table | None
    validation: dict[str, Any] | None


def run_gate(path: Path, contract: Contract, *, sample_rows: int = 10) -> GateRun:
    """Read `path` under `contract` and run every check; never raises for bad data."""
    read = read_delivery(path, contract, sample_rows=sample_rows)
    checks = list(read.checks)
    validation = None
    if read.table is not None:
        outcome = validate(read.table, contract, sample_rows=sample_rows)
        checks += outcome.checks
        validation = outcome.result
    result = GateResult(
        dataset_id=contract.id,
        contract_version=contract.version,
        source=read.source,
        checks=checks,
        rows=read.source.rows,
    )
    return GateRun(result=result, table=read.table, validation=validation)
