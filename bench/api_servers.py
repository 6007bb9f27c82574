"""The servers the benchmarks talk to, each in its own process on loopback: `gongyu serve`,
Datasette (`bench.api`) and moto's S3 (`bench.scaleout`). Each is stopped (its process group,
which only it is in) on the way out."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import REPO

BIN = Path(sys.executable).parent
START_SECONDS = 120.0


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} in {START_SECONDS:g} s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # The server runs in a session of its own: its group is it and its workers, nothing else.
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def serving(
    cmd: list[str], env: dict[str, str], ready: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `cmd` (output to `log`) until the block ends; yields its process once `ready` (a
    URL) answers 200."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait(proc, ready, log)
            yield proc
        finally:
            _stop(proc)


@contextmanager
def gongyu(workspace: Path, contracts: Path, workers: int, log: Path) -> Iterator[str]:
    """`gongyu serve` on the workspace with `workers` uvicorn workers; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GONGYU_HOME": str(workspace), "GONGYU_CONTRACTS_DIR": str(contracts)}
    cmd = [str(BIN / "gongyu"), "serve", "--workspace", str(workspace), "--port", str(port)]
    # The API alone: its group's memory is the server's, and the load benchmark gates its
    # delivery itself (a delivery worker would race it for the lease).
    cmd += ["--workers", str(workers), "--no-worker"]
    with serving(cmd, env, f"{url}/healthz", log):
        yield url


@contextmanager
def datasette(db: Path, time_limit_ms: int, log: Path) -> Iterator[str]:
    """Datasette serving the SQLite file read-only (`-i`, immutable); yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        str(BIN / "datasette"),
        "serve",
        "-i",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        str(time_limit_ms),
    ]
    with serving(cmd, dict(os.environ), f"{url}/-/versions.json", log):
        yield url
