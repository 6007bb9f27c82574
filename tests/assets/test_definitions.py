"""Dagster sees one asset per contract, with its blocking checks and the landing sensor."""

from __future__ import annotations

import dagster as dg
import yaml

from assets.definitions import build_definitions
from assets.factory import asset_key, check_kinds
from gongyu.platform import Platform
from tests.conftest import REPO


def test_defs_can_load(platform: Platform) -> None:
    defs = build_definitions(platform)
    contracts = list(platform.contracts.values())
    graph = defs.resolve_asset_graph()
    assert {asset_key(c) for c in contracts} <= set(graph.get_all_asset_keys())
    for c in contracts:
        spec = defs.resolve_assets_def(asset_key(c))
        assert spec.group_names_by_key[asset_key(c)] == c.sector
        assert spec.specs_by_key[asset_key(c)].owners == [c.steward, f"team:{c.agency}"]
        assert c.steward and "@" in c.steward
        checks = {k.name for k in spec.check_keys}
        assert checks == {k.value for k in check_kinds(c)}
        assert all(s.blocking for s in spec.check_specs)
        # A delivery per partition; a product (tests/assets/test_products.py) is one table.
        partitioned = isinstance(spec.partitions_def, dg.DynamicPartitionsDefinition)
        assert partitioned == (c.product is None)
    assert defs.resolve_sensor_def("landing_zone")


def test_workspace_yaml_points_at_the_code_location() -> None:
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    target = workspace["load_from"][0]["python_module"]
    module = __import__(target["module_name"], fromlist=[target["attribute"]])
    assert getattr(module, target["attribute"])
    assert yaml.safe_load((REPO / "dagster.yaml").read_text())["telemetry"] == {"enabled": False}


def test_the_access_requests_sweep_runs_under_the_daemon(platform: Platform) -> None:
    defs = build_definitions(platform)
    sensor = defs.resolve_sensor_def("access_requests")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.build_sensor_context(resources={"gongyu": platform}) as context:
        result = sensor(context)
    assert isinstance(result, dg.SkipReason) and "0 request(s) expired" in str(result.skip_message)
