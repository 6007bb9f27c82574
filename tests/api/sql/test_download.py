"""Downloads over HTTP on loopback: the same bytes as the SQL API's `SELECT *` for the caller
(masks and row filters included) in CSV, Parquet and Arrow, a file name, credentials, audit."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from catalog.access.audit import AuditLog, AuditRecord
from catalog.access.principal import Role
from gongyu.platform import Platform
from gongyu.query.sandbox import Sandboxes
from tests.api.web_session import parse, sign_in
from tests.api.world import (
    GRANTEE,
    OTHER_SECTOR,
    OWNER,
    ROWS,
    SAME_SECTOR,
    World,
    table,
    world,
)

FORMATS = {"csv": "csv", "parquet": "parquet", "arrow": "arrows"}
# (agency, level): whole, masked, and filtered with a granted column.
READERS = [(OWNER, "private"), (SAME_SECTOR, "sector"), (GRANTEE, "restricted")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("download")) as w:
        yield w


def download(
    w: World, agency: str, dataset_id: str, fmt: str | None = None, role: Role = Role.analyst
) -> httpx.Response:
    with w.client(agency, role) as client:
        params = {"format": fmt} if fmt else {}
        return client.get(f"/api/v1/datasets/{dataset_id}/download", params=params)


def new_records(w: World, after: int, count: int) -> list[AuditRecord]:
    """The first `count` audit records after seq `after` (a streamed answer's record is written
    just after its last byte is sent: give it a moment)."""
    deadline = time.monotonic() + 5
    while len(found := [r for r in w.platform.audit.records(limit=20) if r.seq > after]) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.01)
    return sorted(found, key=lambda r: r.seq)[:count]


def last_seq(w: World) -> int:
    return max((r.seq for r in w.platform.audit.records(limit=1)), default=0)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("agency", "level"), READERS, ids=[lv for _, lv in READERS])
def test_a_download_is_the_sql_apis_select_star(
    served: World, agency: str, level: str, fmt: str
) -> None:
    answer = download(served, agency, f"cases_{level}", fmt)
    assert answer.status_code == 200, answer.text
    queried = served.sql(agency, f"SELECT * FROM {table(level)}", format=fmt)
    assert queried.status_code == 200
    assert answer.content == queried.content
    assert answer.headers["content-type"] == queried.headers["content-type"]
    disposition = f'attachment; filename="cases_{level}.{FORMATS[fmt]}"'
    assert answer.headers["content-disposition"] == disposition


def test_csv_is_the_default_and_other_formats_are_refused(served: World) -> None:
    assert download(served, OWNER, "cases_public").content == (
        download(served, OWNER, "cases_public", "csv").content
    )
    assert download(served, OWNER, "cases_public", "json").status_code == 422


def test_parquet_is_not_cut_at_the_sql_apis_row_limit(served: World) -> None:
    limited = served.platform.settings.model_copy(update={"sql_max_rows": 7})  # below 40 rows
    app = create_app(Platform(limited))
    auth = {"Authorization": f"Bearer {served.keys[(OWNER, Role.analyst)]}"}
    with TestClient(app, headers=auth) as client:
        sql = {"sql": f"SELECT * FROM {table('public')}", "format": "parquet"}
        queried = client.post("/api/v1/sql", json=sql)
        got = client.get("/api/v1/datasets/cases_public/download", params={"format": "parquet"})
    assert queried.headers["X-Gongyu-Truncated"] == "true"
    assert pq.read_table(io.BytesIO(queried.content)).num_rows == 7
    assert pq.read_table(io.BytesIO(got.content)).num_rows == ROWS


def test_unreadable_and_unknown_datasets_are_the_same_404(served: World) -> None:
    unknown = download(served, OTHER_SECTOR, "cases_nope")
    assert unknown.status_code == 404 and unknown.json() == {"detail": "not found"}
    for dataset_id in ("cases_sector", "cases_restricted", "cases_private"):
        refused = download(served, OTHER_SECTOR, dataset_id)
        assert (refused.status_code, refused.content) == (404, unknown.content)
        assert "content-disposition" not in refused.headers
    # Operators read public data only, their own agency's included.
    assert download(served, OWNER, "cases_private", role=Role.operator).content == unknown.content


def test_an_unreadable_dataset_takes_the_same_steps_as_an_unknown_id(
    served: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work, same answer: an id that exists but may not be read is looked for exactly as
    one that does not exist, so neither the answer nor the record (nor the time) tells them
    apart."""
    steps: list[tuple[Any, ...]] = []

    def spy(cls: type, name: str, shown: Callable[..., tuple[Any, ...]]) -> None:
        real = getattr(cls, name)

        def called(self: Any, *args: Any, **kwargs: Any) -> Any:
            steps.append((name, *shown(*args, **kwargs)))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, called)

    spy(Sandboxes, "for_principal", lambda principal, *_: (principal.agency,))
    spy(AuditLog, "append", lambda _, kind, stmt, **kw: (kind, kw["outcome"], kw["error"]))

    def attempt(dataset_id: str) -> tuple[Any, ...]:
        steps.clear()
        answer = download(served, OTHER_SECTOR, dataset_id)
        headers = {k: v for k, v in answer.headers.items() if k != "date"}
        # The statement names the id asked for; everything else must match.
        return answer.status_code, headers, answer.content, [s[:3] for s in steps]

    download(served, OTHER_SECTOR, "cases_public")  # the caller's sandbox, built and cached
    unknown = attempt("cases_nope")
    assert unknown[0] == 404
    assert [s[0] for s in unknown[3]] == ["for_principal", "append"]
    for dataset_id in ("cases_sector", "cases_private"):
        assert attempt(dataset_id) == unknown


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer gyk_0000000000000000_nope"}, {"X-API-Key": "not-a-key"}],
    ids=["none", "wrong key", "not a key"],
)
def test_a_download_needs_credentials(served: World, headers: dict[str, str]) -> None:
    url = f"{served.url}/api/v1/datasets/cases_public/download"
    answer = httpx.get(url, headers=headers)
    assert (answer.status_code, answer.json()) == (401, {"detail": "invalid"})


def test_downloads_are_audited_and_count_as_usage(served: World) -> None:
    after = last_seq(served)
    got = download(served, GRANTEE, "cases_restricted", "csv")
    refused = download(served, OTHER_SECTOR, "cases_private", "parquet")
    assert (got.status_code, refused.status_code) == (200, 404)
    by_outcome = {r.outcome: r for r in new_records(served, after, 3)}
    # The file: opened before its first byte, completed once sent; the refusal: one record.
    opened, ok, denied = by_outcome["opened"], by_outcome["ok"], by_outcome["error"]
    assert ok.completes == opened.seq and denied.completes is None
    assert (ok.kind, ok.agency, opened.kind) == ("download", GRANTEE, "download")
    assert ok.statement == opened.statement
    assert ok.statement == "GET /api/v1/datasets/cases_restricted/download?format=csv"
    assert list(ok.datasets) == list(opened.datasets) == ["cases_restricted"]
    assert ok.rows == 10 and ok.bytes_out and ok.bytes_out > 0
    assert (denied.kind, denied.agency, denied.error) == ("download", OTHER_SECTOR, "not found")
    assert list(denied.datasets) == [] and denied.rows == 0
    assert served.platform.audit.verify().ok
    # The owner sees who downloaded its data, as it sees who queried it.
    with served.client(OWNER, Role.steward) as client:
        entry = client.get("/api/v1/catalog/datasets/cases_restricted").json()
    assert GRANTEE in {u["agency"] for u in entry["usage"]}


def test_the_dataset_page_links_the_downloads_for_a_signed_in_browser(served: World) -> None:
    with closing(sign_in(served.url, served.keys[(GRANTEE, Role.analyst)])) as browser:
        page = parse(browser.get("/datasets/cases_restricted").text)
        links = [a.attrib["href"] for a in page.iterfind(".//p[@id='downloads']/a")]
        assert [urlsplit(h).query for h in links] == [
            "format=csv",
            "format=parquet",
            "format=arrow",
        ]
        got = browser.get(links[0])  # the session cookie authenticates it
    assert got.status_code == 200
    assert got.content == download(served, GRANTEE, "cases_restricted", "csv").content


def test_a_csv_for_excel_starts_with_a_byte_order_mark(served: World) -> None:
    plain = download(served, OWNER, "cases_public", "csv").content
    with served.client(OWNER) as client:
        marked = client.get(
            "/api/v1/datasets/cases_public/download", params={"format": "csv", "bom": "true"}
        ).content
        parquet = client.get(
            "/api/v1/datasets/cases_public/download", params={"format": "parquet", "bom": "true"}
        ).content
    assert marked == "\ufeff".encode() + plain
    assert "서울".encode() in plain and parquet.startswith(b"PAR1")  # the mark is for CSV only


def test_csv_timestamps_are_iso_without_trailing_zeros(served: World) -> None:
    sql = (
        "SELECT TIMESTAMP '2020-01-01 09:30:00' AS whole, TIMESTAMP '2020-01-01 09:30:00.5' AS "
        "half, TIMESTAMPTZ '2020-01-01 00:30:00+00' AS zoned"
    )
    answer = served.sql(OWNER, sql, format="csv")
    assert answer.status_code == 200, answer.text
    _, row = answer.text.splitlines()
    whole, half, zoned = (cell.strip('"') for cell in row.split(","))
    assert (whole, half) == ("2020-01-01T09:30:00", "2020-01-01T09:30:00.5")
    assert zoned.startswith("2020-01-01T") and zoned[-6] in "+-" and zoned[-3] == ":"
