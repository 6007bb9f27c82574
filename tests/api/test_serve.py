"""`gongyu serve` in its own process: OpenAPI docs from local files, the SQL API answering."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from catalog.access.principal import Role
from tests.api.world import OWNER, build_platform, free_port, table

GONGYU = str(Path(sys.executable).with_name("gongyu"))


def test_serve_answers_queries_and_docs_need_no_cdn(tmp_path: Path) -> None:
    platform = build_platform(tmp_path)
    _, key = platform.keys.create(OWNER, Role.analyst, "serve test")
    port = free_port()
    env = {**os.environ, "GONGYU_CONTRACTS_DIR": str(platform.settings.contracts_dir)}
    server = subprocess.Popen(
        [GONGYU, "serve", "--workspace", str(platform.workspace.root), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "gongyu serve did not start"
            time.sleep(0.2)
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert httpx.get(base + source).status_code == 200, source
        spec = httpx.get(f"{base}/openapi.json").json()
        assert "/api/v1/sql" in spec["paths"]
        answer = httpx.post(
            f"{base}/api/v1/sql",
            json={"sql": f"SELECT count(*) FROM {table('private')}"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [[40]]
        assert httpx.post(f"{base}/api/v1/sql", json={"sql": "SELECT 1"}).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
