"""Freshness checks: a `freshness` asset check on each dataset whose contract has an SLA.

The check reads `Platform.freshness()`, the same verdict `gongyu status` prints. A sensor
re-evaluates freshness every few minutes and runs the checks when a dataset's verdict changes.
"""

import json
from collections.abc import Iterator

import dagster as dg

from assets.factory import asset_key
from catalog.freshness import Freshness, FreshnessState, span
from contracts.model import Contract
from gongyu.platform import Platform

FRESHNESS_CHECK = "freshness"
FRESHNESS_JOB = "freshness_checks"


def freshness_result(key: dg.AssetKey, freshness: Freshness) -> dg.AssetCheckResult:
    """The check result of one dataset: stale fails as an error, never published as a warning."""
    metadata: dict[str, str | dg.MetadataValue] = {"state": freshness.state.value}
    if freshness.max_age is not None:
        metadata["max_age"] = span(freshness.max_age)
    if freshness.last_published_at is not None:
        metadata["last_published_at"] = dg.MetadataValue.timestamp(freshness.last_published_at)
    if freshness.due_by is not None:
        metadata["due_by"] = dg.MetadataValue.timestamp(freshness.due_by)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=FRESHNESS_CHECK,
        passed=freshness.state == FreshnessState.fresh,
        severity=(
            dg.AssetCheckSeverity.ERROR
            if freshness.state == FreshnessState.stale
            else dg.AssetCheckSeverity.WARN
        ),
        metadata=metadata,
        description=freshness.summary,
    )


def freshness_definitions(contracts: list[Contract]) -> dg.Definitions:
    """The freshness checks, the job that runs them and its sensor (none without any SLA)."""
    promised = {
        c.id: (asset_key(c), max_age) for c in contracts if (max_age := c.sla.max_age) is not None
    }
    if not promised:
        return dg.Definitions()

    @dg.multi_asset_check(
        name="freshness",
        specs=[
            dg.AssetCheckSpec(
                FRESHNESS_CHECK,
                asset=key,
                blocking=False,
                description=f"The last published delivery is at most {span(max_age)} old "
                "(the contract's slaProperties: frequency + latency).",
            )
            for key, max_age in promised.values()
        ],
        can_subset=True,
    )
    def freshness(
        context: dg.AssetCheckExecutionContext, gongyu: dg.ResourceParam[Platform]
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {k.asset_key for k in context.selected_asset_check_keys}
        for found in gongyu.freshness():
            if found.dataset_id in promised and (key := promised[found.dataset_id][0]) in selected:
                yield freshness_result(key, found)

    job = dg.define_asset_job(
        FRESHNESS_JOB,
        selection=dg.AssetSelection.checks(freshness),
        description="Evaluate every dataset's freshness against its contract's SLA.",
    )

    @dg.sensor(
        name="freshness",
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Computes every dataset's freshness; runs the freshness checks when a "
        "dataset turns stale or fresh, or is published again.",
    )
    def freshness_sensor(
        context: dg.SensorEvaluationContext, gongyu: dg.ResourceParam[Platform]
    ) -> dg.SensorResult | dg.SkipReason:
        # Runs only on a change: an identical verdict every few minutes would bury the runs list.
        verdicts = {
            f.dataset_id: [f.state.value, f.last_published_at and f.last_published_at.isoformat()]
            for f in gongyu.freshness()
            if f.dataset_id in promised
        }
        cursor = json.dumps(verdicts, sort_keys=True)
        if cursor == context.cursor:
            return dg.SkipReason("no dataset's freshness changed")
        return dg.SensorResult(run_requests=[dg.RunRequest()], cursor=cursor)

    return dg.Definitions(asset_checks=[freshness], jobs=[job], sensors=[freshness_sensor])
