"""Landing: a file accepted for a dataset (its header checked first), a sample drafted into a
contract, and reconciliation of files dropped straight into the landing zone or lost by the
ledger."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from catalog.deliveries import BuiltNotDelivered, Delivery, DeliveryTooLarge, landing_prefix
from gongyu.platform import Platform
from quality.drafting import draft_contract
from quality.header_check import check_header


def accept(platform: Platform, dataset_id: str, file: Path) -> tuple[Delivery, bool]:
    """Land a file a steward hands in for a dataset (CLI, page, API) once its header looks like
    the contract's; HeaderMismatch (a ValueError) says how many columns match and which of the
    agency's datasets the file seems to be for. Returns the delivery and whether it is new."""
    contract = platform.contract(dataset_id)
    if contract.product is not None:
        raise BuiltNotDelivered(contract)  # before a byte of the file is read
    agency = [c for c in platform.contracts.values() if c.agency == contract.agency]
    check_header(file, contract, agency)
    return platform.deliver(dataset_id, file)


CHUNK = 1024 * 1024
UNSAFE = re.compile(r"[^\w.\- ]+")


def upload_name(name: str | None) -> str:
    """A safe file name for an upload: its base name, odd characters replaced."""
    base = UNSAFE.sub("_", Path((name or "").replace("\\", "/")).name).strip(" .")
    return base[:200] or "upload"


@contextmanager
def uploaded(
    name: str,
    stream: BinaryIO,
    limit: int,
    what: str = "delivery",
    fix: str = "split the file or ask the operator to raise it",
) -> Iterator[Path]:
    """An uploaded stream copied to a temporary file of its own name, stopping at `limit` (no
    Content-Length, or a lying one: DeliveryTooLarge); the copy is removed after."""
    with tempfile.TemporaryDirectory(prefix="gongyu-upload-") as folder:
        target = Path(folder) / name
        with target.open("wb") as out:
            written = 0
            while block := stream.read(CHUNK):
                written += len(block)
                if written > limit:
                    raise DeliveryTooLarge(
                        f"{name}: over the {what} limit of {limit:,} bytes "
                        f"(GONGYU_MAX_DELIVERY_BYTES); {fix}"
                    )
                out.write(block)
        yield target


def accept_upload(
    platform: Platform, dataset_id: str, name: str, stream: BinaryIO
) -> tuple[Delivery, bool]:
    """`accept` an uploaded stream, copied under the delivery limit."""
    with uploaded(name, stream, platform.settings.max_delivery_bytes) as file:
        return accept(platform, dataset_id, file)


def draft_upload(
    platform: Platform,
    name: str,
    stream: BinaryIO,
    *,
    agency: str,
    dataset: str,
    sector: str | None = None,
    cadence: str | None = None,
) -> str:
    """The draft contract (ODCS YAML) of an uploaded sample, copied under the delivery limit
    (a sample is never larger than a delivery); ValueError when it cannot be drafted."""
    limit = platform.settings.max_delivery_bytes
    with uploaded(name, stream, limit, "sample", "send the first rows only") as file:
        return draft_contract(
            file,
            agency=agency,
            dataset=dataset,
            registry=platform.registry,
            sector=sector,
            cadence=cadence,
        )


def receive_dropped(platform: Platform) -> list[Delivery]:
    """Register files dropped straight into `landing/<agency>/<dataset>/` as deliveries,
    and files in delivery folders the ledger lost (a crash between landing and recording).

    A new file moves into its delivery folder; bytes already delivered are renamed to a
    hidden `.duplicate-of-<delivery>-<name>` where they lie. Nothing is deleted.
    """
    new = []
    known: set[str] | None = None  # every recorded delivery id, read once if needed
    for contract in platform.contracts.values():
        if contract.product is not None:
            continue  # its folder holds Gongyu's own builds: a file dropped there stays unread
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
