"""A delivery's way, step by step: each step is a function of its own room, and publishing
stages again when another writer's commit lands first."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog.deliveries import DeliveryState
from catalog.lakehouse import Lakehouse
from gongyu.delivery.admit import admit
from gongyu.delivery.gate import gate
from gongyu.delivery.publish import publish
from gongyu.delivery.report import report, results_prefix
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from tests.conftest import data_file

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
DATASET = "kotsa_car_inspection_centers"


def test_each_step_is_a_function_of_its_own(platform: Platform, tmp_path: Path) -> None:
    delivery, _ = platform.deliver(DATASET, data_file(KOTSA))
    with platform.deliveries.held(delivery.delivery_id) as held:
        admitted = admit(platform, held)
        assert admitted.readable and admitted.checks[0].rule.startswith("contract:")
        with platform.landing.local(held.landing_key) as source:
            run = gate(platform, admitted, source, tmp_path / "work")
            assert run.result.passed and run.result.checks[0] == admitted.checks[0]
            snapshot_id = publish(platform, admitted, held, run, [])
        outcome = report(platform, admitted, held, run, snapshot_id, started=0.0)
    assert snapshot_id is not None and outcome.published
    assert outcome.delivery.snapshot_id == str(snapshot_id)
    assert run.result.checks[-1].rule == "audit:staged-snapshot"
    kept = platform.results.list_files(results_prefix(held))
    assert {k.rsplit("/", 1)[-1] for k in kept} >= {"report.txt", "report.json", "suite.json"}
    # Published once: a second publish of the same delivery finds it and appends nothing.
    assert publish(platform, admitted, held, run, []) == snapshot_id


def test_a_commit_landing_first_makes_the_delivery_stage_again(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, _ = platform.deliver(DATASET, data_file(KOTSA))
    # Another agency's worker publishes a different delivery of the same table between this
    # delivery's staging and its commit: a real conflict on `main`.
    other = tmp_path / "again.csv"
    shutil.copy(data_file(KOTSA), other)
    with other.open("ab") as f:
        f.write(b"\r\n")
    second, new = platform.deliver(DATASET, other)
    assert new
    stage = Lakehouse.stage
    staged = []

    def stage_then_lose_the_race(self: Lakehouse, *args: object, **kwargs: object) -> object:
        result = stage(self, *args, **kwargs)
        staged.append(result)
        if len(staged) == 1:
            process_delivery(Platform(platform.settings), second.delivery_id)
        return result

    monkeypatch.setattr(Lakehouse, "stage", stage_then_lose_the_race)
    outcome = process_delivery(platform, first.delivery_id)
    assert len(staged) == 3  # ours, the other worker's, ours again
    assert outcome.delivery.state == DeliveryState.published
    audits = [c for c in outcome.gate.checks if c.rule == "audit:staged-snapshot"]
    assert len(audits) == 1  # the lost attempt leaves no check behind
    published = platform.lakehouse.catalog.load_table(platform.contract(DATASET).table)
    assert published.metadata.current_snapshot_id == int(outcome.delivery.snapshot_id or 0)
    assert published.metadata.refs.keys() == {"main"}  # the lost attempt's branch is dropped
