"""Reads that leave a record whatever happens next (issue 13): a statement or a stream under
way when the server stops is on the audit chain, completed with the rows already sent when
it stops cleanly (SIGTERM), opened and never completed when it is killed (SIGKILL)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from catalog.access.audit import AuditRecord
from tests.api.served_process import Process, served_process
from tests.api.world import OWNER

SERIES = "SELECT x FROM UNNEST(sequence(1, 5000000)) AS t(x) -- {}"
TRINO_HEADERS = {"X-Trino-Catalog": "gongyu", "X-Trino-Schema": "welfare_safety"}


def fetch_some(w: Process, sql: str, rows: int) -> int:
    """Start a Trino statement and follow its pages until `rows` rows came; left open."""
    client = w.client(OWNER, X_Trino_User=OWNER, **TRINO_HEADERS)
    body: dict[str, Any] = client.post("/v1/statement", content=sql.encode()).json()
    fetched = 0
    while fetched < rows:
        body = client.get(body["nextUri"]).json()
        fetched += len(body.get("data", []))
    client.close()
    return fetched


def of(w: Process, sql: str) -> list[AuditRecord]:
    return sorted(
        (r for r in w.platform.audit.records(limit=50) if r.statement == sql), key=lambda r: r.seq
    )


def test_a_clean_stop_completes_what_was_under_way(tmp_path: Path) -> None:
    sql = SERIES.format("stopped")
    with served_process(tmp_path) as w:
        fetched = fetch_some(w, sql, 100_000)
        w.stop(signal.SIGTERM)
        opened, completed = of(w, sql)
    assert (opened.outcome, opened.datasets) == ("opened", ())
    assert (completed.completes, completed.outcome) == (opened.seq, "cancelled")
    assert completed.error == "the server shut down" and completed.rows == fetched
    assert w.platform.audit.verify().unfinished == []


def test_a_killed_server_leaves_the_reads_it_had_begun(tmp_path: Path) -> None:
    sql = SERIES.format("killed")
    stream = "SELECT * FROM range(100000000) -- killed mid-stream"
    with served_process(tmp_path) as w:
        fetch_some(w, sql, 100_000)
        with (
            w.client(OWNER) as c,
            c.stream("POST", "/api/v1/sql", json={"sql": stream, "format": "csv"}) as r,
        ):
            received = r.iter_bytes()  # kept: dropped, it would close the stream
            next(received)  # the first rows arrived
            w.stop(signal.SIGKILL)
        [trino] = of(w, sql)
        [csv] = of(w, stream)
    assert (trino.outcome, trino.kind, csv.outcome, csv.kind) == (
        "opened",
        "trino",
        "opened",
        "sql",
    )
    verified = w.platform.audit.verify()
    assert verified.ok and verified.unfinished == [trino.seq, csv.seq]
    shown = {r.seq: r.state for r in w.platform.audit.records(limit=2)}
    assert shown[csv.seq].startswith("opened, never completed")
