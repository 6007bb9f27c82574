"""Stopping the servers stops what they started too: a process a server left behind (a code
server still finishing its calls, a run worker) is killed after the grace period."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gongyu.cli import supervise as module
from gongyu.cli.supervise import supervise

# A server that starts a helper deaf to SIGTERM, then ends at once on SIGTERM without it.
SERVER = """
import subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
open(sys.argv[1], "w").write(str(helper.pid))
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_what_a_server_left_behind_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "GRACE_SECONDS", 1.0)
    written = tmp_path / "helper.pid"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(written)])
    deadline = time.monotonic() + 30
    while not written.exists() or not written.read_text():
        assert time.monotonic() < deadline, "the server did not start its helper"
        time.sleep(0.05)
    helper = int(written.read_text())
    threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    assert supervise({"a server": server}, poll=0.05) == 0
    assert time.monotonic() - started < 5
    assert server.poll() is not None
    deadline = time.monotonic() + 5
    while alive(helper):  # killed; init reaps it
        assert time.monotonic() < deadline, "the helper outlived the server"
        time.sleep(0.05)


# A server that takes a moment to stop on SIGTERM, then exits 0.
SLOW_STOP = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (time.sleep(1), sys.exit(0)))
print("ready", flush=True)
time.sleep(60)
"""


def test_a_second_sigterm_does_not_cut_the_stop_short() -> None:
    """A process group gets SIGTERM, then its supervisor sends one more: the servers are still
    waited for, not orphaned by a supervisor killed mid-stop."""
    server = subprocess.Popen([sys.executable, "-c", SLOW_STOP], stdout=subprocess.PIPE)
    assert server.stdout is not None and server.stdout.readline() == b"ready\n"
    for delay in (0.2, 0.6):
        threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    assert supervise({"a server": server}, poll=0.05) == 0
    assert server.returncode == 0  # it finished its own stop
