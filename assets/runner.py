"""Run pending deliveries through Dagster in this process (what `gongyu run` and the demo do)."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import yaml
from sqlalchemy.engine import make_url

from assets.definitions import build_definitions
from assets.factory import asset_key
from assets.freshness import FRESHNESS_JOB
from assets.products import PRODUCT_TAG
from assets.sensors import product_run_key
from catalog.deliveries import Delivery
from contracts.model import Contract
from gongyu.ground.workspace import Workspace
from gongyu.platform import Platform
from gongyu.products.freshness import products, state

INSTANCE_CONFIG = Path(__file__).resolve().parent.parent / "dagster.yaml"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def instance_config(workspace: Workspace) -> str:
    """The workspace's `dagster.yaml`: the repository's, with run, event and schedule storage
    in the catalog database when that is PostgreSQL (SQLite under the workspace otherwise)."""
    text = INSTANCE_CONFIG.read_text(encoding="utf-8")
    url = make_url(workspace.catalog_url)
    if url.get_backend_name() != "postgresql":
        return text
    config = yaml.safe_load(text)
    # A password never goes into the file: Dagster then reads the URL from the environment.
    postgres_url = (
        {"env": "GONGYU_DATABASE_URL"}
        if url.password
        else url.render_as_string(hide_password=False)
    )
    config["storage"] = {"postgres": {"postgres_url": postgres_url}}
    header = "# Written by Gongyu from the repository's dagster.yaml and GONGYU_DATABASE_URL.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def dagster_home(workspace: Workspace) -> Path:
    """The workspace's DAGSTER_HOME, its `dagster.yaml` brought up to date (`instance_config`)."""
    home = workspace.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target, text = home / "dagster.yaml", instance_config(workspace)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        # Written aside and renamed: another process may be reading it right now.
        partial = target.with_name(f".dagster.yaml.{os.getpid()}")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
    return home


def dagster_instance(workspace: Workspace) -> dg.DagsterInstance:
    """The workspace's Dagster instance (SQLite under `<workspace>/dagster`, or PostgreSQL)."""
    return dg.DagsterInstance.from_config(str(dagster_home(workspace)))


def landing_zone_tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.SensorResult:
    """One evaluation of the `landing_zone` sensor, as the daemon's tick runs it."""
    resources = {"gongyu": defs.resources["gongyu"]}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = defs.resolve_sensor_def("landing_zone")(context)
    assert isinstance(result, dg.SensorResult)
    return result


class Dagster(NamedTuple):
    """The Definitions and the open Dagster instance a sequence of runs shares."""

    defs: dg.Definitions
    instance: dg.DagsterInstance


@contextmanager
def shared_dagster(platform: Platform) -> Iterator[Dagster]:
    """The platform's Definitions, built once, and its Dagster instance, open for the block:
    for a sequence of runs while the contracts stay as they are (the demo)."""
    with dagster_instance(platform.workspace) as instance:
        yield Dagster(build_definitions(platform), instance)


@contextmanager
def _opened(
    platform: Platform, instance: dg.DagsterInstance | None
) -> Iterator[dg.DagsterInstance]:
    """`instance`, or the workspace's opened for the block (its storages cost ~0.1 s to open)."""
    if instance is not None:
        yield instance
        return
    with dagster_instance(platform.workspace) as opened:
        yield opened


def run_pending(
    platform: Platform,
    on_start: Callable[[Delivery], None] | None = None,
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
) -> Iterator[tuple[Delivery, str]]:
    """Evaluate the landing sensor, then materialize each requested delivery partition.

    Yields each delivery after its run, with the Dagster run id. `defs`: the platform's
    Definitions if already built (the delivery worker keeps them between polls); `instance`:
    the workspace's Dagster instance if already open.
    """
    defs = defs or build_definitions(platform)
    with _opened(platform, instance) as instance:
        result = landing_zone_tick(defs, instance)
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


@dataclass(frozen=True)
class ProductRun:
    """A product after its run: its last build (None: never built), and why the run failed
    when it landed no build; `refused` when the product itself said no (refused or waiting),
    not a crash."""

    contract: Contract
    delivery: Delivery | None
    run_id: str
    run_key: str
    failure: str | None = None
    refused: bool = False


def _failure(executed: dg.ExecuteInProcessResult) -> tuple[str, bool]:
    """What stopped a run, in its own words, and whether the asset refused (a dg.Failure it
    raised) rather than crashed."""
    for event in executed.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return data.user_failure_data.description, True
        if data.error is not None:
            return data.error.to_string().strip().splitlines()[-1], False
    return "the run failed", False


def run_products(
    platform: Platform,
    defs: dg.Definitions | None = None,
    on_start: Callable[[Contract], None] | None = None,
    skip: Collection[str] = (),
    instance: dg.DagsterInstance | None = None,
) -> Iterator[ProductRun]:
    """Materialize each product whose inputs published since its last build (or whose contract
    changed), inputs first, in this process as the `products` sensor's runs would.

    A product's state is read just before it is decided on: an earlier product's build may have
    made it stale. One waiting for an input is passed over, and so is one whose run key
    (`product_run_key`) is in `skip`. `defs`: the platform's Definitions if already built;
    `instance`: the workspace's Dagster instance if already open.
    """
    defs = defs or build_definitions(platform)
    keys = {k for asset in defs.assets or () for k in asset.keys}  # type: ignore[union-attr]
    with ExitStack() as opened:
        for contract in products(platform):
            key = asset_key(contract)
            if key not in keys:
                continue  # defined after `defs` were built: the next Definitions have it
            found = state(platform, contract)
            run_key = product_run_key(found)
            if not found.stale or run_key in skip:
                continue
            if on_start:
                on_start(contract)
            if instance is None:  # opened for the first build only
                instance = opened.enter_context(dagster_instance(platform.workspace))
            executed = dg.materialize(
                [defs.resolve_assets_def(key)],
                instance=instance,
                tags={PRODUCT_TAG: contract.id},
                run_config=QUIET,
                raise_on_error=False,
            )
            builds = platform.deliveries.list(contract.id)
            last = builds[-1] if builds else None
            before = found.last.delivery_id if found.last else None
            if executed.success or (last is not None and last.delivery_id != before):
                yield ProductRun(contract, last, executed.run_id, run_key)
                continue
            failure, refused = _failure(executed)
            yield ProductRun(contract, last, executed.run_id, run_key, failure, refused)


def check_freshness(
    platform: Platform,
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult | None:
    """Run the freshness checks in this process, as the `freshness` sensor does under the daemon.

    None when no contract has an SLA (there are no freshness checks then). `defs`: the
    platform's Definitions if already built; `instance`: its Dagster instance if open.
    """
    defs = defs or build_definitions(platform)
    if not any(job.name == FRESHNESS_JOB for job in defs.jobs or ()):
        return None
    with _opened(platform, instance) as instance:
        return defs.resolve_job_def(FRESHNESS_JOB).execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False
        )
