"""Dagster's UI inside the API at /dagster (GONGYU_DAGSTER_UI), over HTTP on loopback with real
Dagster: nothing of it without a session, the full UI for operators, a read-only one for
stewards and for requests from another site, 403 for other roles, and no code server left behind
when the server stops."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from api.app import SERVER_OPTIONS, create_app
from assets.runner import dagster_home
from catalog.access.principal import Principal, Role, Scope
from catalog.access.sessions import Sessions
from tests.api.web_session import sign_in
from tests.api.world import OTHER_SECTOR, OWNER, World, build_platform, free_port

PERMISSIONS = "{ permissions { permission value } }"
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "gongyu") {
  __typename ... on UnauthorizedError { message } } }"""
ASSETS = "{ assetNodes { assetKey { path } } }"


def code_servers() -> set[int]:
    """This process's child processes that run a Dagster code server."""
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"api grpc" in cmdline:
            found.add(int(proc.name))
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("dagster_ui")
    platform = build_platform(root, dagster_ui=True)
    dagster_home(platform.workspace)  # as `gongyu demo` does before serving
    keys = {
        (agency, role): platform.keys.create(agency, role, f"{agency}-{role.value}")[1]
        for agency in (OWNER, OTHER_SECTOR)
        for role in Role
    }
    before = code_servers()
    with pytest.MonkeyPatch.context() as env:
        # The code server builds the Definitions from the environment, as under `gongyu serve`.
        env.setenv("GONGYU_HOME", str(platform.workspace.root))
        env.setenv("GONGYU_CONTRACTS_DIR", str(platform.settings.contracts_dir))
        port = free_port()
        config = uvicorn.Config(
            create_app(platform), host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 180  # the code server imports the whole pipeline
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        try:
            assert code_servers() - before, "no code server started"
            yield World(platform=platform, url=f"http://127.0.0.1:{port}", keys=keys)
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    assert not thread.is_alive()
    assert code_servers() == before, "a code server outlived the server"


def browser(served: World, role: Role, agency: str = OWNER) -> httpx.Client:
    """A signed-in client whose requests say they come from the UI's own pages."""
    client = sign_in(served.url, served.keys[(agency, role)])
    client.headers["Sec-Fetch-Site"] = "same-origin"
    return client


def graphql(client: httpx.Client, query: str, **headers: str) -> dict[str, Any]:
    answer = client.post("/dagster/graphql", json={"query": query}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def allowed(client: httpx.Client, permission: str, **headers: str) -> bool:
    found = graphql(client, PERMISSIONS, **headers)["permissions"]
    return next(p["value"] for p in found if p["permission"] == permission)


def ws_url(served: World) -> str:
    return served.url.replace("http://", "ws://") + "/dagster/graphql"


def test_nothing_of_dagster_without_a_session(served: World) -> None:
    client = httpx.Client(base_url=served.url, timeout=30)
    page = client.get("/dagster/runs?view=all")
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2Fdagster%2Fruns%3Fview%3Dall"
    assert client.get("/dagster/graphql?query=%7Bversion%7D").status_code == 303
    for body in ({"query": PERMISSIONS}, {"query": RELOAD}):
        refused = client.post("/dagster/graphql", json=body)
        assert refused.status_code == 401 and "data" not in refused.text
    client.cookies.set("gongyu_session", "x" * 43)  # a session that does not exist
    assert client.post("/dagster/graphql", json={"query": PERMISSIONS}).status_code == 401
    with pytest.raises(InvalidStatus) as closed:
        connect(ws_url(served), subprotocols=["graphql-ws"], open_timeout=10)  # type: ignore[list-item]
    assert closed.value.response.status_code == 403


def test_operators_see_and_change_everything(served: World) -> None:
    client = browser(served, Role.operator)
    page = client.get("/dagster/")
    assert page.status_code == 200 and "/dagster/" in page.text  # the assets' prefix
    keys = {tuple(n["assetKey"]["path"]) for n in graphql(client, ASSETS)["assetNodes"]}
    assert ("welfare_safety", OWNER, "cases_public") in keys
    assert allowed(client, "launch_pipeline_execution")
    reloaded = graphql(client, RELOAD)["reloadRepositoryLocation"]
    assert reloaded["__typename"] == "WorkspaceLocationEntry"
    cookie = f"gongyu_session={client.cookies['gongyu_session']}"
    origin = {"Cookie": cookie, "Origin": served.url}
    with connect(ws_url(served), subprotocols=["graphql-ws"], additional_headers=origin) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"


def test_operators_requests_from_another_site_change_nothing(served: World) -> None:
    client = browser(served, Role.operator)
    assert not allowed(client, "launch_pipeline_execution", **{"Sec-Fetch-Site": "cross-site"})
    del client.headers["Sec-Fetch-Site"]
    # A link from elsewhere: the cookie (SameSite=Lax) comes along, the mutation does not pass.
    linked = client.get("/dagster/graphql", params={"query": RELOAD})
    assert linked.json()["data"]["reloadRepositoryLocation"]["__typename"] == "UnauthorizedError"
    foreign = {"Origin": "http://evil.example"}
    assert not allowed(client, "launch_pipeline_execution", **foreign)
    assert allowed(client, "launch_pipeline_execution", Origin=served.url)


def test_stewards_see_it_read_only(served: World) -> None:
    client = browser(served, Role.steward)
    assert client.get("/dagster/").status_code == 200
    assert graphql(client, ASSETS)["assetNodes"]
    assert not allowed(client, "launch_pipeline_execution")
    refused = graphql(client, RELOAD)["reloadRepositoryLocation"]
    assert refused["__typename"] == "UnauthorizedError"


def test_an_operator_key_without_the_deliver_scope_sees_it_read_only(served: World) -> None:
    key = served.platform.keys.create(OWNER, Role.operator, "reader", scopes=[Scope.read])[1]
    client = sign_in(served.url, key, **{"Sec-Fetch-Site": "same-origin"})
    assert graphql(client, ASSETS)["assetNodes"]
    assert not allowed(client, "launch_pipeline_execution")


def test_opening_the_ui_is_audited_with_its_person(served: World) -> None:
    person = served.platform.people.create(OWNER, "운영 담당", [Role.operator])
    key = served.platform.keys.create(OWNER, Role.operator, "ui", person_id=person.person_id)[1]
    client = sign_in(served.url, key)
    assert client.get("/dagster/runs").status_code == 200
    graphql(client, ASSETS)  # the UI's polled reads are not records of their own
    opened = served.platform.audit.records(person=person.person_id, kind="catalog")
    assert [r.statement for r in opened] == ["GET /dagster/runs (Dagster UI)"]


def test_a_session_still_to_enrol_a_second_factor_is_sent_there(served: World) -> None:
    sessions = Sessions(served.platform.engine, served.platform.registry, timedelta(hours=1))
    operator = Principal(subject="p", agency=OWNER, role=Role.operator, via="password")
    session_id, _ = sessions.create(operator, mfa_pending=True)
    client = httpx.Client(base_url=served.url, cookies={"gongyu_session": session_id})
    page = client.get("/dagster/")
    assert page.status_code == 303 and page.headers["location"] == "/account/mfa"
    assert client.post("/dagster/graphql", json={"query": PERMISSIONS}).status_code == 303


@pytest.mark.parametrize("role", [Role.analyst, Role.secretariat])
def test_other_roles_are_refused(served: World, role: Role) -> None:
    client = browser(served, role)
    page = client.get("/dagster/")
    assert page.status_code == 403
    assert "운영자" in page.text and "operators" in page.text
    assert client.post("/dagster/graphql", json={"query": PERMISSIONS}).status_code == 403
    cookie = {"Cookie": f"gongyu_session={client.cookies['gongyu_session']}"}
    with pytest.raises(InvalidStatus):
        connect(ws_url(served), subprotocols=["graphql-ws"], additional_headers=cookie)  # type: ignore[list-item]


def test_an_approved_contract_shows_in_the_ui_at_once(served: World) -> None:
    """The UI reloads its code location when the contracts changed (no restart, no worker)."""
    platform = served.platform
    client = browser(served, Role.steward, OTHER_SECTOR)
    original = platform.contract("kotsa_car_inspection_centers")
    text = original.text.replace("id: kotsa_car_inspection_centers", "id: kotsa_centers_approved")
    steward = Principal(subject="t", agency=OTHER_SECTOR, role=Role.steward, via="api_key")
    operator = Principal(subject="o", agency=OTHER_SECTOR, role=Role.operator, via="api_key")
    platform.contract_reviews.submit(steward, text)
    platform.contract_reviews.approve(operator, "kotsa_centers_approved", original.version)
    keys = {tuple(n["assetKey"]["path"]) for n in graphql(client, ASSETS)["assetNodes"]}
    assert ("transport_logistics", OTHER_SECTOR, "kotsa_centers_approved") in keys
