"""Landing reconciliation: files dropped straight into the landing zone, or lost by the ledger,
become deliveries."""

from __future__ import annotations

from catalog.deliveries import Delivery, landing_prefix
from gongyu.platform import Platform


def receive_dropped(platform: Platform) -> list[Delivery]:
    """Register files dropped straight into `landing/<agency>/<dataset>/` as deliveries,
    and files in delivery folders the ledger lost (a crash between landing and recording).

    A new file moves into its delivery folder; bytes already delivered are renamed to a
    hidden `.duplicate-of-<delivery>-<name>` where they lie. Nothing is deleted.
    """
    new = []
    known: set[str] | None = None  # every recorded delivery id, read once if needed
    for contract in platform.contracts.values():
        prefix = landing_prefix(contract)
        keys = platform.landing.list_files(prefix)
        folders = [k for k in keys if "/" in k.removeprefix(prefix)]
        if folders and known is None:
            known = platform.deliveries.known()
        # Lost ones first: bytes both lost and dropped again keep their first delivery id.
        lost = [k for k in folders if k.removeprefix(prefix).split("/", 1)[0] not in (known or ())]
        dropped = [k for k in keys if "/" not in k.removeprefix(prefix)]
        steps = [(platform.deliveries.adopt, k) for k in lost]
        steps += [(platform.deliveries.receive_in_place, k) for k in dropped]
        for register, key in steps:
            delivery, is_new = register(contract, key)
            if is_new:
                new.append(delivery)
            elif delivery.landing_key != key:  # never hide the file a delivery points at
                platform.landing.hide(key, f"duplicate-of-{delivery.delivery_id}")
    return new
