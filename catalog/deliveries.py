"""Deliveries: raw files landed immutably, then received → validating → published | quarantined."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import Engine, insert, select, update

from catalog.db import deliveries
from contracts.model import Contract
from gongyu.storage import Incoming, Storage


class DeliveryState(StrEnum):
    """Where a delivery is on its way to the lakehouse."""

    received = "received"
    validating = "validating"
    published = "published"
    quarantined = "quarantined"


PENDING = (DeliveryState.received, DeliveryState.validating)


class Delivery(BaseModel):
    """One raw file delivered for one dataset."""

    delivery_id: str
    dataset_id: str
    sector: str
    agency: str
    filename: str
    content_hash: str
    size_bytes: int
    landing_key: str
    state: DeliveryState
    reasons: list[str] = []
    rows: int | None = None
    snapshot_id: str | None = None
    contract_version: str | None = None
    seconds: float | None = None
    received_at: datetime
    updated_at: datetime


class DeliveryTooLarge(ValueError):
    """The file exceeds the configured delivery size limit."""


def landing_prefix(contract: Contract) -> str:
    """The dataset's landing zone: `<agency>/<dataset>/`."""
    return f"{contract.agency}/{contract.id}/"


class Deliveries:
    """The delivery ledger in the catalog database."""

    def __init__(self, engine: Engine, storage: Storage, max_bytes: int) -> None:
        self.engine = engine
        self.storage = storage
        self.max_bytes = max_bytes

    def receive(self, contract: Contract, file: Path) -> tuple[Delivery, bool]:
        """Land a copy of `file` for the contract's dataset; returns the delivery and whether it
        is new. The same bytes delivered again for the same dataset return the earlier delivery.
        """
        size = self._size(file, file.stat().st_size)
        with self.storage.incoming(file) as incoming:
            return self._register(contract, incoming, file.name, size)

    def receive_in_place(self, contract: Contract, key: str) -> tuple[Delivery, bool]:
        """Register a file dropped into the landing zone; a new one moves into its delivery
        folder (no copy), a repeated one stays where it was dropped."""
        size = self._size(key, self.storage.size(key))
        with self.storage.in_place(key) as incoming:
            return self._register(contract, incoming, key.rsplit("/", 1)[-1], size)

    def _size(self, file: Path | str, size: int) -> int:
        if size > self.max_bytes:
            raise DeliveryTooLarge(
                f"{file}: {size:,} bytes is over the delivery limit of {self.max_bytes:,} bytes "
                "(GONGYU_MAX_DELIVERY_BYTES); split the file or ask the operator to raise it"
            )
        return size

    def _register(
        self, contract: Contract, incoming: Incoming, filename: str, size: int
    ) -> tuple[Delivery, bool]:
        digest = incoming.digest
        existing = self._one(
            (deliveries.c.dataset_id == contract.id) & (deliveries.c.content_hash == digest)
        )
        if existing:
            return existing, False
        now = datetime.now(UTC)
        delivery_id = f"{now:%Y%m%dT%H%M%S%f}-{digest[:12]}"
        key = f"{landing_prefix(contract)}{delivery_id}/{filename}"
        incoming.keep(key)
        row = {
            "delivery_id": delivery_id,
            "dataset_id": contract.id,
            "sector": contract.sector,
            "agency": contract.agency,
            "filename": filename,
            "content_hash": digest,
            "size_bytes": size,
            "landing_key": key,
            "state": DeliveryState.received.value,
            "reasons": [],
            "received_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(deliveries).values(**row))
        return Delivery.model_validate(row), True

    def get(self, delivery_id: str) -> Delivery:
        """The delivery with this id; KeyError if unknown."""
        found = self._one(deliveries.c.delivery_id == delivery_id)
        if not found:
            raise KeyError(f"no delivery {delivery_id!r}")
        return found

    def list(
        self, dataset_id: str | None = None, states: tuple[DeliveryState, ...] | None = None
    ) -> list[Delivery]:
        """Deliveries, oldest first, optionally of one dataset and/or in some states."""
        query = select(deliveries).order_by(deliveries.c.received_at, deliveries.c.delivery_id)
        if dataset_id:
            query = query.where(deliveries.c.dataset_id == dataset_id)
        if states:
            query = query.where(deliveries.c.state.in_([s.value for s in states]))
        with self.engine.connect() as conn:
            return [Delivery.model_validate(r._mapping) for r in conn.execute(query)]

    def claim(self, delivery_id: str) -> Delivery:
        """Mark a pending delivery `validating` for processing; ValueError if it is already done."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id == delivery_id)
                .where(deliveries.c.state.in_([s.value for s in PENDING]))
                .values(state=DeliveryState.validating.value, updated_at=datetime.now(UTC))
            ).rowcount
        delivery = self.get(delivery_id)
        if not claimed:
            raise ValueError(
                f"delivery {delivery_id} is already {delivery.state.value}; deliver a new file "
                "to change the table"
            )
        return delivery

    def set_state(self, delivery_id: str, state: DeliveryState, **fields: object) -> Delivery:
        """Move a delivery to `state`, recording reasons, rows, snapshot and timings."""
        values = {"state": state.value, "updated_at": datetime.now(UTC), **fields}
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries).where(deliveries.c.delivery_id == delivery_id).values(**values)
            )
        return self.get(delivery_id)

    def _one(self, where: object) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries).where(where)).first()  # type: ignore[arg-type]
        return Delivery.model_validate(row._mapping) if row else None
