"""SIGKILL the publishing process at random points: nothing partial, lost, doubled or damaged.

CI runs a bounded number of kills; `GONGYU_CRASH_KILLS=50` (or `python -m tests.crash.run
--kills 50`) runs the full version.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from catalog.deliveries import DeliveryState
from gongyu.delivery.way import process_delivery
from gongyu.ground.storage import FolderStorage
from gongyu.platform import Platform
from tests.crash.run import DATASET, crash_run, delivery_file, main_state

KILLS = int(os.environ.get("GONGYU_CRASH_KILLS", "10"))


@pytest.mark.slow
def test_killed_publishes_recover_to_the_uninterrupted_table(tmp_path: Path) -> None:
    figure = crash_run(KILLS, seed=8, folder=tmp_path)
    assert figure.problems == []
    assert figure.lost == figure.double_published == figure.partial == figure.raw_damaged == 0
    assert figure.kills == KILLS  # runs that beat their kill are recovered too, but not counted
    assert figure.converged == figure.kills + figure.survived
    assert figure.ok, figure.line()


def test_put_text_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path)
    storage.put_text("a/report.txt", "old")
    storage.put_text("a/report.txt", "new")
    assert storage.read_text("a/report.txt") == "new"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["report.txt"]


def test_a_run_killed_after_main_moved_is_recorded_not_appended_again(
    platform: Platform, tmp_path: Path
) -> None:
    delivery, _ = platform.deliver(DATASET, delivery_file(tmp_path, 0))
    done = process_delivery(platform, delivery.delivery_id).delivery
    _, rows, history = main_state(platform)
    # What a kill between the publish commit and the ledger update leaves behind.
    platform.deliveries.set_state(delivery.delivery_id, DeliveryState.validating)
    again = process_delivery(platform, delivery.delivery_id).delivery
    assert again.state == DeliveryState.published
    assert again.snapshot_id == done.snapshot_id
    assert main_state(platform)[1:] == (rows, history)
