"""Landing reconciliation: files the ledger lost are adopted, copies are hidden, none deleted."""

from __future__ import annotations

import pytest

from catalog.deliveries import DeliveryState
from gongyu.delivery.landing import accept, receive_dropped
from gongyu.platform import Platform
from quality.header_check import HeaderMismatch
from tests.conftest import data_file


def test_a_landed_file_the_ledger_lost_is_adopted_never_deleted(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    key = f"{contract.agency}/{contract.id}/20261201T000000000000-lost/{src.name}"
    # What a crash between landing the file and recording it leaves behind.
    with platform.landing.incoming(src) as incoming:
        incoming.keep(key)
    [adopted] = receive_dropped(platform)
    assert (adopted.delivery_id, adopted.landing_key) == ("20261201T000000000000-lost", key)
    assert adopted.state == DeliveryState.received
    # Delivered again after the crash: recognised, and the lost copy is hidden, not deleted.
    delivery, new = platform.deliver(contract.id, src)
    assert (delivery.delivery_id, new) == (adopted.delivery_id, False)
    assert receive_dropped(platform) == []
    assert platform.landing.path(key).read_bytes() == src.read_bytes()


def test_a_lost_copy_of_bytes_delivered_since_is_hidden_beside_them(platform: Platform) -> None:
    contract = platform.contract("kotsa_car_inspection_centers")
    src = data_file("transport_logistics/kotsa_car_inspection_centers_20210927.csv")
    delivery, _ = platform.deliver(contract.id, src)
    lost = f"{contract.agency}/{contract.id}/20261201T000000000000-lost/{src.name}"
    with platform.landing.incoming(src) as incoming:
        incoming.keep(lost)
    assert receive_dropped(platform) == []
    hidden = platform.landing.path(lost).with_name(
        f".duplicate-of-{delivery.delivery_id}-{src.name}"
    )
    assert hidden.read_bytes() == src.read_bytes()
    assert platform.landing.path(delivery.landing_key).read_bytes() == src.read_bytes()
    assert [d.delivery_id for d in platform.deliveries.list()] == [delivery.delivery_id]


def test_a_file_whose_header_fits_another_dataset_is_not_accepted(platform: Platform) -> None:
    crime = data_file("welfare_safety/police_crime_by_region_20151231.csv")
    with pytest.raises(HeaderMismatch) as refused:
        accept(platform, "police_drunk_driving_detections", crime)
    assert "0 of 6 columns match" in str(refused.value)
    assert "Did you mean police_crime_by_region_2015?" in str(refused.value)
    assert platform.deliveries.list() == []
    delivery, new = accept(platform, "police_crime_by_region_2015", crime)
    assert new and delivery.dataset_id == "police_crime_by_region_2015"
