"""Dagster's instance on PostgreSQL: with `GONGYU_DATABASE_URL` there, runs, events and
schedules are stored beside the catalog, and a delivery runs through Dagster end to end."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
from sqlalchemy import text

from assets.runner import dagster_home, dagster_instance, run_pending
from catalog.deliveries import DeliveryState
from gongyu.ground.settings import Settings
from gongyu.ground.workspace import Workspace
from gongyu.platform import Platform
from tests.assets.test_pipeline import KOTSA
from tests.conftest import data_file
from tests.published import read_arrow


def test_a_delivery_runs_through_dagster_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / "ws", database_url=postgres_url))
    config = yaml.safe_load((dagster_home(platform.workspace) / "dagster.yaml").read_text())
    assert config["storage"]["postgres"]["postgres_url"] == postgres_url
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"  # the rest is kept

    contract = platform.contract("kotsa_car_inspection_centers")
    platform.deliver(contract.id, data_file(KOTSA))
    [(done, run_id)] = list(run_pending(platform))
    assert done.state == DeliveryState.published
    assert read_arrow(platform.lakehouse.catalog, contract.table).num_rows == done.rows == 59
    with dagster_instance(platform.workspace) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert instance.get_run_by_id(run_id).is_success
    with platform.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM runs WHERE run_id = :r"), {"r": run_id})
        assert stored.scalar() == 1
    assert not (platform.workspace.dagster_home / "history").exists()  # no SQLite runs


def test_a_password_stays_out_of_the_instance_file(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://gongyu:s3cret@db.internal:5432/gongyu"
    home = dagster_home(Workspace(tmp_path / "ws", database_url=url))
    written = (home / "dagster.yaml").read_text()
    assert "s3cret" not in written
    config = yaml.safe_load(written)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "GONGYU_DATABASE_URL"}
