"""Which products need a build: those whose inputs published since their last build (or whose
contract changed), in an order where a product over another product comes after it."""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import TopologicalSorter

from catalog.deliveries import Delivery
from catalog.published import Pins
from contracts.model import Contract
from gongyu.platform import Platform
from gongyu.products.pins import ProductWaits, input_pins


@dataclass(frozen=True)
class ProductState:
    """A product's last build against its inputs as they are now."""

    contract: Contract
    last: Delivery | None
    pins: Pins | None  # None: an input has nothing published yet
    waiting: str | None = None

    @property
    def stale(self) -> bool:
        """Whether a build would read other snapshots, or another contract, than the last."""
        if self.pins is None:
            return False
        last = self.last
        return (
            last is None
            or last.inputs != self.pins
            or last.contract_version
            not in (
                None,
                self.contract.version,
            )
        )


def products(platform: Platform) -> list[Contract]:
    """Every live product, inputs first (a product reading a product comes after it)."""
    found = {c.id: c for c in platform.contracts.values() if c.product is not None}
    graph = {
        pid: [i for i in c.product.inputs if i in found]  # type: ignore[union-attr]
        for pid, c in sorted(found.items())
    }
    return [found[pid] for pid in TopologicalSorter(graph).static_order()]


def state(platform: Platform, contract: Contract) -> ProductState:
    """The product's last build (of any outcome) and its inputs' current snapshots."""
    builds = platform.deliveries.list(contract.id)
    last = builds[-1] if builds else None
    try:
        return ProductState(contract, last, input_pins(platform, contract))
    except ProductWaits as exc:
        return ProductState(contract, last, None, str(exc))
