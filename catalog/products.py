"""Whether a joint product may be defined: it reads only what its agency may read, through the
SQL API's statement rules, and opens its output no wider than its inputs unless it publishes
only counts that pass the small-cell rule (`product.aggregate`).

The same rules hold at each build (the definer's sandbox and the gate); checking them when the
product is defined tells its author at once, with the dataset and the fix named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from catalog.access.grants import Grant
from catalog.access.policy import may_read
from catalog.access.principal import Principal, Role
from catalog.access.statements import Refused, check_query
from contracts.model import AccessLevel, Contract
from sectors.registry import Registry


def definer(contract: Contract) -> Principal:
    """Who a product's query runs as: its agency's analysts, with their grants, masks and row
    filters (never the owner of an input it does not own)."""
    return Principal(
        subject=f"product:{contract.id}", agency=contract.agency, role=Role.analyst, via="product"
    )


def wider_than(product: Contract, source: Contract) -> bool:
    """Whether the product's access level lets someone read it who may not read `source`."""
    level = product.access
    if source.access == AccessLevel.public or level == AccessLevel.private:
        return False
    if source.access == AccessLevel.sector:
        return level == AccessLevel.public or (
            level == AccessLevel.sector and product.sector != source.sector
        )
    if source.access == AccessLevel.restricted:
        return level != AccessLevel.restricted
    return True  # a private input stays inside its agency


def definition_refusals(
    product: Contract,
    contracts: Iterable[Contract],
    registry: Registry,
    grants: Callable[[str, str], list[Grant]],
) -> list[str]:
    """Why `product` may not be defined (empty: it may). `grants(agency, dataset_id)`: the
    agency's working grants on a dataset."""
    assert product.product is not None  # callers check
    principal = definer(product)
    live = {c.id: c for c in contracts if c.id != product.id}
    refusals: list[str] = []
    readable: set[tuple[str, str]] = set()
    for contract in live.values():
        if may_read(principal, contract, registry, grants(principal.agency, contract.id)):
            sector, table = contract.table.split(".", 1)
            readable |= {(sector, table), (contract.sector, contract.id)}
    for dataset_id in product.product.inputs:
        source = live.get(dataset_id)
        if source is None:
            refusals.append(f"input {dataset_id!r} is not a live dataset")
            continue
        if (source.sector, source.id) not in readable:
            refusals.append(
                f"{product.agency} may not read input {dataset_id} ({source.access.value}); "
                "request access to it first, then define the product"
            )
        elif product.product.aggregate is None and wider_than(product, source):
            refusals.append(
                f"input {dataset_id} is {source.access.value} in {source.sector}: the product "
                f"may not be {product.access.value} in {product.sector} unless it declares "
                "product.aggregate (a count column held to k)"
            )
    if not refusals:
        try:
            check_query(product.product.sql, readable)
        except Refused as exc:  # NotFound included: a name only the statement rules resolve
            refusals.append(f"the SQL is refused: {exc}")
    return refusals
