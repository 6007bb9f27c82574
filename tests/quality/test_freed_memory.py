"""The gate switches its process to allocators that give freed memory back: pyarrow's system
pool (not mimalloc, which keeps what it frees) and a fixed mmap threshold for glibc's malloc."""

from __future__ import annotations

from tests.conftest import REPO, data_file, in_fresh_interpreter

# A fresh interpreter: the pool before and after a real delivery's gate, and its verdict.
SCRIPT = """
import json, sys
from pathlib import Path
import pyarrow as pa
from contracts.loader import load_contract
from quality.gate import run_gate
before = pa.default_memory_pool().backend_name
run = run_gate(Path(sys.argv[1]), load_contract(Path(sys.argv[2])))
after = pa.default_memory_pool().backend_name
print(json.dumps({"before": before, "after": after, "rows": run.result.rows}))
"""


def test_the_gate_returns_freed_memory_to_the_system() -> None:
    path = data_file("welfare_safety/police_crime_by_region_20151231.csv")
    contract = REPO / "contracts/welfare_safety/knpa/police_crime_by_region_2015.yaml"
    # Without a pool chosen in the environment: the switch must be the gate's.
    found = in_fresh_interpreter(
        SCRIPT, str(path), str(contract), drop_env=("ARROW_DEFAULT_MEMORY_POOL",)
    )
    assert found["before"] != "system"  # pyarrow's own default, so the switch is the gate's
    assert found["after"] == "system"
    assert found["rows"] == 38
