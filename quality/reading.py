"""What every delivery reader shares: the read in progress, its failure, the pieces it yields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from contracts.model import Contract
from quality.headers import HeaderMap, map_headers
from quality.results import MAX_SAMPLES, CheckKind, CheckResult, Sample, SourceInfo

BLOCK_BYTES = 1 << 22  # pyarrow parse block: several per segment, parsed in parallel

Piece = tuple[dict[int, Any], pa.Array]
"""Part of a file: its source columns by header position, and their `__row` numbers."""

Opener = Callable[[], Any]
"""Opens the file as a UTF-8 byte stream: the file itself when it is UTF-8, else transcoding."""


class Unreadable(Exception):
    """The file cannot be read; carries the failed `readable` check."""

    def __init__(self, rule: str, message: str, hint: str, samples: list[Sample] | None = None):
        super().__init__(message)
        self.check = CheckResult(
            kind=CheckKind.readable,
            rule=f"readable:{rule}",
            passed=False,
            count=1,
            samples=(samples or [])[:MAX_SAMPLES],
            message=message,
            hint=hint,
        )


@dataclass
class Reading:
    """What one read needs across formats: the contract, the report so far, sample size."""

    path: Path
    contract: Contract
    source: SourceInfo
    sample_rows: int

    def map(self, headers: list[str]) -> HeaderMap:
        return map_headers(headers, self.contract)


def row_numbers(first: int, n: int) -> pa.Array:
    """`__row` for `n` records, the first numbered `first`."""
    return pa.array(np.arange(first, first + n, dtype=np.int64))
