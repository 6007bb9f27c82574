"""The demo's servers run as one: a server that stops by itself ends the demo non-zero, and
SIGTERM stops every server within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from gongyu.cli.supervise import supervise


def sleeper(seconds: float, code: int = 0) -> subprocess.Popen[bytes]:
    script = f"import sys, time; time.sleep({seconds}); sys.exit({code})"
    return subprocess.Popen([sys.executable, "-c", script])


def test_a_server_that_stops_by_itself_stops_the_demo(capfd: pytest.CaptureFixture[str]) -> None:
    lasting, failing = sleeper(60), sleeper(0.2, code=3)
    started = time.monotonic()
    assert supervise({"the SQL API": failing, "Dagster": lasting}, poll=0.05) == 1
    assert time.monotonic() - started < 5
    assert lasting.poll() is not None  # stopped with it
    assert "the SQL API stopped by itself (exit code 3)" in capfd.readouterr().err


def test_sigterm_stops_every_server() -> None:
    children = {"a": sleeper(60), "b": sleeper(60)}
    before = signal.getsignal(signal.SIGTERM)
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    assert supervise(children, poll=0.05) == 0
    assert time.monotonic() - started < 5
    assert all(child.poll() is not None for child in children.values())
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back
