"""The door for AI assistants (`api.mcp`): the official MCP SDK's clients, over streamable HTTP
with a person's token and over stdio (`gongyu mcp`), search, describe and query as that person,
masked and refused as the SQL API would, and every call is on the audit chain marked `mcp`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from catalog.access.principal import Role, Scope
from tests.api.world import GRANTEE, OWNER, SAME_SECTOR, World, table, world
from tests.conftest import REPO

GONGYU = str(Path(sys.executable).with_name("gongyu"))
TOOLS = {"search_datasets", "describe_dataset", "run_sql", "my_access_requests"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass
class Served:
    """The served world and one nhis analyst (same sector as the tables' owner) with a
    read-only personal token."""

    world: World
    person: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with world(tmp_path_factory.mktemp("mcp")) as w:
        person = w.platform.people.create(SAME_SECTOR, "nhis analyst", [Role.analyst])
        _, token = w.platform.keys.create(
            SAME_SECTOR, Role.analyst, "assistant", person_id=person.person_id, scopes={Scope.read}
        )
        yield Served(w, person.person_id, token)


def over_http(
    served: Served, use: Callable[[Client], Awaitable[Any]], token: str | None = None
) -> Any:
    """`use` an SDK client connected to `/mcp` with the person's token (or `token`) as the
    bearer."""

    async def run() -> Any:
        headers = {"Authorization": f"Bearer {token or served.token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            transport = streamable_http_client(f"{served.world.url}/mcp", http_client=http)
            async with Client(transport) as client:
                return await use(client)

    return anyio.run(run)


def text(result: CallToolResult) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def answer(result: CallToolResult) -> Any:
    assert not result.is_error, text(result)
    return json.loads(text(result))


def test_an_analyst_searches_describes_and_queries_masked(served: Served) -> None:
    sector_sql = f"SELECT person, sido, amount FROM {table('sector')} ORDER BY n"

    async def use(client: Client) -> dict[str, Any]:
        return {
            "tools": await client.list_tools(),
            "search": await client.call_tool("search_datasets", {"query": "cases", "limit": 5}),
            "describe": await client.call_tool("describe_dataset", {"dataset_id": "cases_sector"}),
            "sql": await client.call_tool("run_sql", {"sql": sector_sql, "limit": 5}),
            "restricted": await client.call_tool(
                "run_sql", {"sql": f"SELECT amount FROM {table('restricted')}"}
            ),
            "requests": await client.call_tool("my_access_requests", {}),
        }

    got = over_http(served, use)
    assert {t.name for t in got["tools"].tools} == TOOLS
    hits = {h["dataset"]["id"]: h for h in answer(got["search"])["hits"]}
    assert hits["cases_sector"]["table"] == table("sector")
    assert "cases_private" not in hits  # another agency's private table is not even listed

    described = answer(got["describe"])
    assert described["table"] == table("sector")
    assert described["summary"]["access"] == "sector"
    columns = {c["name"]: c for c in described["columns"]}
    assert columns["amount"]["classification"] == "sensitive" and columns["amount"]["masked"]
    assert columns["person"]["classification"] == "direct_identifier"
    assert "sample" not in described and all("examples" not in c for c in columns.values())

    rows = answer(got["sql"])
    assert rows["row_count"] == 5 and rows["truncated"]  # 40 rows, cut at the limit asked
    assert [c["name"] for c in rows["columns"]] == ["person", "sido", "amount"]
    assert all(amount is None for _, _, amount in rows["rows"])  # sensitive: masked
    assert not any("person" in person for person, _, _ in rows["rows"])  # never the raw id
    # The same rows as the SQL API gives the same person (the same sandbox and masks).
    with httpx.Client(
        base_url=served.world.url, headers={"Authorization": f"Bearer {served.token}"}
    ) as c:
        api = c.post("/api/v1/sql", json={"sql": sector_sql + " LIMIT 5"}).json()
    assert api["rows"] == rows["rows"]

    assert got["restricted"].is_error  # not granted to nhis: unknown, as in the SQL API
    refused = json.loads(text(got["restricted"]))["error"]
    assert refused["kind"] == "sql" and "does not exist" in refused["message"]
    assert answer(got["requests"]) == []


def test_a_grantee_reads_its_rows_and_a_statement_is_checked(served: Served) -> None:
    w = served.world
    person = w.platform.people.create(GRANTEE, "hira analyst", [Role.analyst])
    _, token = w.platform.keys.create(
        GRANTEE, Role.analyst, "assistant", person_id=person.person_id, scopes={Scope.read}
    )
    granted = f"SELECT sido, count(*), sum(amount) FROM {table('restricted')} GROUP BY 1"

    async def use(client: Client) -> list[CallToolResult]:
        return [
            await client.call_tool("run_sql", {"sql": granted}),
            await client.call_tool("run_sql", {"sql": f"DELETE FROM {table('public')}"}),
        ]

    rows, refused = over_http(served, use, token)
    # The grant's row filter and its column: 부산's ten rows, `amount` opened.
    assert answer(rows)["rows"] == [["부산", 10, sum(1000 * (i + 1) for i in range(1, 40, 4))]]
    assert json.loads(text(refused))["error"]["kind"] == "refused"
    denied = w.platform.audit.records(person=person.person_id, limit=1)[0]
    assert denied.outcome == "denied" and denied.client == "mcp"


def test_a_dataset_one_may_not_see_is_unknown(served: Served) -> None:
    async def use(client: Client) -> list[CallToolResult]:
        return [
            await client.call_tool("describe_dataset", {"dataset_id": dataset_id})
            for dataset_id in ("cases_private", "no_such_dataset")
        ]

    hidden, unknown = over_http(served, use)
    assert hidden.is_error and unknown.is_error
    assert json.loads(text(unknown))["error"]["kind"] == "unknown"
    assert text(hidden).replace("cases_private", "X") == text(unknown).replace(
        "no_such_dataset", "X"
    )


def test_every_call_is_audited_as_coming_through_mcp(served: Served) -> None:
    sql = f"SELECT count(*) FROM {table('public')}"

    async def use(client: Client) -> list[CallToolResult]:
        return [
            await client.call_tool("search_datasets", {"query": "audited"}),
            await client.call_tool("run_sql", {"sql": sql}),
        ]

    searched, queried = over_http(served, use)
    assert not searched.is_error and answer(queried)["rows"] == [[40]]
    with httpx.Client(
        base_url=served.world.url, headers={"Authorization": f"Bearer {served.token}"}
    ) as c:
        assert c.post("/api/v1/sql", json={"sql": sql + " -- api"}).status_code == 200
    audit = served.world.platform.audit
    mine = audit.records(person=served.person, limit=1000)
    through_mcp = [r for r in mine if r.statement == sql]
    assert [r.outcome for r in through_mcp] == ["ok", "opened"]  # newest first
    assert through_mcp[0].completes == through_mcp[1].seq
    search = [r for r in mine if r.statement.startswith("MCP search_datasets")]
    assert any('"audited"' in r.statement for r in search)
    assert all(r.client == "mcp" for r in [*through_mcp, *search])
    # The SQL API's own records, by the same person, are not marked.
    assert {r.client for r in mine if r.statement == sql + " -- api"} == {None}
    assert audit.verify().ok
    assert '"client":"mcp"' in "".join(audit.lines())


def _post(served: Served, headers: dict[str, str], **cookies: str) -> httpx.Response:
    with httpx.Client(base_url=served.world.url, cookies=cookies) as c:
        return c.post("/mcp", json=INITIALIZE, headers=HEADERS | headers)


def test_the_door_takes_a_bearer_token_with_read_only(served: Served) -> None:
    w = served.world
    assert _post(served, {"Authorization": f"Bearer {served.token}"}).status_code == 200
    missing = _post(served, {})
    assert missing.status_code == 401 and missing.json() == {"detail": "invalid"}
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert _post(served, {"Authorization": "Bearer gyk_nope_nope"}).status_code == 401
    # An API key header or a session cookie does not open this door.
    assert _post(served, {"X-API-Key": served.token}).status_code == 401
    assert _post(served, {}, gongyu_session="anything").status_code == 401
    person = w.platform.people.create(OWNER, "knpa steward", [Role.steward])
    _, decide_only = w.platform.keys.create(
        OWNER, Role.steward, "decides", person_id=person.person_id, scopes={Scope.decide}
    )
    refused = _post(served, {"Authorization": f"Bearer {decide_only}"})
    assert refused.status_code == 403 and "read" in refused.json()["detail"]


def _stdio_env(served: Served, token: str) -> dict[str, str]:
    settings = served.world.platform.settings
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONPATH": str(REPO),
        "GONGYU_HOME": str(served.world.platform.workspace.root),
        "GONGYU_CONTRACTS_DIR": str(settings.contracts_dir),
        "GONGYU_TOKEN": token,
    }


def test_gongyu_mcp_serves_the_tools_over_stdio(served: Served) -> None:
    server = StdioServerParameters(
        command=GONGYU, args=["mcp"], env=_stdio_env(served, served.token)
    )
    sql = f"SELECT sido, count(*) AS n, sum(amount) AS s FROM {table('sector')} GROUP BY 1"

    async def run() -> tuple[set[str], CallToolResult]:
        async with Client(server) as client:
            tools = await client.list_tools()
            return {t.name for t in tools.tools}, await client.call_tool("run_sql", {"sql": sql})

    names, result = anyio.run(run)
    assert names == TOOLS
    rows = answer(result)["rows"]
    assert sorted(n for _, n, _ in rows) == [10, 10, 10, 10] and all(s is None for *_, s in rows)
    last = served.world.platform.audit.records(person=served.person, limit=1)[0]
    assert last.statement == sql and last.client == "mcp" and last.outcome == "ok"


def test_gongyu_mcp_refuses_to_start_without_a_valid_token(served: Served) -> None:
    for token in ("", "gyk_nope_nope"):
        done = subprocess.run(
            [GONGYU, "mcp"],
            env=_stdio_env(served, token),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        assert "error:" in done.stderr and not done.stdout
