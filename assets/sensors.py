"""The sensors: new deliveries become runs of their dataset's asset; an input's publication
becomes one run of each product over it."""

import hashlib
import json

import dagster as dg

from assets.factory import asset_key, partitions_name
from assets.products import PRODUCT_TAG
from catalog.deliveries import Delivery
from contracts.model import Contract
from gongyu.delivery.pending import pending
from gongyu.platform import Platform
from gongyu.products.freshness import ProductState, products, state


def run_key(delivery: Delivery) -> str:
    """The run key of a delivery's next run: its id, then one key per retry, so Dagster skips
    a request already launched but launches again once a stopped run's lease lapses."""
    return (
        delivery.delivery_id
        if not delivery.attempts
        else f"{delivery.delivery_id}.{delivery.attempts}"
    )


def landing_sensor(contracts: list[Contract]) -> dg.SensorDefinition:
    """Watch every dataset's landing zone; one run per new delivery (run key = delivery id).

    A product's deliveries are its builds, which its own run takes through the gate (one left
    by a stopped run is taken by the product's next run): they launch nothing here.
    """

    @dg.sensor(
        name="landing_zone",
        asset_selection=[asset_key(c) for c in contracts if c.product is None],
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Registers files dropped into landing/<agency>/<dataset>/ and launches a "
        "run for each received delivery, and again for one whose run stopped (its lease lapsed).",
    )
    def landing_zone(
        context: dg.SensorEvaluationContext, gongyu: dg.ResourceParam[Platform]
    ) -> dg.SensorResult:
        found = pending(gongyu)
        for delivery in found.withdrawn:
            # Its contract was withdrawn (a file that stopped loading): it waits for it, and
            # the others go on.
            context.log.warning(
                f"{delivery.delivery_id} waits: no contract {delivery.dataset_id} is live"
            )
        new_partitions: dict[str, list[str]] = {}
        requests = []
        for delivery, contract in found.runnable:
            name = partitions_name(contract)
            if not context.instance.has_dynamic_partition(name, delivery.delivery_id):
                new_partitions.setdefault(name, []).append(delivery.delivery_id)
            requests.append(
                dg.RunRequest(
                    run_key=run_key(delivery),
                    partition_key=delivery.delivery_id,
                    asset_selection=[asset_key(contract)],
                    tags={"gongyu/dataset": contract.id, "gongyu/delivery": delivery.delivery_id},
                )
            )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[
                dg.AddDynamicPartitionsRequest(partitions_def_name=n, partition_keys=keys)
                for n, keys in new_partitions.items()
            ],
        )

    return landing_zone


def product_run_key(found: ProductState) -> str:
    """The run key of a product's build over these input snapshots under this contract
    version: one publication of an input launches one run, never one per tick."""
    made = json.dumps({"inputs": found.pins, "version": found.contract.version}, sort_keys=True)
    return f"{found.contract.id}:{hashlib.sha256(made.encode()).hexdigest()[:12]}"


def products_sensor(contracts: list[Contract]) -> dg.SensorDefinition:
    """Launch a build of each product whose inputs published since its last build (or whose
    contract changed), inputs first: a product over a product waits for that one's build."""
    keys = {c.id: asset_key(c) for c in contracts}

    @dg.sensor(
        name="products",
        asset_selection=list(keys.values()),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches a build of each joint product whose inputs published a new "
        "snapshot since its last build, or whose contract changed (one run per change).",
    )
    def products_tick(
        context: dg.SensorEvaluationContext, gongyu: dg.ResourceParam[Platform]
    ) -> dg.SensorResult | dg.SkipReason:
        requests = []
        building: set[str] = set()
        for contract in products(gongyu):
            if contract.id not in keys:
                continue  # defined since this code location loaded: its reload adds it
            assert contract.product is not None  # products() returns products
            if building.intersection(contract.product.inputs):
                # Built now over the input's old snapshot, it would be stale at once.
                building.add(contract.id)
                continue
            found = state(gongyu, contract)
            if not found.stale:
                continue
            building.add(contract.id)
            requests.append(
                dg.RunRequest(
                    run_key=product_run_key(found),
                    asset_selection=[keys[contract.id]],
                    tags={PRODUCT_TAG: contract.id},
                )
            )
        if not requests:
            return dg.SkipReason("no product's inputs published since its last build")
        return dg.SensorResult(run_requests=requests)

    return products_tick


@dg.sensor(
    name="access_requests",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks approved access requests whose grant has ended as expired (on the audit "
    "record, with a notice) and reminds grantees of grants ending within 14 days.",
)
def access_requests_sensor(
    context: dg.SensorEvaluationContext, gongyu: dg.ResourceParam[Platform]
) -> dg.SkipReason:
    """The hourly sweep of access requests; it launches no run."""
    expired = gongyu.requests.sweep()
    return dg.SkipReason(f"{len(expired)} request(s) expired: {', '.join(expired) or 'none'}")
