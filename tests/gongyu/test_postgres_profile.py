"""The scale-out profile's database: the gate, keys, grants, audit and the SQL API with the
catalog and every platform table on PostgreSQL (`GONGYU_DATABASE_URL`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from catalog.access.audit import AuditKind
from catalog.access.principal import Role
from catalog.deliveries import DeliveryState
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from tests.api.world import GRANTEE, OWNER, ROWS, SAME_SECTOR, World, table, world
from tests.conftest import data_file
from tests.published import read_arrow

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


@pytest.fixture(scope="module")
def served(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The API test world, its catalog database on PostgreSQL."""
    with world(tmp_path_factory.mktemp("pg"), database_url=postgres_url) as w:
        yield w


def test_everything_lives_in_postgres(served: World) -> None:
    platform = served.platform
    assert platform.engine.dialect.name == "postgresql"
    assert platform.lakehouse.catalog.engine.dialect.name == "postgresql"
    assert not platform.workspace.catalog_db.exists()  # no SQLite file on the side
    with platform.engine.connect() as conn:
        published = conn.execute(
            text("SELECT count(*) FROM gongyu_deliveries WHERE state = 'published'")
        ).scalar()
        tables = conn.execute(text("SELECT count(*) FROM iceberg_tables")).scalar()
    assert published == 4 and tables == 4


def test_the_gate_publishes_a_real_file(served: World) -> None:
    platform = served.platform
    contract = platform.contract("kotsa_car_inspection_centers")
    delivery, new = platform.deliver(contract.id, data_file(KOTSA))
    assert new
    outcome = process_delivery(platform, delivery.delivery_id)
    assert outcome.published, outcome.report
    assert outcome.delivery.state == DeliveryState.published
    assert read_arrow(platform.lakehouse.catalog, contract.table).num_rows == 59
    # A second platform process sees the same ledger and tables through the same URL.
    again = Platform(platform.settings)
    assert again.deliveries.get(delivery.delivery_id).snapshot_id == outcome.delivery.snapshot_id
    assert platform.deliver(contract.id, data_file(KOTSA))[1] is False  # same bytes: no new


def test_keys_grants_and_audit(served: World) -> None:
    platform = served.platform
    key, token = platform.keys.create("kotsa", Role.analyst, "pg team")
    assert platform.keys.verify(token).agency == "kotsa"
    platform.keys.revoke(key.key_id)
    assert platform.keys.verify(token) is None
    [grant] = platform.grants.list(agency=GRANTEE)
    assert grant.row_filter and grant.dataset_id == "cases_restricted"
    principal = platform.keys.verify(served.keys[(OWNER, Role.analyst)])
    seqs = [platform.audit.append(principal, AuditKind.catalog, f"GET /{i}").seq for i in range(3)]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    checked = platform.audit.verify()
    assert checked.ok and checked.count == seqs[-1]


def test_the_sql_api_answers(served: World) -> None:
    response = served.sql(OWNER, f"SELECT count(*), sum(n) FROM {table('public')}")
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[ROWS, ROWS * (ROWS + 1) // 2]]
    masked = served.sql(SAME_SECTOR, f"SELECT sum(amount), count(*) FROM {table('sector')}")
    assert masked.json()["rows"] == [[None, ROWS]]
    # The audit record is written as the answer finishes streaming: wait for it briefly.
    deadline = time.monotonic() + 10
    while not served.platform.audit.records(agency=SAME_SECTOR):
        assert time.monotonic() < deadline, "the query was not audited"
        time.sleep(0.05)
    assert served.platform.audit.records(agency=SAME_SECTOR)[0].kind == "sql"
    assert served.platform.audit.verify().ok


def test_a_new_workspace_on_the_same_database_is_not_migrated_twice(
    served: World, tmp_path: Path
) -> None:
    other = Platform(served.platform.settings.model_copy(update={"home": tmp_path / "ws2"}))
    assert other.keys.list()  # the same tables, already at head
