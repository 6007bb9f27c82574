"""Landing zone, gate results, warehouse and SQL sandbox on a real S3 server on loopback (moto)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from minio import Minio

from assets.definitions import build_definitions
from assets.runner import dagster_instance, landing_zone_tick
from catalog.access.principal import Principal, Role
from catalog.deliveries import DeliveryState, landing_prefix
from catalog.privacy_scan import scan_catalog
from gongyu.delivery.landing import receive_dropped
from gongyu.delivery.report import results_prefix
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from gongyu.query.running import Limits
from tests.conftest import data_file
from tests.published import read_arrow

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
DATASET = "kotsa_car_inspection_centers"


def client(settings: Settings) -> Minio:
    """A minio client of the test bucket, independent of Gongyu's own."""
    assert settings.s3_endpoint and settings.s3_secret_key
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=False,
    )


def objects(settings: Settings, prefix: str) -> list[str]:
    """Every object name under `prefix` in the bucket."""
    found = client(settings).list_objects(settings.s3_bucket, prefix=prefix, recursive=True)
    return [o.object_name or "" for o in found]


def test_storage_on_a_bucket(s3_settings: Settings, tmp_path: Path) -> None:
    zone = Platform(s3_settings).landing
    source = tmp_path / "raw.csv"
    source.write_bytes("가,나\n1,2\n".encode("cp949"))
    with zone.incoming(source) as incoming:
        incoming.keep("a/b/raw.csv")
    assert incoming.digest == hashlib.sha256(source.read_bytes()).hexdigest()
    with zone.incoming(source) as again, pytest.raises(FileExistsError):
        again.keep("a/b/raw.csv")  # raw objects are never overwritten
    zone.put_text("a/.hidden/x.txt", "hidden")
    zone.put_text("a/note.txt", "한글")
    assert zone.list_files() == ["a/b/raw.csv", "a/note.txt"]
    assert zone.list_files("a/b/") == ["a/b/raw.csv"]
    assert zone.read_text("a/note.txt") == "한글"
    assert zone.read_text("a/none.txt") is None
    assert zone.size("a/b/raw.csv") == source.stat().st_size
    with zone.local("a/b/raw.csv") as local:
        assert local.name == "raw.csv" and local.read_bytes() == source.read_bytes()
    assert not local.exists()  # the temporary copy is gone
    zone.hide("a/b/raw.csv", "duplicate-of-x")
    assert zone.list_files() == ["a/note.txt"]
    assert f"{zone.uri}/a/b/.duplicate-of-x-raw.csv".endswith(
        objects(s3_settings, "landing/a/b/")[0]
    )
    with pytest.raises(ValueError, match="escapes"):
        zone.put_text("../results/x.txt", "no")


def test_delivery_published_and_queried_from_the_bucket(s3_settings: Settings) -> None:
    platform = Platform(s3_settings)
    raw = data_file(KOTSA)
    delivery, new = platform.deliver(DATASET, raw)
    assert new
    outcome = process_delivery(platform, delivery.delivery_id)
    assert outcome.delivery.state == DeliveryState.published, outcome.delivery.reasons

    # The raw bytes are in the bucket as delivered, with their hash, and cannot be replaced.
    bucket = client(s3_settings)
    name = f"landing/{delivery.landing_key}"
    stored = bucket.get_object(s3_settings.s3_bucket, name).read()
    assert stored == raw.read_bytes()
    digest = hashlib.sha256(stored).hexdigest()
    assert bucket.stat_object(s3_settings.s3_bucket, name).metadata["x-amz-meta-sha256"] == digest
    with platform.landing.incoming(raw) as again, pytest.raises(FileExistsError):
        again.keep(delivery.landing_key)

    # Table data, metadata and the gate's results are in the bucket, not the workspace.
    assert any(n.endswith(".parquet") for n in objects(s3_settings, "warehouse/"))
    assert any(n.endswith(".metadata.json") for n in objects(s3_settings, "warehouse/"))
    assert not list(platform.workspace.warehouse.rglob("*.parquet"))
    report = json.loads(platform.results.read_text(results_prefix(delivery) + "report.json") or "")
    assert report["outcome"] == "PUBLISHED"
    table = platform.lakehouse.catalog.load_table(platform.contract(DATASET).table)
    assert table.location().startswith(f"s3://{s3_settings.s3_bucket}/warehouse/")

    # The privacy scan reads every data file through the table's FileIO: from the bucket.
    assert scan_catalog(platform.lakehouse.catalog, platform.contracts) == []

    published = read_arrow(platform.lakehouse.catalog, platform.contract(DATASET).table)
    assert published.num_rows == outcome.delivery.rows > 0

    # The SQL API's sandbox reads the same Parquet objects over S3, and nothing else.
    service = QueryService(platform, Limits())
    analyst = Principal(subject="t", agency="koroad", role=Role.analyst, via="token")
    sql = (
        "SELECT count(*) AS n, count(DISTINCT center_name) AS names "
        f"FROM {table.name()[0]}.{DATASET}"
    )
    answer = service.run(analyst, sql)
    result = pa.Table.from_batches(list(answer.stream()), answer.schema)
    assert result.to_pylist() == [
        {"n": published.num_rows, "names": len(set(published["center_name"].to_pylist()))}
    ]
    # Locked down: the raw delivery in the same bucket is out of the sandbox's reach.
    sandbox = service.sandboxes.for_principal(analyst)
    raw_uri = f"s3://{s3_settings.s3_bucket}/{name}"
    with pytest.raises(duckdb.PermissionException):
        sandbox.con.execute(f"SELECT * FROM read_csv('{raw_uri}')")


def test_landing_sensor_sees_an_object_dropped_into_the_bucket(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dagster's resource builds its settings from the environment, as a deployment does.
    for key, value in s3_settings.model_dump(include={"s3_endpoint", "s3_bucket"}).items():
        monkeypatch.setenv(f"GONGYU_{key.upper()}", value)
    monkeypatch.setenv("GONGYU_S3_ACCESS_KEY", "test")
    monkeypatch.setenv("GONGYU_S3_SECRET_KEY", "test")
    monkeypatch.setenv("GONGYU_S3_SECURE", "false")
    platform = Platform(s3_settings)
    contract = platform.contract(DATASET)
    raw = data_file(KOTSA).read_bytes()
    drop = f"landing/{landing_prefix(contract)}drop.csv"
    bucket = client(s3_settings)
    bucket.put_object(s3_settings.s3_bucket, drop, io.BytesIO(raw), len(raw))

    with dagster_instance(platform.workspace) as instance:
        result = landing_zone_tick(build_definitions(platform), instance)
    [delivery] = platform.deliveries.list()
    assert [r.partition_key for r in result.run_requests] == [delivery.delivery_id]
    assert delivery.filename == "drop.csv" and delivery.size_bytes == len(raw)
    # Moved, not copied, into its delivery folder.
    assert objects(s3_settings, "landing/") == [f"landing/{delivery.landing_key}"]

    bucket.put_object(s3_settings.s3_bucket, drop, io.BytesIO(raw), len(raw))  # same bytes again
    assert receive_dropped(platform) == []
    hidden = f"landing/{landing_prefix(contract)}.duplicate-of-{delivery.delivery_id}-drop.csv"
    assert hidden in objects(s3_settings, "landing/")
    assert len(platform.deliveries.list()) == 1
