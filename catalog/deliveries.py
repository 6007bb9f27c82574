"""Deliveries: raw files landed immutably, then received → validating → published | quarantined."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Engine, Select, Update, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from catalog.db import deliveries
from contracts.model import Contract
from gongyu.ground.storage import Incoming, Storage


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
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    inputs: dict[str, int] | None = None


class DeliveryTooLarge(ValueError):
    """The file exceeds the configured delivery size limit."""


class BuiltNotDelivered(ValueError):
    """A joint product's table comes from its SQL: a file handed in for it is refused."""

    def __init__(self, contract: Contract) -> None:
        super().__init__(
            f"{contract.id} is a joint product: it is built from its SQL over its inputs "
            "(gongyu run, or Dagster when an input publishes), never delivered as a file"
        )


class DeliveryBusy(ValueError):
    """The delivery is done, or another worker holds a live lease on it."""


def worker_id() -> str:
    """This worker's name in a lease: host, process and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def landing_prefix(contract: Contract) -> str:
    """The dataset's landing zone: `<agency>/<dataset>/`."""
    return f"{contract.agency}/{contract.id}/"


class Deliveries:
    """The delivery ledger in the catalog database."""

    def __init__(
        self, engine: Engine, storage: Storage, max_bytes: int, lease_seconds: float = 300.0
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.max_bytes = max_bytes
        self.lease = timedelta(seconds=lease_seconds)

    def receive(
        self, contract: Contract, file: Path, inputs: dict[str, int] | None = None
    ) -> tuple[Delivery, bool]:
        """Land a copy of `file` for the contract's dataset; returns the delivery and whether it
        is new. The same bytes delivered again for the same dataset return the earlier delivery.
        `inputs`: a product build's input snapshots, recorded with it (a product takes no other
        file: BuiltNotDelivered).
        """
        if contract.product is not None and inputs is None:
            raise BuiltNotDelivered(contract)
        size = self._size(file, file.stat().st_size)
        with self.storage.incoming(file) as incoming:
            return self._register(contract, incoming, file.name, size, inputs)

    def receive_in_place(self, contract: Contract, key: str) -> tuple[Delivery, bool]:
        """Register a file dropped into the landing zone; a new one moves into its delivery
        folder (no copy), a repeated one stays where it was dropped."""
        if contract.product is not None:
            raise BuiltNotDelivered(contract)
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

    def adopt(self, contract: Contract, key: str) -> tuple[Delivery, bool]:
        """Register a file found in a delivery folder that the ledger does not know (its
        process died between landing it and recording it), under the id its folder names;
        returns the earlier delivery instead when the same bytes were recorded since."""
        delivery_id, filename = key.removeprefix(landing_prefix(contract)).split("/", 1)
        with self.storage.in_place(key) as found:  # not kept: it stays where it is
            digest = found.digest
        return self._record(contract, delivery_id, key, filename, digest, self.storage.size(key))

    def known(self) -> set[str]:
        """The ids of every delivery in the ledger."""
        with self.engine.connect() as conn:
            return set(conn.scalars(select(deliveries.c.delivery_id)))

    def _register(
        self,
        contract: Contract,
        incoming: Incoming,
        filename: str,
        size: int,
        inputs: dict[str, int] | None = None,
    ) -> tuple[Delivery, bool]:
        digest = incoming.digest
        existing = self._same_bytes(contract, digest)
        if existing:
            return existing, False
        delivery_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{digest[:12]}"
        key = f"{landing_prefix(contract)}{delivery_id}/{filename}"
        # Landed before it is recorded: a crash in between leaves a file `adopt` finds.
        incoming.keep(key)
        return self._record(contract, delivery_id, key, filename, digest, size, inputs)

    def _same_bytes(self, contract: Contract, digest: str) -> Delivery | None:
        return self._one(
            (deliveries.c.dataset_id == contract.id) & (deliveries.c.content_hash == digest)
        )

    def _record(
        self,
        contract: Contract,
        delivery_id: str,
        key: str,
        filename: str,
        digest: str,
        size: int,
        inputs: dict[str, int] | None = None,
    ) -> tuple[Delivery, bool]:
        """Insert a received delivery; when another process recorded this file or these bytes
        first (a lost-file scan racing an upload, two uploads of one file), theirs stands."""
        now = datetime.now(UTC)
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
            "inputs": inputs,
            "received_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(deliveries).values(**row))
        except IntegrityError:
            same = self._one(deliveries.c.delivery_id == delivery_id)
            if same:
                return same, True
            earlier = self._same_bytes(contract, digest)
            if earlier is None:
                raise
            return earlier, False
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
        query = select(deliveries)
        if states:
            query = query.where(deliveries.c.state.in_([s.value for s in states]))
        return self._oldest_first(query, dataset_id)

    def pending(self, dataset_id: str | None = None) -> list[Delivery]:
        """Deliveries waiting for a worker, oldest first: received, or validating under a lease
        that lapsed (its worker died)."""
        return self._oldest_first(
            select(deliveries).where(self._claimable(datetime.now(UTC))), dataset_id
        )

    def _oldest_first(self, query: Select, dataset_id: str | None) -> list[Delivery]:
        if dataset_id:
            query = query.where(deliveries.c.dataset_id == dataset_id)
        query = query.order_by(deliveries.c.received_at, deliveries.c.delivery_id)
        with self.engine.connect() as conn:
            return [Delivery.model_validate(r._mapping) for r in conn.execute(query)]

    def claim(self, delivery_id: str, owner: str) -> Delivery:
        """Take a pending delivery for `owner` under a fresh lease, atomically: of two workers
        racing for it, one wins. DeliveryBusy if it is done or another worker holds it."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id == delivery_id)
                .where(self._claimable(now))
                .values(
                    state=DeliveryState.validating.value,
                    attempts=deliveries.c.attempts + 1,
                    lease_owner=owner,
                    lease_until=now + self.lease,
                    updated_at=now,
                )
            ).rowcount
        delivery = self.get(delivery_id)
        if claimed:
            return delivery
        if delivery.state == DeliveryState.validating:
            raise DeliveryBusy(
                f"delivery {delivery_id} is being validated by {delivery.lease_owner} (lease "
                f"until {delivery.lease_until:%Y-%m-%d %H:%M:%S} UTC); it is picked up again "
                "if that worker stops renewing its lease"
            )
        raise DeliveryBusy(
            f"delivery {delivery_id} is already {delivery.state.value}; deliver a new file "
            "to change the table"
        )

    def renew(self, delivery_id: str, owner: str) -> bool:
        """Extend `owner`'s lease on a delivery; False when the lease is no longer its own."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    self._held_by(delivery_id, owner).values(lease_until=now + self.lease)
                ).rowcount
            )

    @contextmanager
    def held(self, delivery_id: str, owner: str | None = None) -> Iterator[Delivery]:
        """Claim a delivery and renew its lease from a background thread while the block runs;
        a killed worker stops renewing, so its delivery becomes pending again."""
        owner = owner or worker_id()
        delivery = self.claim(delivery_id, owner)
        done = threading.Event()
        interval = self.lease.total_seconds() / 3

        def heartbeat() -> None:
            while not done.wait(interval):
                try:
                    self.renew(delivery_id, owner)
                except SQLAlchemyError:  # a passing database error: the next beat tries again
                    continue

        beat = threading.Thread(target=heartbeat, name=f"lease-{delivery_id}", daemon=True)
        beat.start()
        try:
            yield delivery
        except Exception as error:
            # Released at once, with the reason: the next run need not wait for the lease.
            self._release(delivery_id, owner, f"attempt {delivery.attempts} stopped: {error!r}")
            raise
        finally:
            done.set()
            beat.join()

    def _release(self, delivery_id: str, owner: str, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self._held_by(delivery_id, owner).values(
                    lease_owner=None, lease_until=None, reasons=[reason]
                )
            )

    @staticmethod
    def _held_by(delivery_id: str, owner: str) -> Update:
        """An update of the delivery only while `owner` holds its lease."""
        return (
            update(deliveries)
            .where(deliveries.c.delivery_id == delivery_id)
            .where(deliveries.c.state == DeliveryState.validating.value)
            .where(deliveries.c.lease_owner == owner)
        )

    def set_state(self, delivery_id: str, state: DeliveryState, **fields: object) -> Delivery:
        """Move a delivery to `state`, recording reasons, rows, snapshot and timings; the lease
        ends with it."""
        values = {
            "state": state.value,
            "updated_at": datetime.now(UTC),
            "lease_owner": None,
            "lease_until": None,
            **fields,
        }
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries).where(deliveries.c.delivery_id == delivery_id).values(**values)
            )
        return self.get(delivery_id)

    @staticmethod
    def _claimable(now: datetime) -> ColumnElement[bool]:
        lapsed = or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)
        return or_(
            deliveries.c.state == DeliveryState.received.value,
            and_(deliveries.c.state == DeliveryState.validating.value, lapsed),
        )

    def _one(self, where: object) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries).where(where)).first()  # type: ignore[arg-type]
        return Delivery.model_validate(row._mapping) if row else None
