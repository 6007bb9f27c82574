"""Run servers as one (the demo's, `gongyu serve`'s API and worker): when one stops on its own
the others are stopped and the command exits non-zero; Ctrl-C or SIGTERM stops them all within
seconds, and what they started with them (Dagster's code servers and run workers): whatever of
it still runs after the grace period is killed, so nothing outlives the command."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from types import FrameType

from gongyu.cli.common import err

GRACE_SECONDS = 6.0


def supervise(
    children: dict[str, subprocess.Popen[bytes]], poll: float = 0.5, whole: str = "the demo"
) -> int:
    """Wait until a child exits (report it, return 1) or `whole` is interrupted (return 0);
    either way stop every child (SIGTERM, then SIGKILL after the grace period)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    err.print(f"{name} stopped by itself (exit code {code}); stopping {whole}")
                    return 1
            time.sleep(poll)
    except KeyboardInterrupt:
        return 0
    finally:
        # A second SIGTERM while stopping (a process group gets one, and then one more from the
        # supervisor above) must not cut the stop short and orphan the children.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stop(list(children.values()))
        finally:
            signal.signal(signal.SIGTERM, previous)


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child still running, then SIGKILL what is left after the grace period: the
    children and every process they had started (they may have ended without waiting for it)."""
    started = {pid: since for child in children for pid, since in _descendants(child.pid).items()}
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    while started and time.monotonic() < deadline:
        started = {pid: since for pid, since in started.items() if _start_time(pid) == since}
        time.sleep(0.1)
    for pid, since in started.items():
        if _start_time(pid) == since:  # the same process, not a new one given its number
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _stat(pid: int) -> tuple[int, int] | None:
    """A live process's parent and start time (Linux `/proc`; elsewhere, and once ended, None)."""
    with suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has ended; only its parent's wait is missing
            return int(fields[1]), int(fields[19])
    return None


def _descendants(pid: int) -> dict[int, int]:
    """The processes below `pid` now, each with its start time."""
    processes = {int(p.name): _stat(int(p.name)) for p in Path("/proc").glob("[0-9]*")}
    below: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, stat in processes.items():
            if stat and stat[0] == parent and child not in below:
                below[child] = stat[1]
                todo.append(child)
    return below


def _start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
