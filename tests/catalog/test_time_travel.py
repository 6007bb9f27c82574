"""Time travel by timestamp lands on publications only: never on the empty snapshot a replace
writes before adding the delivered rows, nor on the table's empty creation snapshot."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.table.snapshots import Operation

from catalog.access.principal import Principal, Role
from catalog.history import History
from catalog.lakehouse import Lakehouse, main_history, sql_catalog
from catalog.published import DELIVERY, publications, snapshot_at
from contracts.model import ApplyMode
from gongyu.delivery.way import process_delivery
from gongyu.demo import bad_value
from gongyu.platform import Platform
from gongyu.query.query import QueryError, QueryService
from gongyu.query.running import Limits
from tests.conftest import column, data_file, make_contract

KOTSA = "kotsa_car_inspection_centers"
KOTSA_FILE = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
RENAMED = "시간여행자동차검사소"
ANALYST = Principal(subject="t", agency="koroad", role=Role.analyst, via="token")
SQL = (
    f"SELECT count(*) AS n, count(*) FILTER (WHERE center_name = '{RENAMED}') AS renamed "
    f"FROM transport_logistics.{KOTSA}"
)


def moment(ms: int) -> datetime:
    """A time in whole milliseconds since the epoch."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def deliver(platform: Platform, file: Path) -> int:
    """Deliver a KOTSA file; returns the snapshot it published."""
    delivery, _ = platform.deliver(KOTSA, file)
    outcome = process_delivery(platform, delivery.delivery_id)
    assert outcome.published, outcome.report
    return int(outcome.delivery.snapshot_id or 0)


def ask(service: QueryService, at: datetime) -> tuple[int, int] | None:
    """(rows, renamed rows) the SQL API answers as of `at`; None when the table was absent."""
    try:
        answer = service.run(ANALYST, SQL, at.isoformat())
    except QueryError as error:
        assert error.unknown_table, error
        return None
    try:
        (row,) = pa.Table.from_batches(list(answer.stream()), answer.schema).to_pylist()
    finally:
        answer.close()
    return row["n"], row["renamed"]


def test_as_of_a_time_reads_the_publication_current_then(
    platform: Platform, tmp_path: Path
) -> None:
    assert platform.contract(KOTSA).apply_mode == ApplyMode.replace
    kotsa = data_file(KOTSA_FILE)
    second_file = bad_value(kotsa, tmp_path / f"{KOTSA}_20211027.csv", "자동차검사소명", 2, RENAMED)
    first = deliver(platform, kotsa)
    time.sleep(0.02)
    between = datetime.now(UTC)
    time.sleep(0.02)
    second = deliver(platform, second_file)
    after = datetime.now(UTC)

    table = platform.lakehouse.catalog.load_table(f"transport_logistics.{KOTSA}")
    # The replace wrote an empty snapshot between the two publications, on `main`'s line.
    ancestry = [table.snapshot_by_id(s) for s in main_history(table)]
    empty = [
        s
        for s in ancestry
        if s is not None
        and s.summary is not None
        and s.summary.operation == Operation.DELETE
        and s.summary["total-records"] == "0"
    ]
    assert [s.parent_snapshot_id for s in empty] == [first]
    assert [s.snapshot_id for _, s in publications(table)] == [first, second]
    # The dataset page's history lists the publications only (its "as of" links read them).
    history = History(
        platform.deliveries,
        platform.results,
        platform.contract_versions,
        platform.lakehouse.catalog,
    )
    listed = history.snapshots(history.tables(platform.contract(KOTSA)))
    assert [(s.snapshot_id, s.rows) for s in listed] == [(second, 59), (first, 59)]

    service = QueryService(platform, Limits())
    assert ask(service, between) == (59, 0)
    assert ask(service, after) == (59, 1)
    assert ask(service, moment(ancestry[-1].timestamp_ms) - timedelta(seconds=1)) is None

    # Every time that matters, to the millisecond: each snapshot's and each log entry's, and
    # either side of it. Before the first publication the table is absent; never empty.
    times = {s.timestamp_ms for s in table.snapshots()}
    times |= {e.timestamp_ms for e in table.metadata.snapshot_log}
    answers = {}
    for ms in sorted(times):
        for at in (ms - 1, ms, ms + 1):
            answers[at] = ask(service, moment(at))
    assert {a for a in answers.values()} <= {None, (59, 0), (59, 1)}
    assert answers[empty[0].timestamp_ms] == (59, 0)


def test_a_replace_committed_to_main_directly_is_read_whole(tmp_path: Path) -> None:
    """A writer that replaces on `main` in one commit logs its empty snapshot too (pyiceberg
    does): a time between that empty snapshot and the rows it adds reads the publication before."""
    lake = Lakehouse(sql_catalog(f"sqlite:///{tmp_path}/catalog.db", tmp_path / "warehouse"))
    contract = make_contract([column("station", primary_key_position=1, required=True)])
    staged = lake.stage(contract, "d1", pa.table({"station": ["a", "b"]}), {})
    first = lake.publish(staged)
    table = lake.catalog.load_table(contract.table)
    with table.transaction() as tx:
        tx.delete(AlwaysTrue(), snapshot_properties={DELIVERY: "d2"})
        time.sleep(0.02)  # the empty snapshot and the one adding rows: apart in time
        tx.append(pa.table({"station": ["c"]}), snapshot_properties={DELIVERY: "d2"})
    table.refresh()
    log = table.metadata.snapshot_log
    assert len(log) == 4  # creation, d1, and d2's two snapshots: all current once
    deleted, added = (table.snapshot_by_id(e.snapshot_id) for e in log[-2:])
    assert deleted is not None and deleted.summary is not None
    assert deleted.summary.operation == Operation.DELETE
    # pyiceberg's own answer at the empty snapshot's time: the empty snapshot.
    assert table.snapshot_as_of_timestamp(log[-2].timestamp_ms) == deleted

    resolved = snapshot_at(table, moment(log[-2].timestamp_ms))
    assert resolved is not None and resolved.snapshot_id == first
    resolved = snapshot_at(table, moment(log[-1].timestamp_ms))
    assert resolved is not None and added is not None
    assert resolved.snapshot_id == added.snapshot_id
    # Before the first publication there is nothing to read, not an empty table.
    assert snapshot_at(table, moment(log[0].timestamp_ms)) is None
