"""Other engines read Gongyu's published `public` tables with no copy (embedded default)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongyu.cli import app
from gongyu.engines import public_tables
from gongyu.platform import Platform
from tests.api.world import ROWS, build_platform, table
from tests.gongyu.engines import read_inside, read_outside


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The API test world's four tables published, one per access level."""
    yield build_platform(tmp_path_factory.mktemp("engines"))


def test_only_public_tables_are_listed(platform: Platform) -> None:
    [listed] = public_tables(platform)
    assert listed.table == table("public") and listed.dataset_id == "cases_public"
    assert listed.metadata_location.endswith(".metadata.json")
    current = platform.lakehouse.catalog.load_table(listed.table).current_snapshot()
    assert current is not None and listed.snapshot_id == current.snapshot_id


def test_duckdb_pyiceberg_and_polars_read_the_same_rows(platform: Platform) -> None:
    [listed] = public_tables(platform)
    ours = read_inside(platform, listed.table)
    assert len(ours) == ROWS
    read = read_outside(platform, listed)
    assert set(read) == {"duckdb", "pyiceberg", "polars"}
    for engine, rows in read.items():
        assert rows == ours, engine


def test_the_cli_lists_them(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = platform.settings
    monkeypatch.setenv("GONGYU_CONTRACTS_DIR", str(settings.contracts_dir))
    result = CliRunner().invoke(app, ["engines", "tables", "--json", "-w", str(settings.home)])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (
        row["table"] == table("public")
        and Path(row["metadata_location"].removeprefix("file://")).is_file()
    )
