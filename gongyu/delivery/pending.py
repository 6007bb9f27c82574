"""Which received deliveries a run takes now: the landing sensor's choice, also asked by
`gongyu run` before it starts Dagster at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.deliveries import Delivery
from contracts.model import Contract
from gongyu.delivery.landing import receive_dropped
from gongyu.platform import Platform


@dataclass(frozen=True)
class Pending:
    """Deliveries to run now (with their contract), and those waiting for a withdrawn one."""

    runnable: list[tuple[Delivery, Contract]] = field(default_factory=list)
    withdrawn: list[Delivery] = field(default_factory=list)


def pending(platform: Platform) -> Pending:
    """Register dropped files, then sort the ledger's pending deliveries: a product's builds
    are its own run's (never launched here), and one whose contract is not live waits."""
    receive_dropped(platform)
    found = Pending()
    for delivery in platform.deliveries.pending():
        contract = platform.contracts.get(delivery.dataset_id)
        if contract is None:
            found.withdrawn.append(delivery)
        elif contract.product is None:
            found.runnable.append((delivery, contract))
    return found
