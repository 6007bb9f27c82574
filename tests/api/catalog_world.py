"""The API test world (`tests.api.world`) plus real demo deliveries, for the catalog's tests.

Published from the shipped files: Seoul's daily air quality (public), the police's drunk-driving
detections (restricted, through the privacy gate) and KOTSA's inspection centres, delivered
first with a broken cell (quarantined) and then as it is (published).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gongyu.delivery.way import process_delivery
from gongyu.demo import bad_value
from gongyu.platform import Platform
from tests.api.world import World, world
from tests.conftest import data_file

AIR = "seoul_daily_air_quality"
DRUNK = "police_drunk_driving_detections"
KOTSA = "kotsa_car_inspection_centers"
KOTSA_FILE = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
DEMO = (
    (AIR, "environment_energy/seoul_daily_air_quality_2022.csv"),
    (DRUNK, "welfare_safety/police_drunk_driving_detections_202207.csv"),
)


def deliver(platform: Platform, dataset_id: str, file: Path) -> str:
    """Deliver and process one file; the delivery's final state."""
    delivery, _ = platform.deliver(dataset_id, file)
    return process_delivery(platform, delivery.delivery_id).delivery.state.value


@contextmanager
def catalog_world(root: Path) -> Iterator[World]:
    """The served test world with the demo deliveries above made."""
    with world(root) as served:
        platform = served.platform
        for dataset_id, name in DEMO:
            assert deliver(platform, dataset_id, data_file(name)) == "published"
        broken = bad_value(data_file(KOTSA_FILE), root / "kotsa_bad.csv", "검사진로수", 5, "3개")
        assert deliver(platform, KOTSA, broken) == "quarantined"
        assert deliver(platform, KOTSA, data_file(KOTSA_FILE)) == "published"
        yield served
