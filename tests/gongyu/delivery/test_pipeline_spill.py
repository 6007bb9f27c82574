"""`process_delivery` spills the typed delivery to the workspace and removes it afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from gongyu.delivery.way import process_delivery
from gongyu.demo import bad_value
from gongyu.platform import Platform
from quality.suite import build_suite
from tests.conftest import data_file

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


def validation(platform: Platform, dataset: str, delivery: str) -> dict:
    path = platform.workspace.results / dataset / delivery / "validation.json"
    return json.loads(path.read_text())


def test_spill_is_removed_and_validation_is_one_gx_result(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    delivery, _ = platform.deliver(contract.id, data_file(KOTSA))
    outcome = process_delivery(platform, delivery.delivery_id)
    assert outcome.published
    assert not (platform.workspace.staging / delivery.delivery_id).exists()
    result = validation(platform, contract.id, delivery.delivery_id)
    suite = build_suite(contract)
    # One result per expectation of the whole suite, in suite order, though run per column group.
    assert len(result["results"]) == len(suite.expectations) > 1
    assert [r["expectation_config"]["type"] for r in result["results"]] == [
        e.expectation_type for e in suite.expectations
    ]
    checks = [r["expectation_config"]["meta"]["check"] for r in result["results"]]
    assert checks == sorted(checks)
    assert result["suite_name"] == suite.name and result["success"] is True
    stats = result["statistics"]
    assert stats["evaluated_expectations"] == len(suite.expectations)
    assert stats["successful_expectations"] == len(suite.expectations)
    assert stats["unsuccessful_expectations"] == 0 and stats["success_percent"] == 100.0
    # The suite the delivery was checked against is kept beside its result.
    kept = platform.workspace.results / contract.id / delivery.delivery_id / "suite.json"
    assert json.loads(kept.read_text())["name"] == result["suite_name"]


def test_spill_is_removed_after_quarantine(platform: Platform, tmp_path: Path) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    bad = bad_value(data_file(KOTSA), tmp_path / "bad.csv", "검사진로수", 5, "3개")
    delivery, _ = platform.deliver(contract.id, bad)
    outcome = process_delivery(platform, delivery.delivery_id)
    assert not outcome.published
    assert not (platform.workspace.staging / delivery.delivery_id).exists()
    assert list(platform.workspace.staging.iterdir()) == []
