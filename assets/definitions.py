"""The one `Definitions` of Gongyu's code location (`workspace.yaml` points here)."""

from __future__ import annotations

import dagster as dg

from assets.factory import contract_asset
from assets.freshness import freshness_definitions
from assets.products import product_asset, product_schedule
from assets.sensors import access_requests_sensor, landing_sensor, products_sensor
from gongyu.ground.settings import get_settings
from gongyu.platform import Platform


def build_definitions(platform: Platform) -> dg.Definitions:
    """Assets, checks, sensors and schedules for every contract of the platform (a product's
    asset downstream of its inputs'), which they are handed as the `gongyu` resource."""
    contracts = list(platform.contracts.values())
    by_id = {c.id: c for c in contracts}
    products = [c for c in contracts if c.product is not None]
    gate = dg.Definitions(
        assets=[
            product_asset(c, by_id) if c.product is not None else contract_asset(c)
            for c in contracts
        ],
        sensors=[
            landing_sensor(contracts),
            access_requests_sensor,
            *([products_sensor(products)] if products else []),
        ],
        schedules=[product_schedule(c) for c in products if c.product and c.product.schedule],
        resources={"gongyu": platform},
    )
    return dg.Definitions.merge(gate, freshness_definitions(contracts))


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev -w workspace.yaml`: Dagster's own processes build their platform
    from the same settings (`GONGYU_*` environment) as `gongyu run`."""
    return build_definitions(Platform(get_settings()))
