"""`gongyu run`: process pending deliveries, then the products they made stale, and wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from gongyu.cli.common import WorkspaceOption, console, platform_for, styled, user_errors

if TYPE_CHECKING:
    from assets.runner import ProductRun
    from catalog.deliveries import Delivery
    from contracts.model import Contract


def run(workspace: WorkspaceOption = None) -> None:
    """Run every pending delivery through the gate (in-process Dagster), then build every joint
    product whose inputs published since its last build, and wait. Exit 1 if any failed.

    Example: gongyu run --workspace .gongyu
    """
    from assets.runner import run_pending, run_products

    with user_errors():
        platform = platform_for(workspace)
        failed = 0

        def started(delivery: Delivery) -> None:
            console.print(f"… {delivery.dataset_id} {delivery.delivery_id}")

        for delivery, run_id in run_pending(platform, on_start=started):
            failed += not outcome(delivery, run_id)

        def building(contract: Contract) -> None:
            console.print(f"… {contract.id} (product)")

        for product in run_products(platform, on_start=building):
            failed += not built(product)
    raise typer.Exit(1 if failed else 0)


def outcome(delivery: Delivery, run_id: str) -> bool:
    """Print how a delivery's run ended: published, else quarantined with its reasons."""
    from catalog.deliveries import DeliveryState

    ok = delivery.state == DeliveryState.published
    mark = ("published", "green") if ok else ("quarantined", "red")
    why = "" if ok else ": " + "; ".join(delivery.reasons)[:300]
    console.print(styled("  ", mark, f" {delivery.rows or 0:,} rows (run {run_id[:8]}){why}"))
    return ok


def built(product: ProductRun) -> bool:
    """Print how a product's run ended: its build's outcome, or why nothing was built."""
    if product.failure is None and product.delivery is not None:
        return outcome(product.delivery, product.run_id)
    mark = "refused" if product.refused else "failed"
    why = product.failure or "the run ended without a build"
    console.print(styled("  ", (mark, "red"), f" (run {product.run_id[:8]}): {why[:300]}"))
    return False
