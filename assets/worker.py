"""The delivery worker: a warm loop that runs each pending delivery through Dagster in-process
as soon as it lands (`gongyu worker`, started by `gongyu serve`), so no daemon tick is awaited,
then builds the joint products whose inputs it (or anyone) published."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import dagster as dg

from assets.definitions import build_definitions
from assets.runner import ProductRun, dagster_instance, run_pending, run_products
from catalog.deliveries import Delivery, DeliveryState
from gongyu.delivery.landing import receive_dropped
from gongyu.platform import Platform

log = logging.getLogger(__name__)

SCAN_SECONDS = 15.0
"""How often files dropped straight into the landing zone are looked for (the sensor's pace):
listing every dataset's folder costs more than the pending query."""
PRODUCT_SECONDS = 15.0
"""How often the products are looked at when this worker published nothing (a publication by
another worker, `gongyu run` or the daemon): each look reads every input table's metadata."""
RETRY_SECONDS = 30.0
"""The pause after a poll that failed: a broken database or store is not hammered every poll."""
DONE = (DeliveryState.published, DeliveryState.quarantined)


@dataclass(frozen=True)
class Processed:
    """A delivery after the worker's run of it."""

    delivery: Delivery
    run_id: str
    seconds: float

    @property
    def failed(self) -> bool:
        """The run crashed (lease released, to be retried); not a delivery another worker took."""
        d = self.delivery
        return d.state not in DONE and d.lease_owner is None


class DeliveryWorker:
    """Polls the delivery ledger and runs what is pending, Definitions built once per contracts
    version; `run()` loops until `stop()`."""

    def __init__(
        self,
        platform: Platform,
        poll_seconds: float | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.platform = platform
        self.poll_seconds = poll_seconds or platform.settings.worker_poll_seconds
        self.retry_seconds = retry_seconds
        self.busy = False
        self._stopping = threading.Event()
        self._defs: dg.Definitions | None = None
        self._version: int | None = None
        self._next_scan = 0.0
        self._next_products = 0.0
        # Run keys of refused product builds: not tried again until an input publishes or the
        # contract changes, as the daemon's sensor would not (a crashed one is tried again).
        self._refused: set[str] = set()

    def definitions(self) -> dg.Definitions:
        """The Definitions of the contracts as they are now, rebuilt only when they changed."""
        version = self.platform.reload_contracts()
        if self._defs is None or version != self._version:
            self._defs, self._version = build_definitions(self.platform), version
        return self._defs

    def warm_up(self) -> None:
        """Pay once, before the first upload, what its run would pay: Great Expectations'
        import (seconds), the Definitions and the Dagster instance's storage."""
        from quality.suite import build_suite

        defs = self.definitions()
        for contract in list(self.platform.contracts.values())[:1]:
            build_suite(contract)
        with dagster_instance(self.platform.workspace):
            pass
        log.info(
            "delivery worker ready: %d datasets, polling every %gs",
            len(defs.assets or ()),
            self.poll_seconds,
        )

    def poll(self) -> list[Processed]:
        """Run every pending delivery now (none: one cheap query), each logged on one line, then
        the products made stale by what it published (or, now and then, by anyone)."""
        defs = self.definitions()
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + SCAN_SECONDS
            receive_dropped(self.platform)
        done = self._deliveries(defs) if self.platform.deliveries.pending() else []
        published = any(p.delivery.state == DeliveryState.published for p in done)
        if not self._stopping.is_set() and (published or time.monotonic() >= self._next_products):
            self._next_products = time.monotonic() + PRODUCT_SECONDS
            self._products(defs)
        return done

    def _deliveries(self, defs: dg.Definitions) -> list[Processed]:
        done: list[Processed] = []
        started = time.perf_counter()

        def on_start(_: Delivery) -> None:
            nonlocal started
            started, self.busy = time.perf_counter(), True

        try:
            for delivery, run_id in run_pending(self.platform, on_start, defs):
                self.busy = False
                done.append(Processed(delivery, run_id, time.perf_counter() - started))
                _log(done[-1])
                if self._stopping.is_set():
                    break  # the rest stay pending, for the next worker
        finally:
            self.busy = False
        return done

    def _products(self, defs: dg.Definitions) -> None:
        started = time.perf_counter()

        def on_start(_: object) -> None:
            nonlocal started
            started, self.busy = time.perf_counter(), True

        try:
            for product in run_products(self.platform, defs, on_start, skip=self._refused):
                self.busy = False
                if product.refused:
                    self._refused.add(product.run_key)
                _log_product(product, time.perf_counter() - started)
                if self._stopping.is_set():
                    break  # the rest are built by the next worker's first look
        finally:
            self.busy = False

    def run(self) -> None:
        """Warm up, then poll until `stop()`; a failing poll or delivery is logged, then retried
        after `retry_seconds`, and the loop goes on."""
        self.warm_up()
        while not self._stopping.is_set():
            try:
                done = self.poll()
            except Exception as error:  # the loop outlives any one delivery or database hiccup
                log.error(
                    "delivery worker: poll failed, retrying in %gs: %r", self.retry_seconds, error
                )
                self._stopping.wait(self.retry_seconds)
                continue
            if any(p.failed for p in done):
                self._stopping.wait(self.retry_seconds)
            elif not done:  # after a run, look again at once: uploads may have landed meanwhile
                self._stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        """Ask `run()` to return after the delivery under way, if any."""
        self._stopping.set()


def _log(processed: Processed) -> None:
    d = processed.delivery
    if processed.failed:
        why = "; ".join(d.reasons)[:300]
        log.error(
            "%s %s failed (run %s): %s", d.dataset_id, d.delivery_id, processed.run_id[:8], why
        )
        return
    state = d.state.value if d.state in DONE else f"taken by {d.lease_owner}"
    log.info(
        "%s %s %s, %d rows, %.1fs",
        d.dataset_id,
        d.delivery_id,
        state,
        d.rows or 0,
        processed.seconds,
    )


def _log_product(product: ProductRun, seconds: float) -> None:
    d, run = product.delivery, product.run_id[:8]
    if product.failure is not None or d is None:
        log.error("%s (product) not built (run %s): %s", product.contract.id, run, product.failure)
        return
    why = "" if d.state == DeliveryState.published else ": " + "; ".join(d.reasons)[:300]
    log.info(
        "%s (product) %s %s, %d rows, %.1fs%s",
        d.dataset_id,
        d.delivery_id,
        d.state.value,
        d.rows or 0,
        seconds,
        why,
    )
