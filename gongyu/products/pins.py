"""A product's inputs as they are now: the published snapshot of each table it reads.

Apart from the build so that asking whether a product is stale (`gongyu run` before it starts
Dagster, the products sensor) loads the lakehouse's catalog, not the query engine.
"""

from __future__ import annotations

from pyiceberg.exceptions import NoSuchTableError

from catalog.published import Pins, publications
from contracts.model import Contract
from contracts.product_sql import input_tables
from gongyu.platform import Platform


class ProductWaits(RuntimeError):
    """An input has nothing published yet: the product is built once it has."""


def input_pins(platform: Platform, contract: Contract) -> Pins:
    """The current published snapshot of each table the product reads, `<sector>.<table>`."""
    assert contract.product is not None  # callers check
    pins: Pins = {}
    waiting = []
    for sector, name in input_tables(contract.product.sql):
        identifier = f"{sector}.{name}"
        try:
            table = platform.lakehouse.catalog.load_table(identifier)
        except NoSuchTableError:
            waiting.append(identifier)
            continue
        current = table.current_snapshot()
        if current is None or not publications(table):
            waiting.append(identifier)
            continue
        pins[identifier] = current.snapshot_id
    if waiting:
        raise ProductWaits(f"{contract.id} waits for a publication of {', '.join(waiting)}")
    return pins
