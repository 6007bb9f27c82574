"""What every delivery reader shares: the read in progress, its failure, the pieces it yields."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from contracts.model import Contract
from quality.headers import HeaderMap, map_headers
from quality.results import MAX_SAMPLES, CheckKind, CheckResult, Sample, SourceInfo
from quality.wording import Param

BLOCK_BYTES = 1 << 22  # pyarrow parse block: several per segment, parsed in parallel

Piece = tuple[dict[int, Any], pa.Array]
"""Part of a file: its source columns by header position, and their `__row` numbers."""

Opener = Callable[[], Any]
"""Opens the file as a UTF-8 byte stream: the file itself when it is UTF-8, else transcoding."""


class Unreadable(Exception):
    """The file cannot be read; carries the failed `readable` check (message and hint by key)."""

    def __init__(
        self, rule: str, key: str, hint: str, samples: list[Sample] | None = None, **params: Param
    ):
        self.check = CheckResult(
            kind=CheckKind.readable,
            rule=f"readable:{rule}",
            passed=False,
            count=1,
            samples=(samples or [])[:MAX_SAMPLES],
            key=key,
            hint_key=hint,
            params=params,
        )
        super().__init__(self.check.message)


@dataclass
class Reading:
    """What one read needs across formats: the contract, the report so far, sample size."""

    path: Path
    contract: Contract
    source: SourceInfo
    sample_rows: int
    spill: Path  # where the typed pieces go

    def map(self, headers: list[str]) -> HeaderMap:
        return map_headers(headers, self.contract)


def row_numbers(first: int, n: int) -> pa.Array:
    """`__row` for `n` records, the first numbered `first`."""
    return pa.array(np.arange(first, first + n, dtype=np.int64))


def prefetch(produce: Callable[[], Iterator[Any]], depth: int = 2) -> Iterator[Any]:
    """`produce()`'s items, made in a background thread: parsing the next block of a file
    overlaps casting the last one. Errors are re-raised here; leaving early stops the thread."""
    items: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in produce():
                if not put(item):
                    return
            put(done)
        except BaseException as err:  # handed to the consumer, raised there
            put(_Raised(err))

    thread = threading.Thread(target=work, name="gongyu-read", daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


@dataclass
class _Raised:
    error: BaseException
