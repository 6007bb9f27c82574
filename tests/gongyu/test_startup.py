"""Light verbs load only what they use: no Dagster, Great Expectations, pyiceberg or DuckDB for
`gongyu --help`, listing keys, contracts or grants, or a workspace's status."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Runs the command in a fresh interpreter, then prints which packages it loaded.
LOADED = """
import json, sys
from gongyu.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""
HEAVY = {"dagster", "great_expectations", "pyiceberg", "duckdb", "fastapi", "uvicorn"}


def loaded(*args: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_help_loads_no_library_of_the_platform() -> None:
    found = loaded("--help")
    assert not found & (HEAVY | {"sqlalchemy", "pyarrow", "pandas", "alembic"})


@pytest.mark.parametrize(
    "verb", [["keys", "list"], ["grants", "list"], ["status"], ["audit", "list", "--limit", "1"]]
)
def test_light_verbs_load_no_engine(verb: list[str], tmp_path: Path) -> None:
    assert not loaded(*verb, "--workspace", str(tmp_path)) & HEAVY


def test_listing_contracts_needs_no_workspace(tmp_path: Path) -> None:
    env = {**os.environ, "GONGYU_HOME": str(tmp_path / "ws")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("gongyu")), "contracts", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
    assert not (tmp_path / "ws").exists()
    assert not loaded("contracts", "list") & HEAVY


def test_a_run_with_nothing_to_do_starts_neither_dagster_nor_the_gate(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    found = loaded("run", "--workspace", ws)
    assert not found & {"dagster", "great_expectations"}
    # A delivery waiting: the same command starts Dagster and runs it.
    data = REPO / "data/finance_insurance/koica_oda_by_income_group_20210521.csv"
    gongyu = str(Path(sys.executable).with_name("gongyu"))
    delivered = subprocess.run(
        [gongyu, "deliver", "koica_oda_by_income_group", str(data), "--workspace", ws],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    assert {"dagster", "great_expectations"} <= loaded("run", "--workspace", ws)
    assert not loaded("run", "--workspace", ws) & {"dagster", "great_expectations"}


def test_the_environment_holds_byte_code() -> None:
    """`./dev` byte-compiles the packages and the code at set-up: where nothing may write .pyc
    files later (PYTHONDONTWRITEBYTECODE), every process would compile what it imports."""
    if not (Path(sys.prefix) / ".gongyu-installed").exists():
        pytest.skip("this environment was not set up by ./dev")
    for module in ("sqlalchemy", "dagster", "great_expectations", "gongyu.platform"):
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None
        assert Path(importlib.util.cache_from_source(spec.origin)).exists(), spec.origin
