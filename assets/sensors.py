"""The landing-zone sensor: new deliveries become runs of their dataset's asset."""

import dagster as dg

from assets.factory import asset_key, partitions_name
from catalog.deliveries import Delivery
from contracts.model import Contract
from gongyu.delivery.landing import receive_dropped
from gongyu.platform import Platform


def run_key(delivery: Delivery) -> str:
    """The run key of a delivery's next run: its id, then one key per retry, so Dagster skips
    a request already launched but launches again once a stopped run's lease lapses."""
    return (
        delivery.delivery_id
        if not delivery.attempts
        else f"{delivery.delivery_id}.{delivery.attempts}"
    )


def landing_sensor(contracts: list[Contract]) -> dg.SensorDefinition:
    """Watch every dataset's landing zone; one run per new delivery (run key = delivery id)."""

    @dg.sensor(
        name="landing_zone",
        asset_selection=[asset_key(c) for c in contracts],
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Registers files dropped into landing/<agency>/<dataset>/ and launches a "
        "run for each received delivery, and again for one whose run stopped (its lease lapsed).",
    )
    def landing_zone(
        context: dg.SensorEvaluationContext, gongyu: dg.ResourceParam[Platform]
    ) -> dg.SensorResult:
        platform = gongyu
        receive_dropped(platform)
        new_partitions: dict[str, list[str]] = {}
        requests = []
        for delivery in platform.deliveries.pending():
            contract = platform.contracts.get(delivery.dataset_id)
            if contract is None:
                # Its contract was withdrawn (a file that stopped loading): it waits for it,
                # and the others go on.
                context.log.warning(
                    f"{delivery.delivery_id} waits: no contract {delivery.dataset_id} is live"
                )
                continue
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
