"""Lineage datasets named by the OpenLineage naming convention, on the local workspace and on a
bucket: the delivered file by its path (`file`) or object key (`s3://<bucket>`), the Iceberg
table by its location with its catalog identifier as a symlink; every event valid against the
official spec files, FAIL and COMPLETE alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.naming.dataset import S3, LocalFileSystem

from gongyu.delivery.lineage import located, table_location, warehouse_namespace
from gongyu.delivery.lineage_sink import events_file
from gongyu.delivery.way import process_delivery
from gongyu.demo import bad_value
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.conftest import data_file
from tests.gongyu.delivery.test_lineage import REGISTRY, facets_of, spec_errors

KOTSA = "kotsa_car_inspection_centers"
TABLE = f"transport_logistics.{KOTSA}"
KOTSA_FILE = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


def run_twice(platform: Platform, tmp_path: Path) -> list[dict[str, Any]]:
    """A quarantined delivery (a lane count written '3개') and a published one; their events."""
    kotsa = data_file(KOTSA_FILE)
    bad = bad_value(kotsa, tmp_path / "kotsa_bad_value.csv", "검사진로수", 5, "3개")
    for file, published in ((bad, False), (kotsa, True)):
        delivery, _ = platform.deliver(KOTSA, file)
        outcome = process_delivery(platform, delivery.delivery_id)
        assert outcome.published == published, outcome.report
    path = events_file(platform.settings, platform.workspace)
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [e["eventType"] for e in events] == ["START", "FAIL", "START", "COMPLETE"]
    return events


def check_events(events: list[dict[str, Any]], file_namespace: str) -> dict[str, Any]:
    """Every event valid against the spec, the file and table named alike in all of them;
    returns the COMPLETE event."""
    for event in events:
        assert spec_errors(event) == []
        urls = {f["_schemaURL"].split("#")[0] for f in facets_of(event)}
        assert urls <= set(REGISTRY)  # every facet was checked against its spec file
        (source,) = event["inputs"]
        assert source["namespace"] == file_namespace
    complete = events[-1]
    tables = {(o["namespace"], o["name"]) for e in events for o in e["outputs"]}
    assert len(tables) == 1  # START (before the table exists) and COMPLETE name one table
    (output,) = complete["outputs"]
    (source,) = complete["inputs"]
    # Column lineage names the input exactly as the input is named.
    inputs = {
        (f["namespace"], f["name"])
        for field in output["facets"]["columnLineage"]["fields"].values()
        for f in field["inputFields"]
    }
    assert inputs == {(source["namespace"], source["name"])}
    return complete


def test_local_files_and_tables_are_named_by_their_paths(tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / "ws"))
    events = run_twice(platform, tmp_path)
    complete = check_events(events, "file")

    (source,) = complete["inputs"]
    # The name is the file's absolute path: the delivered bytes are there.
    landed = Path(source["name"])
    assert landed.is_absolute() and landed.is_relative_to(platform.workspace.landing.resolve())
    assert landed.read_bytes() == data_file(KOTSA_FILE).read_bytes()

    (output,) = complete["outputs"]
    table = platform.lakehouse.catalog.load_table(TABLE)
    warehouse = platform.workspace.warehouse.resolve()
    assert (output["namespace"], output["name"]) == (
        "file",
        table.location().removeprefix("file://"),
    )
    assert Path(output["name"]).is_relative_to(warehouse)
    assert output["facets"]["symlinks"]["identifiers"] == [
        {"namespace": f"file:{warehouse}", "name": TABLE, "type": "TABLE"}
    ]


def test_objects_and_tables_in_a_bucket_are_named_by_bucket_and_key(
    s3_settings: Settings, tmp_path: Path
) -> None:
    platform = Platform(s3_settings)
    bucket = s3_settings.s3_bucket
    events = run_twice(platform, tmp_path)
    complete = check_events(events, f"s3://{bucket}")

    (source,) = complete["inputs"]
    assert source["name"].startswith("landing/kotsa/")  # the zone's prefix, then the key
    # The name is the object's key: the object is there under it.
    with platform.landing.local(source["name"].removeprefix("landing/")) as local:
        assert local.read_bytes() == data_file(KOTSA_FILE).read_bytes()

    (output,) = complete["outputs"]
    table = platform.lakehouse.catalog.load_table(TABLE)
    assert f"s3://{bucket}/{output['name']}" == table.location()
    assert output["namespace"] == f"s3://{bucket}"
    assert output["facets"]["symlinks"]["identifiers"] == [
        {"namespace": f"s3://{bucket}/warehouse", "name": TABLE, "type": "TABLE"}
    ]


@pytest.mark.parametrize(
    ("uri", "key", "expected"),
    [
        ("file:///srv/gongyu/landing", "a/b.csv", ("file", "/srv/gongyu/landing/a/b.csv")),
        ("file:///srv/%EA%B3%B5%EC%9C%A0/landing/", "a.csv", ("file", "/srv/공유/landing/a.csv")),
        ("file://nas/share/landing", "a.csv", ("file://nas", "/share/landing/a.csv")),
        ("s3://bucket/landing", "a/b 100%.csv", ("s3://bucket", "landing/a/b 100%.csv")),
        ("s3a://bucket/warehouse/ns/t/", "", ("s3://bucket", "warehouse/ns/t")),
        ("gs://bucket/warehouse/ns/t", "", ("gs://bucket", "warehouse/ns/t")),
    ],
)
def test_locations_follow_the_naming_convention(
    uri: str, key: str, expected: tuple[str, str]
) -> None:
    assert located(uri, key) == expected


def test_names_agree_with_the_clients_own_naming() -> None:
    local = LocalFileSystem(path="/srv/gongyu/landing/a.csv")
    assert located("file:///srv/gongyu/landing", "a.csv") == (
        local.get_namespace(),
        local.get_name(),
    )
    s3 = S3(bucket_name="bucket", object_key="landing/a.csv")
    assert located("s3://bucket/landing", "a.csv") == (s3.get_namespace(), s3.get_name())


@pytest.mark.parametrize(
    ("warehouse", "expected"),
    [
        ("file:///srv/gongyu/warehouse", "file:/srv/gongyu/warehouse"),
        ("file:///srv/gongyu/warehouse/", "file:/srv/gongyu/warehouse"),
        ("s3://bucket/warehouse", "s3://bucket/warehouse"),
        ("s3a://bucket/warehouse/", "s3://bucket/warehouse"),
    ],
)
def test_table_symlinks_are_in_the_warehouse_namespace(warehouse: str, expected: str) -> None:
    assert warehouse_namespace(warehouse) == expected


def test_a_table_not_created_yet_is_named_where_it_will_be(platform: Platform) -> None:
    catalog = platform.lakehouse.catalog
    warehouse = platform.store.warehouse
    planned = table_location(catalog, TABLE, warehouse)
    platform.lakehouse.table(platform.contract(KOTSA))  # creates it
    assert table_location(catalog, TABLE, warehouse) == planned
