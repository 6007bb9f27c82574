"""A served platform for API tests: one dataset per access level, published, and a key per caller.

The welfare sector's police agency (knpa) owns four small person-level tables, one at each
access level, each with a pseudonymised identifier, a sensitive amount and a region; hira
(same sector) holds a grant on the restricted one with a row filter; kotsa is in another
sector. Every (agency, role) caller gets an API key. The app runs under uvicorn on loopback.
"""

from __future__ import annotations

import csv
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from fastapi import FastAPI

from api.app import SERVER_OPTIONS, create_app
from catalog.access.grants import korean_today
from catalog.access.principal import Role
from contracts.loader import DEFAULT_DIR
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform

OWNER, SAME_SECTOR, GRANTEE, OTHER_SECTOR = "knpa", "nhis", "hira", "kotsa"
AGENCIES = (OWNER, SAME_SECTOR, GRANTEE, OTHER_SECTOR)
LEVELS = ("public", "sector", "restricted", "private")
SIDO = ("서울", "부산", "대구", "광주")
ROWS = 40  # per table: 10 per 시·도
ROW_FILTER = "sido = '부산'"


def table(level: str) -> str:
    """The SQL name of the test table at an access level."""
    return f"welfare_safety.cases_{level}"


def contract_doc(level: str) -> dict[str, Any]:
    """An ODCS contract owned by knpa at `level`."""
    props = [
        ("person", "string", "direct_identifier"),
        ("sido", "string", "none"),
        ("n", "integer", "none"),
        ("amount", "integer", "sensitive"),
    ]
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": f"cases_{level}",
        "name": f"cases at {level}",
        "version": "1.0.0",
        "status": "active",
        "customProperties": [
            {"property": "sector", "value": "welfare_safety"},
            {"property": "agency", "value": OWNER},
            {"property": "accessLevel", "value": level},
        ],
        "schema": [
            {
                "name": f"cases_{level}",
                "physicalType": "file",
                "properties": [
                    {
                        "name": name,
                        "logicalType": logical,
                        "customProperties": [{"property": "classification", "value": cls}],
                    }
                    for name, logical, cls in props
                ],
            }
        ],
    }


def rows(level: str) -> list[dict[str, Any]]:
    """Deterministic rows; `n` runs 1..ROWS so sums are easy to check."""
    return [
        {
            "person": f"{level}-person-{i}",
            "sido": SIDO[i % len(SIDO)],
            "n": i + 1,
            "amount": 1000 * (i + 1),
        }
        for i in range(ROWS)
    ]


@dataclass
class World:
    """The served platform, its base URL and a key per (agency, role)."""

    platform: Platform
    url: str
    keys: dict[tuple[str, Role], str] = field(default_factory=dict)

    def client(self, agency: str, role: Role = Role.analyst, **headers: str) -> httpx.Client:
        """An HTTP client authenticated as that caller."""
        auth = {"Authorization": f"Bearer {self.keys[(agency, role)]}", **headers}
        return httpx.Client(base_url=self.url, headers=auth, timeout=60)

    def sql(self, agency: str, sql: str, role: Role = Role.analyst, **body: Any) -> httpx.Response:
        """POST /api/v1/sql as that caller."""
        with self.client(agency, role) as c:
            return c.post("/api/v1/sql", json={"sql": sql, **body})

    def trino(
        self,
        agency: str,
        sql: str,
        role: Role = Role.analyst,
        check: Callable[[httpx.Response], None] = lambda _: None,
    ) -> dict[str, Any]:
        """One statement over the Trino protocol as that caller, followed to its end (at most
        1,000 pages, each response passed to `check`): the final page with all the data."""
        headers = {
            "X-Trino-User": agency,
            "X-Trino-Catalog": "gongyu",
            "X-Trino-Schema": "welfare_safety",
        }
        with self.client(agency, role, **headers) as c:
            response = c.post("/v1/statement", content=sql.encode())
            check(response)
            body = response.json()
            data = list(body.get("data", []))
            for _ in range(1000):
                if "nextUri" not in body:
                    break
                response = c.get(body["nextUri"])
                check(response)
                body = response.json()
                data += body.get("data", [])
        return body | {"data": data}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn on a loopback port in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def build_platform(root: Path, **settings: Any) -> Platform:
    """A workspace with the shipped contracts, the four test tables published, and a grant."""
    contracts = root / "contracts"
    shutil.copytree(DEFAULT_DIR, contracts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    inputs = root / "inputs"
    inputs.mkdir()
    for level in LEVELS:
        path = contracts / "welfare_safety" / OWNER / f"cases_{level}.yaml"
        path.write_text(yaml.safe_dump(contract_doc(level), allow_unicode=True), encoding="utf-8")
    platform = Platform(Settings(home=root / "ws", contracts_dir=contracts, **settings))
    for level in LEVELS:
        data = inputs / f"cases_{level}.csv"
        with data.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["person", "sido", "n", "amount"])
            writer.writeheader()
            writer.writerows(rows(level))
        delivery, _ = platform.deliver(f"cases_{level}", data)
        outcome = process_delivery(platform, delivery.delivery_id)
        assert outcome.published, outcome.report
    platform.grants.add(
        platform.contract("cases_restricted"),
        GRANTEE,
        "test: regional analysis",
        korean_today() + timedelta(days=30),
        columns=("amount",),
        row_filter=ROW_FILTER,
        created_by="test",
    )
    return platform


@contextmanager
def world(root: Path, **settings: Any) -> Iterator[World]:
    """The platform served, with a key for every (agency, role)."""
    platform = build_platform(root, **settings)
    keys = {
        (agency, role): platform.keys.create(agency, role, f"{agency}-{role.value}")[1]
        for agency in AGENCIES
        for role in Role
    }
    with serve(create_app(platform)) as url:
        yield World(platform=platform, url=url, keys=keys)
