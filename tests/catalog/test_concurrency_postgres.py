"""Several processes on one PostgreSQL catalog: appends to one table all land on `main`, none
lost or doubled (optimistic commits, stage again on conflict), and the audit log stays one chain."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyiceberg.table.snapshots import ancestors_of

from catalog.lakehouse import SUMMARY_PREFIX, Lakehouse, sql_catalog
from contracts.model import ApplyMode, Contract
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.catalog.access.test_audit import WRITER
from tests.conftest import REPO, column, make_contract

WORKERS, DELIVERIES = 4, 3

PUBLISHER = """
import sys, time
from pathlib import Path
import pyarrow as pa
from catalog.lakehouse import Lakehouse, PublishConflict, sql_catalog
from tests.catalog.test_concurrency_postgres import shared_contract, rows_of

url, go, name, warehouse = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
worker = int(name.removeprefix("p"))
lake, contract = Lakehouse(sql_catalog(url, warehouse)), shared_contract()
while not go.exists():
    time.sleep(0.002)
conflicts = 0
for i in range(int(sys.argv[5])):
    delivery, n = f"w{worker}-d{i}", rows_of(worker, i)
    data = pa.table({"worker": [worker] * n, "n": list(range(n))})
    for attempt in range(200):
        try:
            staged = lake.stage(contract, delivery, data, {"worker": str(worker)})
            assert lake.audit(staged).passed
            lake.publish(staged)
            break
        except PublishConflict:
            conflicts += 1
    else:
        raise SystemExit(f"{delivery}: never published")
print(conflicts)
"""


def shared_contract() -> Contract:
    """The one append-mode table every worker publishes to."""
    return make_contract(
        [column("worker", "integer"), column("n", "integer")],
        dataset_id="shared_appends",
        mode=ApplyMode.append,
    )


def rows_of(worker: int, delivery: int) -> int:
    """Rows in a worker's delivery: distinct sizes, so a lost or doubled commit shows."""
    return 10 * worker + delivery + 1


def race(script: str, url: str, go: Path, *args: str) -> list[str]:
    """Run `script URL GO p<n> ARGS…` in WORKERS processes released together; their outputs."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(go), f"p{n}", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    time.sleep(3)  # let every process import and connect, then start them together
    go.touch()
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        outs.append(out)
    return outs


@pytest.mark.slow
def test_parallel_appends_to_one_table_lose_no_commit(postgres_url: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    lake = Lakehouse(sql_catalog(postgres_url, warehouse))
    contract = shared_contract()
    lake.table(contract)  # created once: the race is about commits, not creation
    outs = race(PUBLISHER, postgres_url, tmp_path / "go", str(warehouse), str(DELIVERIES))
    table = lake.catalog.load_table(contract.table)
    expected = sum(rows_of(w, i) for w in range(WORKERS) for i in range(DELIVERIES))
    assert table.scan().count() == expected
    ancestry = ancestors_of(table.current_snapshot(), table.metadata)
    on_main = [s.summary.get(f"{SUMMARY_PREFIX}delivery") for s in ancestry]
    wanted = {f"w{w}-d{i}" for w in range(WORKERS) for i in range(DELIVERIES)}
    assert sorted(d for d in on_main if d) == sorted(wanted)  # each once: none lost or doubled
    assert [r for r in table.metadata.refs if r != "main"] == []  # no staging branch left
    # Each worker prints the conflicts it retried: the writers really raced.
    assert sum(int(out) for out in outs) > 0


@pytest.mark.slow
def test_many_processes_keep_one_audit_chain(postgres_url: str, tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / "ws", database_url=postgres_url))
    assert platform.audit.verify().count == 0  # migrated before the writers race
    race(WRITER, postgres_url, tmp_path / "go-audit")  # each: 3 threads × 20 records
    result = platform.audit.verify()
    assert result.ok, result
    assert result.count == WORKERS * 3 * 20
