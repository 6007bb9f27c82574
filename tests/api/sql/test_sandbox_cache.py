"""The sandbox cache keeps one live sandbox per caller: a publish retires the ones before it."""

from __future__ import annotations

from pathlib import Path

from catalog.access.principal import Principal, Role
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from gongyu.query.running import Limits
from tests.conftest import data_file

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"


def publish(platform: Platform, file: Path) -> None:
    delivery, _ = platform.deliver("kotsa_car_inspection_centers", file)
    assert process_delivery(platform, delivery.delivery_id).published


def test_a_publish_retires_every_earlier_sandbox_of_the_caller(
    platform: Platform, tmp_path: Path
) -> None:
    publish(platform, data_file(KOTSA))
    service = QueryService(platform, Limits())
    koroad = Principal(subject="a", agency="koroad", role=Role.analyst, via="token")
    kotsa = Principal(subject="b", agency="kotsa", role=Role.analyst, via="token")
    before = service.sandboxes.for_principal(koroad)
    assert service.sandboxes.for_principal(koroad) is before  # cached
    service.sandboxes.for_principal(kotsa)

    # The same rows in another order: new bytes, a new snapshot.
    header, *rows = data_file(KOTSA).read_bytes().splitlines(keepends=True)
    again = tmp_path / "kotsa_again.csv"
    again.write_bytes(header + b"".join(reversed(rows)))
    publish(platform, again)

    after = service.sandboxes.for_principal(koroad)
    assert after is not before
    cached = list(service.sandboxes._cache.values())
    assert len(cached) == 2 and after in cached and before not in cached
