"""The load benchmark bounded (`bench.load`, 8 clients × 5 s on small tables): every request
answered, each on a verifying audit chain once (one record, or opened and completed), the
delivery published meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import api_data, load


def test_bounded_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmark's data, server log and delivery file go to the test's folder, not bench/.work.
    monkeypatch.setattr(api_data, "WORK", tmp_path)
    monkeypatch.setattr(load, "WORK", tmp_path)
    args = load.parse(
        ["--clients", "8", "--seconds", "5", "--warmup", "0", "--rows", "10000", "--workers", "1"]
    )

    results = load.run(args)

    assert results["errors"] == 0, results["error_samples"]
    kinds = results["by_kind"]
    for kind in ("sql", "catalog json", "html page", "search", "upload", "steward page"):
        assert any(k.startswith(kind) and v["requests"] for k, v in kinds.items()), kind
    audit = results["audit"]
    assert audit["ok"], audit["reason"]
    assert audit["answered"] > 0
    assert (audit["lost"], audit["doubled"], audit["untagged"], audit["unfinished"]) == (0,) * 4
    assert audit["requests_on_chain"] == audit["answered"]
    assert audit["new_records"] > audit["answered"]  # queries that ran: opened, then completed
    assert results["delivery"]["state"] == "published"
    # Five seconds are too few for a memory verdict: only that the server was sampled.
    rss = results["rss"]
    assert rss["samples"] >= 3 and rss["first_mib"] > 0 and rss["flat"] is None
    assert all(t["pass"] for t in load.targets(args, results))
