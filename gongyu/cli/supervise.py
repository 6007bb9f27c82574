"""Run servers as one (the demo's, `gongyu serve`'s API and worker): when one stops on its own
the others are stopped and the command exits non-zero; Ctrl-C or SIGTERM stops them all within
seconds."""

from __future__ import annotations

import signal
import subprocess
import time
from types import FrameType

from gongyu.cli.common import err

GRACE_SECONDS = 8.0


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
        signal.signal(signal.SIGTERM, previous)
        stop(list(children.values()))


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child still running, then SIGKILL what is left after the grace period."""
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


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
