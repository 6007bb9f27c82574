"""Run pending deliveries through Dagster in this process (what `gongyu run` and the demo do)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

from assets.definitions import build_definitions
from assets.freshness import FRESHNESS_JOB
from catalog.deliveries import Delivery
from gongyu.platform import Platform
from gongyu.workspace import Workspace

INSTANCE_CONFIG = Path(__file__).resolve().parent.parent / "dagster.yaml"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def dagster_home(workspace: Workspace) -> Path:
    """The workspace's DAGSTER_HOME, with the repository's `dagster.yaml` in it."""
    home = workspace.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    return home


def dagster_instance(workspace: Workspace) -> dg.DagsterInstance:
    """The workspace's Dagster instance (SQLite under `<workspace>/dagster`)."""
    return dg.DagsterInstance.from_config(str(dagster_home(workspace)))


def run_pending(
    platform: Platform, on_start: Callable[[Delivery], None] | None = None
) -> Iterator[tuple[Delivery, str]]:
    """Evaluate the landing sensor, then materialize each requested delivery partition.

    Yields each delivery after its run, with the Dagster run id.
    """
    defs = build_definitions(platform.settings)
    resources = {"gongyu": defs.resources["gongyu"]}
    with dagster_instance(platform.workspace) as instance:
        sensor = defs.resolve_sensor_def("landing_zone")
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        for run in result.run_requests or []:
            delivery = platform.deliveries.get(run.partition_key)
            if on_start:
                on_start(delivery)
            asset = defs.resolve_assets_def(run.asset_selection[0])
            executed = dg.materialize(
                [asset],
                partition_key=run.partition_key,
                instance=instance,
                tags=run.tags,
                run_config=QUIET,
                raise_on_error=False,
            )
            yield platform.deliveries.get(run.partition_key), executed.run_id


def check_freshness(platform: Platform) -> dg.ExecuteInProcessResult | None:
    """Run the freshness checks in this process, as the `freshness` sensor does under the daemon.

    None when no contract has an SLA (there are no freshness checks then).
    """
    defs = build_definitions(platform.settings)
    if not any(job.name == FRESHNESS_JOB for job in defs.jobs or ()):
        return None
    with dagster_instance(platform.workspace) as instance:
        return defs.resolve_job_def(FRESHNESS_JOB).execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False
        )
