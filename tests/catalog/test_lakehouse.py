"""Write–audit–publish on real Iceberg tables in a tmp workspace."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import ValidationError
from pyiceberg.types import DoubleType, StringType

from catalog.lakehouse import Lakehouse, PublishConflict, iceberg_schema, sql_catalog, unpromotable
from catalog.published import table_versions
from contracts.model import ApplyMode
from tests.conftest import column, make_contract
from tests.published import read_arrow, relation


def contract(mode: ApplyMode = ApplyMode.replace):
    return make_contract(
        [column("station", primary_key_position=1, required=True), column("pm10", "number")],
        mode=mode,
    )


def batch(stations: list[str], pm10: list[float]) -> pa.Table:
    return pa.table({"station": stations, "pm10": pa.array(pm10, pa.float64())})


@pytest.fixture
def lake(tmp_path: Path) -> Lakehouse:
    return Lakehouse(sql_catalog(f"sqlite:///{tmp_path}/catalog.db", tmp_path / "warehouse"))


def publish(lake: Lakehouse, c, delivery: str, data: pa.Table) -> int:
    staged = lake.stage(c, delivery, data, {"contract-version": c.version})
    assert lake.audit(staged).passed
    return lake.publish(staged)


def test_staged_rows_are_invisible_until_published(lake: Lakehouse) -> None:
    c = contract()
    staged = lake.stage(c, "d1", batch(["강남구", "종로구"], [41.0, 38.5]), {})
    assert read_arrow(lake.catalog, c.table).num_rows == 0
    lake.publish(staged)
    published = read_arrow(lake.catalog, c.table)
    assert sorted(published["station"].to_pylist()) == ["강남구", "종로구"]
    table = lake.catalog.load_table(c.table)
    assert "stage-d1" not in table.metadata.refs
    assert table.current_snapshot().summary["gongyu.delivery"] == "d1"


def test_failing_audit_leaves_main_unchanged(lake: Lakehouse) -> None:
    c = contract()
    first = publish(lake, c, "d1", batch(["강남구"], [41.0]))
    staged = lake.stage(c, "d2", batch(["종로구", "중구"], [1.0, 2.0]), {})
    audit = lake.audit(staged, [lambda table, s: ["raw identifier found in column station"]])
    assert not audit.passed
    assert audit.problems == ["raw identifier found in column station"]
    lake.discard(staged)
    table = lake.catalog.load_table(c.table)
    assert table.metadata.current_snapshot_id == first
    assert read_arrow(lake.catalog, c.table)["station"].to_pylist() == ["강남구"]
    assert "stage-d2" not in table.metadata.refs


def test_apply_modes(lake: Lakehouse) -> None:
    appended = contract(ApplyMode.append)
    publish(lake, appended, "a1", batch(["a"], [1.0]))
    publish(lake, appended, "a2", batch(["b"], [2.0]))
    assert read_arrow(lake.catalog, appended.table).num_rows == 2

    upserted = make_contract(
        [column("station", primary_key_position=1, required=True), column("pm10", "number")],
        dataset_id="upserted",
        mode=ApplyMode.upsert,
    )
    publish(lake, upserted, "u1", batch(["a", "b"], [1.0, 2.0]))
    publish(lake, upserted, "u2", batch(["b", "c"], [20.0, 3.0]))
    rows = read_arrow(lake.catalog, upserted.table).sort_by("station").to_pylist()
    assert rows == [
        {"station": "a", "pm10": 1.0},
        {"station": "b", "pm10": 20.0},
        {"station": "c", "pm10": 3.0},
    ]


def test_publish_refuses_when_main_moved(lake: Lakehouse) -> None:
    c = contract()
    publish(lake, c, "d1", batch(["a"], [1.0]))
    slow = lake.stage(c, "d2", batch(["b"], [2.0]), {})
    fast = publish(lake, c, "d3", batch(["c"], [3.0]))
    with pytest.raises(PublishConflict):
        lake.publish(slow)
    assert lake.catalog.load_table(c.table).metadata.current_snapshot_id == fast


def test_time_travel_and_duckdb_and_plain_pyiceberg(lake: Lakehouse, tmp_path: Path) -> None:
    import duckdb

    c = contract()
    first = publish(lake, c, "d1", batch(["a"], [1.0]))
    between = datetime.now(UTC)
    time.sleep(0.01)
    publish(lake, c, "d2", batch(["b", "c"], [2.0, 3.0]))
    assert read_arrow(lake.catalog, c.table, as_of=first)["station"].to_pylist() == ["a"]
    assert read_arrow(lake.catalog, c.table, as_of=between)["station"].to_pylist() == ["a"]
    assert read_arrow(lake.catalog, c.table).num_rows == 2
    with pytest.raises(LookupError):
        read_arrow(lake.catalog, c.table, as_of=12345)
    con = duckdb.connect()
    rel = relation(con, lake.catalog, c.table)
    assert rel.aggregate("sum(pm10)").fetchone() == (5.0,)
    # Any pyiceberg user reads the same catalog with no Gongyu code.
    outside = SqlCatalog(
        "default",
        uri=f"sqlite:///{tmp_path}/catalog.db",
        warehouse=(tmp_path / "warehouse").as_uri(),
    )
    assert outside.load_table(c.table).scan().to_arrow().num_rows == 2


def test_upsert_onto_a_snapshot_older_than_an_added_column(lake: Lakehouse) -> None:
    key = column("station", primary_key_position=1, required=True)
    before = make_contract([key, column("pm10", "number")], mode=ApplyMode.upsert)
    publish(lake, before, "u1", batch(["a", "b"], [1.0, 2.0]))
    after = make_contract(
        [key, column("no2", "number"), column("pm10", "number")], mode=ApplyMode.upsert
    )
    publish(lake, after, "u2", pa.table({"station": ["b"], "no2": [0.5], "pm10": [20.0]}))
    assert read_arrow(lake.catalog, after.table).sort_by("station").to_pylist() == [
        {"station": "a", "no2": None, "pm10": 1.0},
        {"station": "b", "no2": 0.5, "pm10": 20.0},
    ]


def test_a_type_iceberg_cannot_promote_is_never_applied(lake: Lakehouse) -> None:
    c = contract()
    publish(lake, c, "d1", batch(["a"], [1.0]))
    schema = lake.catalog.load_table(c.table).schema()
    as_text = make_contract([column("station"), column("pm10")])
    assert unpromotable(iceberg_schema(c), iceberg_schema(as_text)) == [
        ("pm10", DoubleType(), StringType())
    ]
    with pytest.raises(ValidationError, match="Cannot change column type"):
        lake.table(as_text)
    assert lake.catalog.load_table(c.table).schema() == schema


def test_each_major_version_is_its_own_table(lake: Lakehouse) -> None:
    v1 = contract()
    publish(lake, v1, "d1", batch(["a"], [1.0]))
    v3 = v1.model_copy(update={"version": "3.0.0"})
    publish(lake, v3, "d2", batch(["b"], [2.0]))
    versions = table_versions(lake.catalog, v1.sector, v1.id)
    assert [(v.identifier, v.version, v.supersedes) for v in versions] == [
        ("environment_energy.test_dataset", 1, None),
        ("environment_energy.test_dataset_v3", 3, "environment_energy.test_dataset"),
    ]
    assert [v.current for v in versions] == [False, True]
    assert read_arrow(lake.catalog, v1.table)["station"].to_pylist() == ["a"]
    assert read_arrow(lake.catalog, v3.table)["station"].to_pylist() == ["b"]
