"""Both scale-out services at once: catalog database on PostgreSQL and zones and warehouse in an
S3 bucket (moto on loopback); the gate, the SQL API, the catalog JSON API and outside engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from minio import Minio

from catalog.access.principal import Role
from catalog.deliveries import DeliveryState
from gongyu.delivery.way import process_delivery
from gongyu.engines import public_tables
from tests.api.world import OTHER_SECTOR, OWNER, ROWS, World, table, world
from tests.conftest import data_file
from tests.gongyu.engines import read_inside, read_outside
from tests.published import read_arrow

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
DATASET = "kotsa_car_inspection_centers"


@pytest.fixture(scope="module")
def served(
    postgres_url: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The API test world with its catalog database on PostgreSQL and its files in a bucket."""
    bucket = f"gongyu-{uuid.uuid4().hex[:12]}"
    Minio(s3_endpoint, access_key="test", secret_key="test", secure=False).make_bucket(bucket)
    s3 = {
        "s3_endpoint": s3_endpoint,
        "s3_bucket": bucket,
        "s3_access_key": "test",
        "s3_secret_key": "test",
        "s3_secure": False,
    }
    root = tmp_path_factory.mktemp("scaleout")
    with world(root, database_url=postgres_url, **s3) as w:
        yield w


def test_the_gate_sql_api_and_catalog_on_s3_and_postgres(served: World) -> None:
    platform = served.platform
    assert platform.engine.dialect.name == "postgresql"
    contract = platform.contract(DATASET)
    delivery, new = platform.deliver(DATASET, data_file(KOTSA))
    assert new
    outcome = process_delivery(platform, delivery.delivery_id)
    assert outcome.delivery.state == DeliveryState.published, outcome.delivery.reasons
    iceberg = platform.lakehouse.catalog.load_table(contract.table)
    assert iceberg.location().startswith(f"s3://{platform.settings.s3_bucket}/warehouse/")
    assert not platform.workspace.catalog_db.exists()
    published = read_arrow(platform.lakehouse.catalog, contract.table)
    assert published.num_rows == outcome.delivery.rows == 59

    answer = served.sql(OTHER_SECTOR, f"SELECT count(*) FROM {contract.table}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [[59]]
    summed = served.sql(OWNER, f"SELECT count(*), sum(n) FROM {table('public')}")
    assert summed.json()["rows"] == [[ROWS, ROWS * (ROWS + 1) // 2]]

    with served.client(OTHER_SECTOR, Role.analyst) as client:
        page = client.get(f"/api/v1/catalog/datasets/{DATASET}")
    assert page.status_code == 200, page.text
    entry = page.json()
    assert entry["summary"]["readable"] is True
    assert entry["summary"]["last_published_at"] is not None
    assert len(entry["sample"]["rows"]) == 10


def test_other_engines_read_the_bucket_through_the_postgres_catalog(served: World) -> None:
    listed = {t.table: t for t in public_tables(served.platform)}
    assert table("public") in listed and table("sector") not in listed
    target = listed[table("public")]
    assert target.metadata_location.startswith(f"s3://{served.platform.settings.s3_bucket}/")
    ours = read_inside(served.platform, target.table)
    for engine, rows in read_outside(served.platform, target).items():
        assert rows == ours, engine
