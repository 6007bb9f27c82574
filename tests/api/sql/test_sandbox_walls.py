"""The two walls around a caller's data, attacked one at a time.

The first wall is the statement check; the second is the caller's DuckDB connection itself,
which must hold no row or column the policy hides even to a statement that got past the first.
The grantee (hira) reads `cases_restricted` through a grant with a row filter (`sido = '부산'`)
and the sensitive `amount` opened; the pseudonyms of the other rows, and every row of
`cases_private`, are what it must never see. The red-team report's attack is the first test:
`SUMMARIZE 'duckdb_views'` showed the views' SQL (row filter, Parquet paths), then `SUMMARIZE
'<path>'` summarised all rows behind the filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import insert

from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from catalog.db import grants
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from gongyu.query.running import Limits
from gongyu.query.sandbox import Sandbox
from tests.api.world import GRANTEE, OTHER_SECTOR, OWNER, SAME_SECTOR, World, table, world

RESTRICTED, PRIVATE, PUBLIC = table("restricted"), table("private"), table("public")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("walls")) as w:
        yield w


def hidden_values(platform: Platform) -> set[str]:
    """Values the grantee must never receive: pseudonyms of the rows its filter hides, and of
    every row of the private table (read as the owner sees them)."""
    owner = QueryService(platform, Limits())
    found: set[str] = set()
    for sql in (
        f"SELECT person FROM {RESTRICTED} WHERE sido <> '부산'",
        f"SELECT person FROM {PRIVATE}",
    ):
        answer = owner.run(
            Principal(subject="t", agency=OWNER, role=Role.analyst, via="api_key"), sql
        )
        found |= {v for b in answer.stream() for v in b.column(0).to_pylist()}
        answer.close()
    assert len(found) == 70
    return found


def data_files(platform: Platform) -> list[str]:
    """Every data file of every published table, as a local path."""
    catalog = platform.lakehouse.catalog
    paths = []
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            for task in catalog.load_table(identifier).scan().plan_files():
                paths.append(task.file.file_path.removeprefix("file://"))
    return paths


def raw_sandbox(platform: Platform, agency: str) -> Sandbox:
    """The caller's DuckDB, to be attacked with statements the check never saw."""
    principal = Principal(subject="t", agency=agency, role=Role.analyst, via="api_key")
    return QueryService(platform, Limits()).sandboxes.for_principal(principal)


def raw(sandbox: Sandbox, sql: str) -> list[tuple]:
    """Rows of `sql` on the sandbox's own connection, past the statement check."""
    execution = sandbox.execute(sql)
    try:
        return [tuple(r.values()) for b in execution.batches for r in b.to_pylist()]
    finally:
        execution.close()


def test_the_red_team_summarize_attack_is_refused(served: World) -> None:
    views = served.sql(
        GRANTEE,
        "SELECT column_name, min, max FROM (SUMMARIZE 'duckdb_views') WHERE column_name = 'sql'",
    )
    assert views.status_code == 400, views.text
    assert "SUMMARIZE takes a table or a query here" in views.json()["error"]["message"]
    for path in data_files(served.platform):
        for sql in (f"SELECT * FROM (SUMMARIZE '{path}')", f"SUMMARIZE '{path}'"):
            answer = served.sql(GRANTEE, sql)
            assert answer.status_code == 400, answer.text
            assert path not in answer.text


def test_the_connection_opens_no_file_of_a_filtered_or_masked_table(served: World) -> None:
    sandbox = raw_sandbox(served.platform, GRANTEE)
    allowed = {r[0] for r in raw(sandbox, "SELECT unnest(current_setting('allowed_paths'))")}
    whole = {p for p in data_files(served.platform) if "cases_public" in p or "cases_sector" in p}
    # The grantee reads the public and sector tables whole except `amount` (sensitive, masked):
    # none of their files may be open to it either; only tables read whole are, and no table
    # of the test world is read whole by the grantee.
    assert allowed == set(), allowed
    for path in data_files(served.platform):
        for sql in (
            f"SELECT * FROM read_parquet('{path}')",
            f"SUMMARIZE '{path}'",
            f"SELECT * FROM '{path}'",
            f"SELECT * FROM parquet_metadata('{path}')",
        ):
            with pytest.raises(duckdb.PermissionException):
                raw(sandbox, sql)
    assert whole  # the files exist: the refusals above are about access, not absence
    # The owner reads its tables whole: their files are open to it, and hold what its views do.
    owner = raw_sandbox(served.platform, OWNER)
    opened = {r[0] for r in raw(owner, "SELECT unnest(current_setting('allowed_paths'))")}
    assert opened == set(data_files(served.platform))


def test_what_the_connection_holds_is_only_what_the_policy_lets_through(served: World) -> None:
    hidden = hidden_values(served.platform)
    sandbox = raw_sandbox(served.platform, GRANTEE)
    views = raw(sandbox, "SELECT sql FROM duckdb_views() WHERE NOT internal")
    assert views and not any(".parquet" in (sql or "") for (sql,) in views), views
    assert not any("부산" in (sql or "") for (sql,) in views)  # the filter is not SQL at all
    sources = [name for (name,) in raw(sandbox, "SELECT view_name FROM duckdb_views()")]
    sources = [n for n in sources if n.startswith("policy_source_")]
    assert sources
    for source in sources:
        # A statement that names the registered source itself gets rows the policy passed.
        for sql in (
            f"SELECT * FROM {source}",
            f"SELECT * FROM (SUMMARIZE {source})",
            f"SELECT stats(person) FROM {source}",
        ):
            rows = raw(sandbox, sql)
            assert not hidden & {v for row in rows for v in row if isinstance(v, str)}, sql
    summary = raw(sandbox, f"SELECT column_name, min, max FROM (SUMMARIZE {RESTRICTED})")
    assert ("sido", "부산", "부산") in summary
    # Masked for a caller of the same sector: the column holds nothing but NULL, whatever reads it.
    same_sector = raw_sandbox(served.platform, SAME_SECTOR)
    masked = raw(same_sector, f"SELECT count(amount), max(amount) FROM {table('sector')}")
    assert masked == [(0, None)]
    for source in [n for (n,) in raw(same_sector, "SELECT view_name FROM duckdb_views()")]:
        if source.startswith("policy_source_"):
            columns = {
                c for (c,) in raw(same_sector, f"SELECT column_name FROM (DESCRIBE {source})")
            }
            assert "amount" not in columns, (source, columns)


def test_introspection_sees_only_the_callers_views(served: World) -> None:
    answer = served.sql(
        OTHER_SECTOR,
        "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2",
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert ["welfare_safety", "cases_public"] in rows
    assert all(schema != "main" and not name.startswith("policy_source_") for schema, name in rows)
    assert ["welfare_safety", "cases_private"] not in rows
    columns = served.sql(
        OTHER_SECTOR, "SELECT DISTINCT table_catalog FROM information_schema.columns"
    )
    assert columns.json()["rows"] == [["gongyu"]]
    for sql in (
        "SELECT * FROM information_schema.views",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM pg_catalog.pg_views",
        "SELECT * FROM duckdb_columns()",
        "SELECT * FROM pg_settings",
        f"SELECT stats(sido) FROM {PUBLIC}",
        "WITH x AS (SELECT * FROM (DESCRIBE memory.main.x)) SELECT * FROM x",
        "SELECT * FROM temp.main.policy_source_1",
        'SELECT * FROM "policy_source_1"',
    ):
        refused = served.sql(GRANTEE, sql)
        assert refused.status_code == 400, (sql, refused.text)


def test_a_grant_that_no_longer_fits_denies_that_dataset_only(tmp_path: Path) -> None:
    # A grant made before validation existed (or under an older contract): its filter compares
    # the published text column `sido` with a number.
    with world(tmp_path) as w:
        with w.platform.engine.begin() as conn:
            conn.execute(
                insert(grants).values(
                    grant_id="badfilter0000001",
                    dataset_id="cases_restricted",
                    agency=SAME_SECTOR,
                    purpose="test",
                    expires=korean_today(),
                    columns=None,
                    row_filter="sido >= 60",
                    created_at=korean_today(),
                    created_by="test",
                    revoked_at=None,
                )
            )
        assert w.sql(SAME_SECTOR, "SELECT 1").json()["rows"] == [[1]]
        assert w.sql(SAME_SECTOR, f"SELECT count(*) FROM {PUBLIC}").json()["rows"] == [[40]]
        with w.client(SAME_SECTOR) as c:
            assert c.get("/api/v1/catalog/datasets").status_code == 200
            assert c.get("/api/v1/catalog/datasets/cases_restricted").status_code == 200
        denied = w.sql(SAME_SECTOR, f"SELECT count(*) FROM {RESTRICTED}")
        assert denied.status_code == 400, denied.text
        message = denied.json()["error"]["message"]
        assert "cases_restricted" in message and "does not fit the published table" in message
        record = w.platform.audit.records(limit=1)[0]
        assert record.datasets == ("cases_restricted",) and record.outcome == "denied"
        assert "does not fit" in (record.error or "")
