"""Shared fixtures: real data files, a workspace per test, contracts built in code."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from open_data_contract_standard.model import OpenDataContractStandard

from contracts.model import ApplyMode, Column, Contract, LogicalType
from gongyu.ground.settings import Settings
from gongyu.platform import Platform

if TYPE_CHECKING:
    from tests import smtp as smtp_server

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
# The `postgres_url` fixture: a fresh PostgreSQL database per test module.
pytest_plugins = ["tests.postgres"]


def in_fresh_interpreter(script: str, *args: str, drop_env: tuple[str, ...] = ()) -> Any:
    """Run `script` in a new interpreter (the repository on its path, warnings off, without the
    variables `drop_env`); the JSON of the last line it prints. Fails when it exits non-zero."""
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def data_file(relative: str) -> Path:
    """A shipped real dataset file, e.g. `welfare_safety/police_crime_by_region_20151231.csv`."""
    path = DATA / relative
    assert path.is_file(), f"missing demo data file {path}"
    return path


def make_contract(
    columns: list[Column],
    *,
    dataset_id: str = "test_dataset",
    sector: str = "environment_energy",
    agency: str = "seoul",
    mode: ApplyMode = ApplyMode.replace,
    **extra: object,
) -> Contract:
    """A contract built in code, for tests that need no YAML."""
    odcs = OpenDataContractStandard(
        apiVersion="v3.2.0", kind="DataContract", id=dataset_id, version="1.0.0"
    )
    return Contract(
        id=dataset_id,
        version="1.0.0",
        title=dataset_id,
        sector=sector,
        agency=agency,
        access="public",
        apply_mode=mode,
        columns=tuple(columns),
        path=Path("test.yaml"),
        odcs=odcs,
        **extra,
    )


def column(name: str, logical: str = "string", **extra: object) -> Column:
    """A contract column whose file header is its own name."""
    return Column(name=name, physical_name=name, logical_type=LogicalType(logical), **extra)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a fresh workspace under tmp_path."""
    return Settings(home=tmp_path / "ws")


@pytest.fixture
def platform(settings: Settings) -> Platform:
    """A platform on a fresh workspace with the shipped contracts."""
    return Platform(settings)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 server (moto in server mode) on a free loopback port: `host:port`."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(tmp_path: Path, s3_endpoint: str) -> Settings:
    """Settings for a fresh workspace whose zones and warehouse are in a new bucket."""
    from minio import Minio

    bucket = f"gongyu-{uuid.uuid4().hex[:12]}"
    Minio(s3_endpoint, access_key="test", secret_key="test", secure=False).make_bucket(bucket)
    return Settings(
        home=tmp_path / "ws",
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key="test",
        s3_secret_key="test",
        s3_secure=False,
    )


@pytest.fixture
def smtp() -> Iterator[tuple[smtp_server.Inbox, int]]:
    """A real SMTP server on a free loopback port, with the inbox it fills."""
    from aiosmtpd.controller import Controller

    from tests.smtp import Inbox, free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()
