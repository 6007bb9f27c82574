"""The one `Definitions` of Gongyu's code location (`workspace.yaml` points here)."""

from __future__ import annotations

import dagster as dg

from assets.factory import contract_asset
from assets.freshness import freshness_definitions
from assets.sensors import access_requests_sensor, landing_sensor
from gongyu.ground.settings import get_settings
from gongyu.platform import Platform


def build_definitions(platform: Platform) -> dg.Definitions:
    """Assets, checks and sensors for every contract of the platform, which assets and sensors
    are handed as the `gongyu` resource."""
    contracts = list(platform.contracts.values())
    gate = dg.Definitions(
        assets=[contract_asset(c) for c in contracts],
        sensors=[landing_sensor(contracts), access_requests_sensor],
        resources={"gongyu": platform},
    )
    return dg.Definitions.merge(gate, freshness_definitions(contracts))


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev -w workspace.yaml`: Dagster's own processes build their platform
    from the same settings (`GONGYU_*` environment) as `gongyu run`."""
    return build_definitions(Platform(get_settings()))
