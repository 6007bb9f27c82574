"""Deliveries land immutably, are recognised by content, and move through their states."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.db import connect
from catalog.deliveries import PENDING, Deliveries, DeliveryState, DeliveryTooLarge
from gongyu.storage import FolderStorage
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
    assert ledger.claim(delivery.delivery_id).state == DeliveryState.validating
    ledger.set_state(delivery.delivery_id, DeliveryState.quarantined, reasons=["bad"], rows=3)
    done = ledger.get(delivery.delivery_id)
    assert (done.state, done.reasons, done.rows) == (DeliveryState.quarantined, ["bad"], 3)
    assert ledger.list(states=PENDING) == []
    with pytest.raises(ValueError, match="already quarantined"):
        ledger.claim(delivery.delivery_id)


def test_delivery_over_the_limit_is_refused(tmp_path: Path) -> None:
    ledger = Deliveries(connect(f"sqlite:///{tmp_path}/c.db"), FolderStorage(tmp_path / "l"), 100)
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    with pytest.raises(DeliveryTooLarge, match="GONGYU_MAX_DELIVERY_BYTES"):
        ledger.receive(CONTRACT, src)
    assert ledger.list() == []


def test_storage_keys_cannot_escape_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        FolderStorage(tmp_path).path("../outside")
