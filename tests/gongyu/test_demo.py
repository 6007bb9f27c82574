"""The main job end to end: every real dataset, the two failures and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gongyu.demo import fresh_workspace, plan
from tests.gongyu.test_cli import gongyu


@pytest.mark.slow
def test_demo_runs_every_delivery_as_expected(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    done = gongyu("demo", "--workspace", str(ws), "--no-serve")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Gongyu demo" in done.stdout
    status = json.loads(gongyu("status", "--json", "--workspace", str(ws)).stdout)
    planned = plan(ws / "demo-inputs")
    assert [s["dataset_id"] for s in status] == [p.dataset_id for p in planned]
    assert [s["state"] for s in status] == [p.expect.value for p in planned]
    quarantined = [s for s in status if s["state"] == "quarantined"]
    assert len(quarantined) == 2
    assert all(s["reasons"] and s["snapshot_id"] is None for s in quarantined)
    # Every shipped contract got at least one published delivery.
    contracts = json.loads(gongyu("contracts", "list", "--json").stdout)
    assert {c["id"] for c in contracts} == {s["dataset_id"] for s in status}


def test_demo_never_wipes_a_folder_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a demo workspace"):
        fresh_workspace(precious)
    assert (precious / "keep.txt").read_text() == "mine"
    fresh_workspace(tmp_path / "new")
    fresh_workspace(tmp_path / "new")  # a demo workspace is replaced on the next run
