"""The test platform served by `gongyu serve` in a process of its own, for what only a separate
process shows: its own resident memory, and how it ends on SIGTERM or SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from catalog.access.principal import Role
from tests.api.world import AGENCIES, World, build_platform, free_port
from tests.conftest import REPO

GONGYU = str(Path(sys.executable).with_name("gongyu"))


@dataclass
class Process(World):
    """A World whose server is the process `proc`."""

    proc: subprocess.Popen[bytes] | None = None

    def status(self, field: str) -> int:
        """A `/proc/<pid>/status` size of the server, in bytes (e.g. VmHWM, its peak RSS)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise KeyError(field)

    def stop(self, sig: signal.Signals) -> None:
        """Send `sig` to the server and wait for it to end (killed if it takes a minute)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextmanager
def served_process(root: Path, worker: bool = False, **settings: Any) -> Iterator[Process]:
    """The test platform (`tests.api.world`) served by `gongyu serve` with `settings` (passed
    as `GONGYU_*` variables), a key for every caller; stopped with SIGTERM at the end.

    Without `worker` it is `gongyu serve --no-worker`: the process is the API server itself, so
    its memory and threads are the server's."""
    platform = build_platform(root, **settings)
    keys = {
        (agency, role): platform.keys.create(agency, role, f"{agency}-{role.value}")[1]
        for agency in AGENCIES
        for role in Role
    }
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GONGYU_CONTRACTS_DIR": str(platform.settings.contracts_dir),
        **{f"GONGYU_{k.upper()}": str(v) for k, v in settings.items()},
    }
    workspace = str(platform.workspace.root)
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [GONGYU, "serve", "--workspace", workspace, "--port", str(port)]
        + ([] if worker else ["--no-worker"]),
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: signals reach it and nothing else
    )
    served = Process(platform=platform, url=f"http://127.0.0.1:{port}", keys=keys, proc=proc)
    try:
        _wait_ready(served, root / "server.log")
        yield served
    finally:
        served.stop(signal.SIGTERM)
        log.close()


def _wait_ready(served: Process, log: Path) -> None:
    assert served.proc is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")
