"""The one `Definitions` of Gongyu's code location (`workspace.yaml` points here)."""

from __future__ import annotations

import dagster as dg
from sqlalchemy.engine import make_url

from assets.factory import contract_asset
from assets.freshness import freshness_definitions
from assets.resources import GongyuResource
from assets.sensors import landing_sensor
from contracts.loader import load_contracts
from gongyu.settings import Settings, get_settings
from sectors.registry import load_registry


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks and sensors for every contract, bound to the settings' workspace."""
    contracts = load_contracts(settings.contracts_dir, load_registry(settings.sectors_file))
    gate = dg.Definitions(
        assets=[contract_asset(c) for c in contracts],
        sensors=[landing_sensor(contracts)],
        resources={"gongyu": resource(settings)},
    )
    return dg.Definitions.merge(gate, freshness_definitions(contracts))


def resource(settings: Settings) -> GongyuResource:
    """The resource of the settings' workspace and catalog database."""
    url = settings.database_url
    # Resource config is shown in Dagster's UI: a URL with a password stays in the environment.
    shown = url if url and make_url(url).password is None else None
    return GongyuResource(home=str(settings.home.expanduser().resolve()), database_url=shown)


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev -w workspace.yaml`; the workspace comes from GONGYU_HOME."""
    return build_definitions(get_settings())
