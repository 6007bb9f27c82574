"""Gongyu's side: one delivery landed, gated and published in a fresh workspace, by stage."""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench.memory import Stages

F = TypeVar("F", bound=Callable[..., Any])

STAGES = ("read+cast", "gx", "privacy", "stage", "audit", "publish")
"""The stages timed inside `process_delivery` (the rest is ledger, results and reports)."""


def _timed(stages: Stages, label: str, fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with stages.measure(label):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def instrument(stages: Stages) -> None:
    """Wrap the gate's reader, GX validation and the lakehouse steps with stage timers."""
    import quality.gate
    from catalog.lakehouse import Lakehouse

    quality.gate.read_delivery = _timed(stages, "read+cast", quality.gate.read_delivery)
    quality.gate.validate = _timed(stages, "gx", quality.gate.validate)
    quality.gate.screen = _timed(stages, "privacy", quality.gate.screen)
    for name in ("stage", "audit", "publish"):
        setattr(Lakehouse, name, _timed(stages, name, getattr(Lakehouse, name)))


def without_privacy() -> None:
    """The baseline of the privacy benchmark: screening, release and the raw-identifier audit
    replaced by pass-throughs, so the delivery takes the gate as it would with no privacy gate."""
    import gongyu.delivery.publish
    import quality.gate
    from contracts.model import arrow_schema
    from quality.privacy.screening import Screen
    from quality.spill import batches

    quality.gate.screen = lambda typed, contract: Screen(checks=[])
    quality.gate.PseudonymBatches = lambda typed, columns, keyring, sector: None
    gongyu.delivery.publish.released = lambda typed, contract, pseudonyms, withheld: batches(
        typed, arrow_schema(contract.published_columns)
    )
    gongyu.delivery.publish.raw_identifier_auditor = lambda contract: lambda table, staged: []


def deliver_and_publish(
    file: Path,
    dataset_id: str,
    rows: int,
    contracts_dir: Path | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Land `file` and run `process_delivery` on it (the path Dagster runs); check it published.

    `rows` is what must be published (the privacy gate may withhold some of the file's rows).
    `database_url` is the catalog database (default: SQLite in the workspace); the other
    settings (S3: `GONGYU_S3_*`) come from the environment.
    """
    from catalog.lakehouse import row_count
    from gongyu.delivery.way import process_delivery
    from gongyu.ground.settings import Settings
    from gongyu.platform import Platform
    from quality.suite import build_suite

    stages = Stages().start()
    instrument(stages)
    with tempfile.TemporaryDirectory(prefix="gongyu-bench-") as home:
        extra: dict[str, Any] = {"contracts_dir": contracts_dir} if contracts_dir else {}
        if database_url:
            extra["database_url"] = database_url
        platform = Platform(Settings(home=Path(home), **extra))
        contract = platform.contract(dataset_id)  # loads every contract: constant, not timed
        warm_up = time.perf_counter()
        build_suite(contract)  # imports Great Expectations (lazy): constant per process
        import_seconds = time.perf_counter() - warm_up
        started = time.perf_counter()
        with stages.measure("land"):
            delivery, _ = platform.deliver(dataset_id, file)
        with stages.measure("process"):
            outcome = process_delivery(platform, delivery.delivery_id)
        seconds = time.perf_counter() - started
        stages.stop()
        if not outcome.published:
            raise AssertionError(f"delivery was not published:\n{outcome.report}")
        table = platform.lakehouse.catalog.load_table(contract.table)
        published = row_count(table, table.metadata.current_snapshot_id)
        if published != rows:
            raise AssertionError(f"main holds {published} rows, expected {rows}")
    stats = {k: vars(v) for k, v in stages.stats.items()}
    inside = sum(stats[k]["seconds"] for k in STAGES if k in stats)
    stats["other"] = {
        "seconds": stats["process"]["seconds"] - inside,
        "peak_rss_mib": stats["process"]["peak_rss_mib"],
        "calls": 1,
    }
    return {
        "rows": rows,
        "seconds": seconds,
        "process_seconds": stats["process"]["seconds"],
        "untimed_import_seconds": import_seconds,
        "stages": stats,
        "warnings": [c.rule for c in outcome.gate.checks if not c.passed],
    }
