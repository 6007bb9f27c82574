"""Deliveries over HTTP: a steward's file lands (header checked first), and its state is read
back by its agency only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog.access.principal import Role
from gongyu.delivery.way import process_delivery
from tests.api.world import OTHER_SECTOR, OWNER, World, world
from tests.conftest import data_file

CRIME = "police_crime_by_region_2015"
CRIME_FILE = "welfare_safety/police_crime_by_region_20151231.csv"
DRUNK_FILE = "welfare_safety/police_drunk_driving_detections_202207.csv"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("deliveries")) as w:
        yield w


def post(w: World, agency: str, role: Role, dataset: str, file: Path) -> httpx.Response:
    with w.client(agency, role) as c, file.open("rb") as f:
        return c.post(
            f"/api/v1/datasets/{dataset}/deliveries", files={"file": (file.name, f, "text/csv")}
        )


def test_a_steward_delivers_and_follows_the_file(served: World) -> None:
    w = served
    landed = post(w, OWNER, Role.steward, CRIME, data_file(CRIME_FILE))
    assert landed.status_code == 202, landed.text
    body = landed.json()
    assert (body["dataset"], body["state"], body["new"]) == (CRIME, "received", True)
    process_delivery(w.platform, body["delivery_id"])  # what Dagster's daemon does next
    with w.client(OWNER, Role.analyst) as c:
        state = c.get(f"/api/v1/deliveries/{body['delivery_id']}").json()
    assert (state["state"], state["reasons"]) == ("published", [])
    assert state["rows"] and state["snapshot_id"]
    with w.client(OTHER_SECTOR, Role.steward) as c:
        assert c.get(f"/api/v1/deliveries/{body['delivery_id']}").status_code == 404


def test_a_file_for_another_dataset_is_refused_at_once(served: World) -> None:
    w = served
    before = len(w.platform.deliveries.list())
    wrong = post(w, OWNER, Role.steward, "police_drunk_driving_detections", data_file(CRIME_FILE))
    assert wrong.status_code == 422, wrong.text
    detail = wrong.json()["detail"]
    assert "columns match" in detail and "일치합니다" in detail
    assert f"Did you mean {CRIME}?" in detail  # another dataset of the same agency fits it
    assert len(w.platform.deliveries.list()) == before  # nothing landed


def test_only_the_owning_stewards_deliver(served: World) -> None:
    w = served
    drunk = data_file(DRUNK_FILE)
    assert post(w, OWNER, Role.analyst, CRIME, drunk).status_code == 403
    assert post(w, OTHER_SECTOR, Role.steward, CRIME, drunk).status_code == 403
    assert post(w, OTHER_SECTOR, Role.steward, "cases_private", drunk).status_code == 404
    assert post(w, OWNER, Role.steward, "no_such_dataset", drunk).status_code == 404


def test_a_broken_files_reasons_are_korean_and_english_on_request(
    served: World, tmp_path: Path
) -> None:
    w = served
    # The real file as UTF-8, with one row pasted in CP949: an encoding problem on its line.
    lines = data_file(CRIME_FILE).read_bytes().decode("cp949").splitlines(keepends=True)
    mixed = tmp_path / "crime.csv"
    mixed.write_bytes(
        b"".join(t.encode("cp949" if i == 20 else "utf-8") for i, t in enumerate(lines))
    )
    landed = post(w, OWNER, Role.steward, CRIME, mixed)
    assert landed.status_code == 202, landed.text
    delivery_id = landed.json()["delivery_id"]
    assert not process_delivery(w.platform, delivery_id).published
    with w.client(OWNER, Role.steward) as c:
        korean = c.get(f"/api/v1/deliveries/{delivery_id}")
        english = c.get(f"/api/v1/deliveries/{delivery_id}", params={"lang": "en"})
        assert c.get(f"/api/v1/deliveries/{delivery_id}", params={"lang": "fr"}).status_code == 422
    assert korean.headers["content-language"] == "ko"
    assert korean.json()["state"] == english.json()["state"] == "quarantined"
    (reason,) = korean.json()["reasons"]
    assert "두 가지 인코딩이 섞여 있습니다" in reason and "21번째 줄은 CP949" in reason
    (reason,) = english.json()["reasons"]
    assert "mixes two encodings: line 21 is in CP949" in reason
