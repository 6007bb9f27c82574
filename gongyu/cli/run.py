"""`gongyu run`: process pending deliveries, then the products they made stale, and wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from gongyu.cli.common import WorkspaceOption, console, platform_for, styled, user_errors

if TYPE_CHECKING:
    from assets.runner import ProductRun
    from catalog.deliveries import Delivery
    from contracts.model import Contract
    from gongyu.platform import Platform


def run(workspace: WorkspaceOption = None) -> None:
    """Run every pending delivery through the gate (in-process Dagster), then build every joint
    product whose inputs published since its last build, and wait. Exit 1 if any failed.

    Example: gongyu run --workspace .gongyu
    """
    with user_errors():
        platform = platform_for(workspace)
        if not work_waiting(platform):
            console.print(
                "할 일 없음: 대기 중인 납품도, 다시 만들 결합 산출물도 없습니다 · nothing to run"
            )
            raise typer.Exit(0)
        from assets.definitions import build_definitions
        from assets.runner import run_pending, run_products

        defs = build_definitions(platform)
        failed = 0

        def started(delivery: Delivery) -> None:
            console.print(f"… {delivery.dataset_id} {delivery.delivery_id}")

        for delivery, run_id in run_pending(platform, on_start=started, defs=defs):
            failed += not outcome(delivery, run_id)

        def building(contract: Contract) -> None:
            console.print(f"… {contract.id} (product)")

        for product in run_products(platform, defs, on_start=building):
            failed += not built(product)
    raise typer.Exit(1 if failed else 0)


def work_waiting(platform: Platform) -> bool:
    """Whether a run has anything to take: a delivery, or a product whose inputs published
    since its last build. Asked before Dagster starts, so a run with nothing to do costs a
    read of the ledger, not Dagster's start-up (seconds)."""
    from gongyu.delivery.pending import pending

    if pending(platform).runnable:
        return True
    if not any(c.product is not None for c in platform.contracts.values()):
        return False
    from gongyu.products.freshness import products, state

    return any(state(platform, c).stale for c in products(platform))


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
