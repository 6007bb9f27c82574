"""A delivery's way, one step per room: admit → gate → publish → report (or quarantine)."""

from __future__ import annotations

import shutil
import time

from catalog.lakehouse import Auditor
from gongyu.delivery.admit import admit
from gongyu.delivery.gate import gate
from gongyu.delivery.lineage import DeliveryLineage
from gongyu.delivery.publish import publish
from gongyu.delivery.report import Outcome, report
from gongyu.platform import Platform


def process_delivery(
    platform: Platform, delivery_id: str, auditors: list[Auditor] | None = None
) -> Outcome:
    """Take one delivery through the gate into the lakehouse, or into quarantine."""
    started = time.perf_counter()
    with platform.deliveries.held(delivery_id) as delivery:
        lineage = DeliveryLineage(platform, delivery)
        lineage.started()
        work = platform.workspace.staging / delivery.delivery_id
        shutil.rmtree(work, ignore_errors=True)  # a killed run's spill: read nothing of it
        run = None
        try:
            # The gate's readers open paths: a bucket's object is read from a local copy.
            with platform.landing.local(delivery.landing_key) as source:
                admitted = admit(platform, delivery)
                run = gate(platform, admitted, source, work)
                run.result.inputs = delivery.inputs or {}
                snapshot_id = None
                if run.result.passed and run.typed is not None:
                    snapshot_id = publish(platform, admitted, delivery, run, auditors or [])
                outcome = report(platform, admitted, delivery, run, snapshot_id, started)
        except Exception as error:
            lineage.crashed(error)
            raise
        finally:
            if run is not None:
                run.close()
            # The spill is derived data: gone once the delivery is published or quarantined.
            shutil.rmtree(work, ignore_errors=True)
    lineage.finished(outcome)
    return outcome
