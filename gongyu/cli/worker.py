"""`gongyu worker`: run deliveries through the gate as they land, until interrupted."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from gongyu.cli.common import WorkspaceOption, err, platform_for, styled, user_errors

if TYPE_CHECKING:
    from assets.worker import DeliveryWorker

GRACE_SECONDS = 5.0
"""How long a stop waits for the run under way (under `gongyu serve`'s 8 s before SIGKILL)."""


def worker(workspace: WorkspaceOption = None) -> None:
    """Run every delivery that lands (upload, `gongyu deliver`, a dropped file) through the gate
    with Dagster in-process, one poll a second (GONGYU_WORKER_POLL_SECONDS), until Ctrl-C or
    SIGTERM. `gongyu serve` starts one; run it alone beside `gongyu serve --no-worker`.

    Example: gongyu worker --workspace .gongyu
    """
    # Until the loop runs there is nothing to stop cleanly: Ctrl-C ends it, with no traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from assets.worker import DeliveryWorker

    with user_errors():
        loop = DeliveryWorker(platform_for(workspace))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log = logging.getLogger("assets.worker")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    code = run_until_signalled(loop)
    # Exit at once: what a warm worker loaded (Dagster, GX, pyarrow) takes seconds of native
    # teardown, and its state is all in the database by now (an abandoned run's under a lease).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_until_signalled(loop: DeliveryWorker) -> int:
    """Run `loop` in a thread until SIGINT or SIGTERM (0) or until it fails (1)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            loop.run()
        except Exception as error:  # warming up failed: a broken workspace, reported below
            failure.append(error)

    # The loop runs off the main thread: Dagster swallows a signal that arrives during a run on
    # the main thread, and here the handlers below always hear it at once.
    thread = threading.Thread(target=target, name="delivery-worker", daemon=True)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        loop.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    thread.start()
    while thread.is_alive() and not stopping.is_set():
        thread.join(0.2)
    if failure:
        err.print(styled(("error:", "red"), f" the delivery worker stopped: {failure[0]!r}"))
        return 1
    if thread.is_alive():
        thread.join(GRACE_SECONDS if loop.busy else 1.0)
    if thread.is_alive() and loop.busy:  # abandoned: the caller exits without waiting for it
        err.print("the delivery under way runs again once its lease lapses")
    return 0
