"""Deliveries land immutably, are recognised by content, and move through their states."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog.db import connect
from catalog.deliveries import (
    PENDING,
    Deliveries,
    DeliveryBusy,
    DeliveryState,
    DeliveryTooLarge,
)
from gongyu.ground.storage import FolderStorage
from tests.conftest import column, data_file, make_contract

CONTRACT = make_contract(
    [column("a")], dataset_id="kotsa_like", agency="kotsa", sector="transport_logistics"
)


@pytest.fixture
def ledger(tmp_path: Path) -> Deliveries:
    return Deliveries(
        connect(f"sqlite:///{tmp_path}/c.db"),
        FolderStorage(tmp_path / "landing"),
        max_bytes=10_000_000,
    )


def test_receive_stores_raw_bytes_immutably(ledger: Deliveries) -> None:
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    delivery, new = ledger.receive(CONTRACT, src)
    assert new
    assert delivery.state == DeliveryState.received
    assert delivery.landing_key.startswith("kotsa/kotsa_like/")
    stored = ledger.storage.path(delivery.landing_key)
    assert stored.read_bytes() == src.read_bytes()
    with ledger.storage.incoming(src) as again, pytest.raises(FileExistsError):
        again.keep(delivery.landing_key)
    assert stored.read_bytes() == src.read_bytes()
    assert not list((ledger.storage.root / ".incoming").iterdir())  # no temporary copy left


def test_same_bytes_twice_are_recognised(ledger: Deliveries, tmp_path: Path) -> None:
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    first, _ = ledger.receive(CONTRACT, src)
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(src.read_bytes())
    again, new = ledger.receive(CONTRACT, copy)
    assert not new
    assert again.delivery_id == first.delivery_id
    assert len(ledger.list()) == 1


def test_state_machine_and_claim(ledger: Deliveries) -> None:
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    delivery, _ = ledger.receive(CONTRACT, src)
    assert [d.delivery_id for d in ledger.list(states=PENDING)] == [delivery.delivery_id]
    assert ledger.claim(delivery.delivery_id, "test").state == DeliveryState.validating
    ledger.set_state(delivery.delivery_id, DeliveryState.quarantined, reasons=["bad"], rows=3)
    done = ledger.get(delivery.delivery_id)
    assert (done.state, done.reasons, done.rows) == (DeliveryState.quarantined, ["bad"], 3)
    assert ledger.list(states=PENDING) == []
    with pytest.raises(ValueError, match="already quarantined"):
        ledger.claim(delivery.delivery_id, "test")


def leased(tmp_path: Path, seconds: float) -> Deliveries:
    """A ledger whose leases last `seconds`."""
    engine = connect(f"sqlite:///{tmp_path}/c.db")
    return Deliveries(engine, FolderStorage(tmp_path / "landing"), 10_000_000, seconds)


def test_a_claim_is_exclusive_until_its_lease_lapses(tmp_path: Path) -> None:
    ledger = leased(tmp_path, 0.3)
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    delivery, _ = ledger.receive(CONTRACT, src)
    assert [d.delivery_id for d in ledger.pending()] == [delivery.delivery_id]
    first = ledger.claim(delivery.delivery_id, "worker-a")
    assert (first.attempts, first.lease_owner) == (1, "worker-a")
    assert ledger.pending() == []
    with pytest.raises(DeliveryBusy, match="being validated by worker-a"):
        ledger.claim(delivery.delivery_id, "worker-b")
    time.sleep(0.4)  # worker-a died: it renews no more
    assert [d.delivery_id for d in ledger.pending()] == [delivery.delivery_id]
    second = ledger.claim(delivery.delivery_id, "worker-b")
    assert (second.attempts, second.lease_owner) == (2, "worker-b")
    assert not ledger.renew(delivery.delivery_id, "worker-a")  # its lease is gone
    assert ledger.renew(delivery.delivery_id, "worker-b")
    done = ledger.set_state(delivery.delivery_id, DeliveryState.published, rows=1)
    assert (done.lease_owner, done.lease_until) == (None, None)
    assert ledger.pending() == []


def test_a_held_delivery_is_renewed_while_it_runs_and_released_on_error(tmp_path: Path) -> None:
    ledger = leased(tmp_path, 0.3)
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    delivery, _ = ledger.receive(CONTRACT, src)
    with pytest.raises(RuntimeError, match="disk full"), ledger.held(delivery.delivery_id):
        time.sleep(1.0)  # three lease lengths: only the heartbeat keeps it
        assert ledger.pending() == []
        raise RuntimeError("disk full")
    # Released at once with its reason: the next run need not wait for the lease to lapse.
    [again] = ledger.pending()
    assert again.state == DeliveryState.validating
    assert again.reasons == ["attempt 1 stopped: RuntimeError('disk full')"]


def test_delivery_over_the_limit_is_refused(tmp_path: Path) -> None:
    ledger = Deliveries(connect(f"sqlite:///{tmp_path}/c.db"), FolderStorage(tmp_path / "l"), 100)
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    with pytest.raises(DeliveryTooLarge, match="GONGYU_MAX_DELIVERY_BYTES"):
        ledger.receive(CONTRACT, src)
    assert ledger.list() == []


def test_storage_keys_cannot_escape_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        FolderStorage(tmp_path).path("../outside")
