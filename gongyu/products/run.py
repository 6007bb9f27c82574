"""A product's run: any build a stopped run left in the ledger first, then a fresh build taken
through the same way as every delivery (gate, write–audit–publish, report)."""

from __future__ import annotations

from gongyu.delivery.report import Outcome
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from gongyu.products.build import build
from gongyu.query.query import QueryService


def run_product(
    platform: Platform, dataset_id: str, service: QueryService | None = None
) -> Outcome:
    """Build the product now and take the build through the gate; ProductWaits or
    ProductRefused (from `build`) when it cannot be built."""
    contract = platform.contract(dataset_id)
    for left in platform.deliveries.pending(contract.id):
        process_delivery(platform, left.delivery_id)  # a dataset's deliveries publish in order
    delivery = build(platform, contract, service)
    return process_delivery(platform, delivery.delivery_id)
