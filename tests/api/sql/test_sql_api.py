"""The SQL API over HTTP on loopback: entitlements, masks, row filters, formats, as_of, audit."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from catalog.access.principal import Role
from tests.api.world import (
    AGENCIES,
    GRANTEE,
    LEVELS,
    OTHER_SECTOR,
    OWNER,
    ROWS,
    SAME_SECTOR,
    World,
    table,
    world,
)

ALL_AMOUNTS = sum(1000 * (i + 1) for i in range(ROWS))
BUSAN = [i for i in range(ROWS) if i % 4 == 1]  # the rows the grant's filter lets through


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("sqlapi")) as w:
        yield w


def expected(agency: str, role: Role, level: str) -> tuple[int, int | None] | None:
    """(rows, sum of amount or None when masked) the caller must see, or None: no table."""
    operator = role == Role.operator
    owner = agency == OWNER and not operator
    visible = {
        "public": True,
        "sector": not operator and agency in (OWNER, SAME_SECTOR, GRANTEE),
        "restricted": not operator and agency in (OWNER, GRANTEE),
        "private": owner,
    }[level]
    if not visible:
        return None
    if owner:
        return ROWS, ALL_AMOUNTS
    if level == "restricted":  # the grantee: filtered rows, the granted sensitive column
        return len(BUSAN), sum(1000 * (i + 1) for i in BUSAN)
    return ROWS, None


MATRIX = [(a, r, lv) for a in AGENCIES for r in Role for lv in LEVELS]


@pytest.mark.parametrize(
    ("agency", "role", "level"), MATRIX, ids=[f"{a}-{r.value}-{lv}" for a, r, lv in MATRIX]
)
def test_access_matrix(served: World, agency: str, role: Role, level: str) -> None:
    response = served.sql(
        agency, f"SELECT count(*) AS n, sum(amount) AS s FROM {table(level)}", role
    )
    want = expected(agency, role, level)
    if want is None:
        assert response.status_code == 400
        typo = served.sql(
            agency, "SELECT count(*) AS n, sum(amount) AS s FROM welfare_safety.cases_nope", role
        )
        assert response.json()["error"]["message"] == typo.json()["error"]["message"].replace(
            "cases_nope", f"cases_{level}"
        )
        return
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[want[0], want[1]]]


def test_no_credentials_or_bad_ones_get_401(served: World) -> None:
    import httpx

    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"X-API-Key": "gyk_x_y"}):
        r = httpx.post(f"{served.url}/api/v1/sql", json={"sql": "SELECT 1"}, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": "invalid"}


MASKED_SHAPES = {
    "join": "SELECT sum(r.amount) FROM {r} r JOIN {p} p ON r.n = p.n",
    "subquery": "SELECT sum(amount) FROM (SELECT * FROM {r} WHERE n > 0) t",
    "cte": "WITH t AS (SELECT amount, sido FROM {r}) SELECT sum(amount) FROM t",
    "union": "SELECT sum(amount) FROM (SELECT amount FROM {r} UNION ALL SELECT NULL) u",
    "in-subquery": "SELECT sum(amount) FROM {p} WHERE n IN (SELECT n FROM {r})",
}


@pytest.mark.parametrize("shape", MASKED_SHAPES)
def test_row_filter_and_masks_survive_every_query_shape(served: World, shape: str) -> None:
    sql = MASKED_SHAPES[shape].format(r=table("restricted"), p=table("public"))
    grantee = served.sql(GRANTEE, sql).json()["rows"][0][0]
    if shape == "in-subquery":
        assert grantee is None  # public's amount is masked for the grantee; the filter still cut
    else:
        assert grantee == sum(1000 * (i + 1) for i in BUSAN)
    rows = served.sql(GRANTEE, f"SELECT DISTINCT sido FROM {table('restricted')}").json()["rows"]
    assert rows == [["부산"]]
    # A sector-level caller without a grant sees the sensitive column as NULL, wherever it goes.
    masked = served.sql(SAME_SECTOR, f"SELECT sum(amount), count(*) FROM {table('sector')}")
    assert masked.json()["rows"] == [[None, ROWS]]


def test_any_value_is_an_aggregate_like_the_others(served: World) -> None:
    """sqlglot reads DuckDB's ANY_VALUE(x) as a null-ignoring modifier around it: allowed, and
    still masked and filtered."""
    sql = f"SELECT any_value(sido), any_value(amount) FROM {table('restricted')}"
    assert served.sql(GRANTEE, sql).json()["rows"] == [["부산", ANY]]
    assert served.sql(SAME_SECTOR, sql.replace("restricted", "sector")).json()["rows"][0][1] is None


def test_pseudonyms_stay_pseudonyms(served: World) -> None:
    rows = served.sql(OWNER, f"SELECT person FROM {table('private')} LIMIT 3").json()["rows"]
    assert all(r[0].startswith("p1_") for r in rows)


def test_grant_expiry_and_revocation_take_effect(served: World, tmp_path: Path) -> None:
    from datetime import timedelta

    from catalog.access.grants import korean_today

    platform = served.platform
    grant = platform.grants.add(
        platform.contract("cases_private"),
        SAME_SECTOR,
        "test: expiry",
        korean_today(),
        created_by="test",
    )
    sql = f"SELECT count(*) FROM {table('private')}"
    # A grant lets an agency read a private table only by the restricted rule: still absent.
    assert served.sql(SAME_SECTOR, sql).status_code == 400
    platform.grants.revoke(grant.grant_id)
    grant = platform.grants.add(
        platform.contract("cases_restricted"),
        SAME_SECTOR,
        "test: expiry",
        korean_today(),
        created_by="test",
    )
    restricted = f"SELECT count(*) FROM {table('restricted')}"
    assert served.sql(SAME_SECTOR, restricted).json()["rows"] == [[ROWS]]
    # The day after its expiry date the same grant no longer works, with no job run.
    assert not platform.grants.active(
        SAME_SECTOR, "cases_restricted", today=korean_today() + timedelta(days=1)
    )
    platform.grants.revoke(grant.grant_id)
    assert served.sql(SAME_SECTOR, restricted).status_code == 400


REFUSED = {
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_text": "SELECT read_text('/etc/passwd')",
    "glob": "SELECT * FROM glob('/*')",
    "parquet file": "SELECT * FROM '/tmp/x.parquet'",
    "copy": "COPY (SELECT 1) TO '/tmp/out.csv'",
    "attach": "ATTACH '/tmp/x.db' AS x",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set": "SET threads = 64",
    "pragma": "PRAGMA version",
    "create": "CREATE TABLE t AS SELECT 1",
    "settings": "SELECT current_setting('memory_limit')",
    "duckdb_settings": "SELECT * FROM duckdb_settings()",
    "two statements": "SELECT 1; SELECT 2",
    "getenv": "SELECT getenv('HOME')",
    "query_table": "SELECT * FROM query_table('welfare_safety.cases_private')",
}


@pytest.mark.parametrize("name", REFUSED)
def test_sandbox_refusals(served: World, name: str) -> None:
    response = served.sql(OTHER_SECTOR, REFUSED[name])
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    # A file named as a table is just a table that does not exist for the caller.
    assert error["kind"] == ("sql" if name == "parquet file" else "refused") and error["message"]
    assert "Traceback" not in response.text
    assert served.sql(OTHER_SECTOR, "SELECT 42").json()["rows"] == [[42]]


def test_time_limit_cancels(tmp_path: Path) -> None:
    with world(tmp_path, sql_timeout_seconds=1.0) as w:
        slow = "SELECT count(*) FROM range(100000000000) a"
        response = w.sql(OWNER, slow)
        assert response.status_code == 400
        assert response.json()["error"]["kind"] == "timeout"
        assert w.sql(OWNER, "SELECT 1").json()["rows"] == [[1]]
        # Cut mid-stream, a CSV must not arrive looking whole: the transfer fails.
        endless = {"sql": "SELECT * FROM range(100000000000)", "format": "csv"}
        with (
            w.client(OWNER, Role.analyst) as c,
            c.stream("POST", "/api/v1/sql", json=endless) as streamed,
            pytest.raises(httpx.RemoteProtocolError, match="incomplete"),
        ):
            assert streamed.status_code == 200
            for _ in streamed.iter_bytes():
                pass
        [record] = w.platform.audit.records(limit=1)
        assert (record.statement, record.outcome) == (endless["sql"], "cancelled")
        assert record.error.startswith("query cancelled after 1 s, the time limit of one query")
        assert "GONGYU_SQL_TIMEOUT_SECONDS" in record.error
        assert w.sql(OWNER, "SELECT 1").json()["rows"] == [[1]]


def test_every_format(served: World) -> None:
    sql = f"SELECT n, sido, amount FROM {table('public')} ORDER BY n"
    as_json = served.sql(OWNER, sql).json()
    assert as_json["row_count"] == ROWS and [c["name"] for c in as_json["columns"]] == [
        "n",
        "sido",
        "amount",
    ]
    csv_body = served.sql(OWNER, sql, format="csv")
    assert csv_body.headers["content-type"].startswith("text/csv")
    parsed = pacsv.read_csv(io.BytesIO(csv_body.content))
    assert parsed.num_rows == ROWS and parsed["n"].to_pylist() == list(range(1, ROWS + 1))
    arrow = pa.ipc.open_stream(served.sql(OWNER, sql, format="arrow").content).read_all()
    assert arrow.num_rows == ROWS and arrow.schema.field("n").type == pa.int64()
    parquet = pq.read_table(io.BytesIO(served.sql(OWNER, sql, format="parquet").content))
    assert parquet.to_pylist() == arrow.to_pylist()


def test_json_row_limit_truncates(tmp_path: Path) -> None:
    with world(tmp_path, sql_max_rows=5) as w:
        body = w.sql(OWNER, f"SELECT n FROM {table('public')}").json()
        assert body["row_count"] == 5 and body["truncated"] is True
        csv_body = w.sql(OWNER, f"SELECT n FROM {table('public')}", format="csv").text
        assert len(csv_body.strip().splitlines()) == ROWS + 1  # streamed: no limit


def test_as_of_reads_a_past_snapshot(served: World) -> None:
    iceberg = served.platform.lakehouse.catalog.load_table("welfare_safety.cases_public")
    first = iceberg.current_snapshot()
    assert first is not None
    before = served.sql(OWNER, f"SELECT count(*) FROM {table('public')}", as_of=first.snapshot_id)
    assert before.json()["rows"] == [[ROWS]]
    empty = iceberg.snapshots()[0]  # the table's creation: no rows yet
    at_creation = served.sql(
        OWNER, f"SELECT count(*) FROM {table('public')}", as_of=empty.snapshot_id
    )
    assert at_creation.json()["rows"] == [[0]]
    bad = served.sql(OWNER, "SELECT 1", as_of="yesterday-ish")
    assert bad.status_code == 400 and bad.json()["error"]["kind"] == "as_of"


def test_every_request_is_audited(served: World) -> None:
    audit = served.platform.audit
    last = max((r.seq for r in audit.records(limit=1)), default=0)
    served.sql(GRANTEE, f"SELECT count(*) FROM {table('restricted')}")
    served.sql(GRANTEE, "SELECT * FROM read_csv('/etc/passwd')")
    # An answer's completing record is written just after it is sent: give it a moment.
    deadline = time.monotonic() + 5
    while len(records := [r for r in audit.records(limit=10) if r.seq > last]) < 3:
        assert time.monotonic() < deadline, records
        time.sleep(0.01)
    by_outcome = {r.outcome: r for r in records}
    assert sorted(by_outcome) == ["denied", "ok", "opened"]
    # The query that ran: opened before its answer left, completed after; the refused one
    # never ran: one record.
    opened, done = by_outcome["opened"], by_outcome["ok"]
    assert done.completes == opened.seq and opened.seq < by_outcome["denied"].seq
    [reread] = [r for r in audit.records(limit=10) if r.seq == opened.seq]
    assert reread.completed_by == done.seq and reread.state == f"opened, completed by #{done.seq}"
    assert list(done.datasets) == list(opened.datasets) == ["cases_restricted"]
    assert done.agency == GRANTEE and done.rows == 1 and done.kind == "sql"
    assert opened.rows is None and by_outcome["denied"].completes is None
    assert audit.verify().ok


UNWRITABLE = {
    "bytes as JSON": ("SELECT '\\xFF'::BLOB AS b", "json"),
    "a union as Parquet": ("SELECT union_value(k := 1) AS u", "parquet"),
    "a union as CSV": ("SELECT union_value(k := 1) AS u FROM range(3)", "csv"),
}


@pytest.mark.parametrize("name", UNWRITABLE)
def test_an_answer_that_cannot_be_written_is_a_recorded_400(served: World, name: str) -> None:
    sql, fmt = UNWRITABLE[name]
    audit = served.platform.audit
    last = max((r.seq for r in audit.records(limit=1)), default=0)
    response = served.sql(OTHER_SECTOR, sql, format=fmt)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["kind"] == "format" and f"cannot be written as {fmt}" in error["message"]
    assert "Traceback" not in response.text
    # The query ran: opened, then completed with the error, both on the chain at once.
    opened, failed = sorted(
        (r for r in audit.records(limit=5) if r.seq > last), key=lambda r: r.seq
    )
    assert (opened.outcome, failed.outcome, failed.completes) == ("opened", "error", opened.seq)
    assert failed.statement == sql and "cannot be written" in (failed.error or "")


def test_a_fault_of_the_server_is_a_recorded_500(
    served: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a fault of the server")

    monkeypatch.setattr("api.sql.routes._limited", broken)
    audit = served.platform.audit
    response = served.sql(OTHER_SECTOR, "SELECT 42")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["kind"] == "internal" and "Traceback" not in response.text
    [completed] = audit.records(limit=1)
    assert error["message"] == f"internal error, recorded as audit record {completed.seq}"
    assert (completed.statement, completed.outcome) == ("SELECT 42", "error")
    assert "a fault of the server" in (completed.error or "")
    [opened] = [r for r in audit.records(limit=3) if r.seq == completed.completes]
    assert opened.outcome == "opened"


def test_busy_is_a_429_with_retry_after(tmp_path: Path) -> None:
    settings = {"sql_max_running": 1, "sql_queue_seconds": 0.5, "sql_timeout_seconds": 30}
    with world(tmp_path, **settings) as w, w.client(OWNER) as c:
        endless = {"sql": "SELECT * FROM range(100000000000)", "format": "csv"}
        with c.stream("POST", "/api/v1/sql", json=endless) as streaming:
            received = streaming.iter_bytes()  # kept: dropped, it would close the stream
            next(received)  # it runs, and holds the only slot
            response = w.sql(OTHER_SECTOR, "SELECT 1")
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        error = response.json()["error"]
        assert error["kind"] == "busy" and "GONGYU_SQL_MAX_RUNNING" in error["message"]
        [record] = w.platform.audit.records(agency=OTHER_SECTOR, limit=1)
        assert (record.outcome, record.statement) == ("error", "SELECT 1")
        assert "GONGYU_SQL_MAX_RUNNING" in (record.error or "")
        deadline = time.monotonic() + 10  # the slot comes back once DuckDB lets go
        while (again := w.sql(OTHER_SECTOR, "SELECT 1")).status_code == 429:
            assert time.monotonic() < deadline
        assert again.json()["rows"] == [[1]]


def test_the_audit_api_shows_what_became_of_an_opened_request(served: World) -> None:
    answer = served.sql(OTHER_SECTOR, "SELECT 7 AS seven -- shown in the audit API")
    assert answer.status_code == 200
    deadline = time.monotonic() + 5
    with served.client(OWNER, Role.operator) as c:
        while True:
            records = c.get("/api/v1/audit", params={"agency": OTHER_SECTOR, "limit": 5}).json()
            mine = [r for r in records["records"] if "shown in the audit API" in r["statement"]]
            if len(mine) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    completed, opened = mine
    assert completed["completes"] == opened["seq"] and opened["completed_by"] == completed["seq"]
    assert opened["state"] == f"opened, completed by #{completed['seq']}"
