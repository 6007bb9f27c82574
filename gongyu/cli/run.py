"""`gongyu run`: process pending deliveries through Dagster and wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from gongyu.cli.common import WorkspaceOption, console, platform_for, styled, user_errors

if TYPE_CHECKING:
    from catalog.deliveries import Delivery


def run(workspace: WorkspaceOption = None) -> None:
    """Run every pending delivery through the gate (in-process Dagster) and wait.

    Example: gongyu run --workspace .gongyu
    """
    from assets.runner import run_pending
    from catalog.deliveries import DeliveryState

    with user_errors():
        platform = platform_for(workspace)
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
