"""`gongyu run`: process pending deliveries through Dagster and wait."""

from __future__ import annotations

import typer

from catalog.deliveries import Delivery, DeliveryState
from gongyu.cli.common import WorkspaceOption, console, settings_for, styled, user_errors
from gongyu.platform import Platform


def run(workspace: WorkspaceOption = None) -> None:
    """Run every pending delivery through the gate (in-process Dagster) and wait.

    Example: gongyu run --workspace .gongyu
    """
    from assets.runner import run_pending

    with user_errors():
        platform = Platform(settings_for(workspace))
        failed = 0

        def started(delivery: Delivery) -> None:
            console.print(f"… {delivery.dataset_id} {delivery.delivery_id}")

        for delivery, run_id in run_pending(platform, on_start=started):
            ok = delivery.state == DeliveryState.published
            failed += not ok
            mark = ("published", "green") if ok else ("quarantined", "red")
            why = "" if ok else ": " + "; ".join(delivery.reasons)[:300]
            console.print(
                styled("  ", mark, f" {delivery.rows or 0:,} rows (run {run_id[:8]}){why}")
            )
    raise typer.Exit(1 if failed else 0)
