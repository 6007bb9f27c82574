"""The contract lifecycle over HTTP on loopback: a steward drafts a contract from a real file,
submits it, the sector's secretariat approves it, and deliveries run under it at once — no
restart; a breaking change without a major bump is refused at submission; a rejected contract
never accepts deliveries; the active contracts export back to files that load as they were."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from assets.definitions import build_definitions
from catalog.access.principal import Role
from contracts.loader import DEFAULT_DIR, load_contract, load_contracts, parse_contract
from gongyu.delivery.way import process_delivery
from tests.api.web_session import sign_in
from tests.api.world import OTHER_SECTOR, OWNER, SAME_SECTOR, World, world
from tests.conftest import data_file

POLICE = "welfare_safety/police_drunk_driving_detections_202207.csv"
SHIPPED = DEFAULT_DIR / "welfare_safety" / "knpa" / "police_drunk_driving_detections.yaml"
URL = "/api/v1/contracts"
GONGYU = str(Path(sys.executable).with_name("gongyu"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("reviews")) as w:
        yield w


def draft(served: World, dataset: str) -> str:
    """A draft contract of the police sample, as the drafts endpoint writes it."""
    path = data_file(POLICE)
    with served.client(OWNER, Role.steward) as client, path.open("rb") as f:
        answer = client.post(
            f"{URL}/drafts",
            data={"agency": OWNER, "dataset": dataset, "cadence": "month"},
            files={"file": (path.name, f, "text/csv")},
        )
    assert answer.status_code == 200, answer.text
    return answer.text


def call(
    served: World, agency: str, role: Role, method: str, path: str, **kw: object
) -> httpx.Response:
    with served.client(agency, role) as client:
        return client.request(method, URL + path, **kw)  # type: ignore[arg-type]


def deliver(served: World, dataset: str, path: Path) -> httpx.Response:
    with served.client(OWNER, Role.steward) as client, path.open("rb") as f:
        return client.post(
            f"/api/v1/datasets/{dataset}/deliveries", files={"file": (path.name, f, "text/csv")}
        )


def bump(text: str, version: str, drop: str | None = None) -> str:
    """The contract text at another version, without the property named `drop`."""
    doc = yaml.safe_load(text)
    doc["version"] = version
    if drop:
        props = doc["schema"][0]["properties"]
        doc["schema"][0]["properties"] = [p for p in props if p["name"] != drop]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def test_a_drafted_contract_is_reviewed_and_live_without_a_restart(served: World) -> None:
    dataset = "drunk_driving_monthly"
    text = draft(served, dataset)
    preview = call(served, OWNER, Role.steward, "POST", "/preview", json={"yaml": text})
    assert preview.status_code == 200 and preview.json()["errors"] == [], preview.text
    drafted = parse_contract(text, Path("draft.yaml"))
    shipped = load_contract(SHIPPED)
    personal = {c.physical_name: c.classification for c in shipped.columns}
    assert {
        c.physical_name: c.classification
        for c in drafted.columns
        if personal.get(c.physical_name) not in (None, "none")
    } == {k: v for k, v in personal.items() if v != "none"}

    submitted = call(served, OWNER, Role.steward, "POST", "", json={"yaml": text})
    assert submitted.status_code == 201, submitted.text
    assert submitted.json() == {"dataset": dataset, "version": "1.0.0", "state": "in_review"}
    assert deliver(served, dataset, data_file(POLICE)).status_code == 404  # not live yet
    assert call(served, OTHER_SECTOR, Role.analyst, "GET", f"/{dataset}").status_code == 404
    approve = f"/{dataset}/versions/1.0.0/approve"
    assert call(served, OWNER, Role.steward, "POST", approve).status_code == 403
    assert call(served, OTHER_SECTOR, Role.secretariat, "POST", approve).status_code == 404
    approved = call(served, SAME_SECTOR, Role.secretariat, "POST", approve)  # welfare's secretariat
    assert approved.status_code == 200 and approved.json()["state"] == "active", approved.text
    assert call(served, SAME_SECTOR, Role.secretariat, "POST", approve).status_code == 409
    registered_before_delivered(served, dataset)

    received = deliver(served, dataset, data_file(POLICE))
    assert received.status_code == 202, received.text
    outcome = process_delivery(served.platform, received.json()["delivery_id"])
    assert outcome.published, outcome.report
    with served.client(OWNER, Role.steward) as client:
        state = client.get(f"/api/v1/deliveries/{received.json()['delivery_id']}").json()
        assert state["state"] == "published"
        found = client.get("/api/v1/catalog/search", params={"q": dataset}).json()
        assert dataset in str(found)
    versions = call(served, OWNER, Role.steward, "GET", f"/{dataset}").json()
    assert versions["current"] == "1.0.0"
    assert [(v["version"], v["state"], v["current"]) for v in versions["versions"]] == [
        ("1.0.0", "active", True)
    ]
    defs = build_definitions(served.platform)
    assert any(k.path[-1] == dataset for k in defs.resolve_all_asset_keys())


def registered_before_delivered(served: World, dataset: str) -> None:
    """Approved and not delivered: found, shown as not yet delivered, and open to requests."""
    with served.client(OTHER_SECTOR, Role.analyst) as client:
        entry = client.get(f"/api/v1/catalog/datasets/{dataset}")
        assert entry.status_code == 200, entry.text
        assert entry.json()["summary"]["freshness"] == "never_published"
        assert dataset in client.get("/api/v1/catalog/search", params={"q": dataset}).text
    browser = sign_in(served.url, served.keys[(OTHER_SECTOR, Role.analyst)])
    assert "아직 제공 전" in browser.get(f"/datasets/{dataset}").text
    browser.close()
    with served.client(OTHER_SECTOR, Role.analyst) as client:
        asked = client.post(
            "/api/v1/access-requests",
            json={
                "dataset": dataset,
                "purpose": "음주운전 단속 통계와 교통안전 점검 연계",
                "legal_basis": "public_task",
                "legal_basis_detail": "도로교통법 제44조",
                "until": "2027-03-01",
            },
        )
        assert asked.status_code == 201, asked.text


def test_a_breaking_change_needs_a_major_version(served: World) -> None:
    dataset = "cases_public"
    text = served.platform.contract(dataset).text
    minor = call(
        served, OWNER, Role.steward, "POST", "", json={"yaml": bump(text, "1.1.0", "amount")}
    )
    assert minor.status_code == 422, minor.text
    assert any("breaking" in e and "2.0.0" in e for e in minor.json()["errors"])
    preview = call(
        served,
        OWNER,
        Role.steward,
        "POST",
        "/preview",
        json={"yaml": bump(text, "2.0.0", "amount")},
    ).json()
    assert preview["errors"] == [] and preview["follows"] == "1.0.0"
    assert any(c["kind"] == "breaking" for c in preview["changes"])
    same = call(served, OWNER, Role.steward, "POST", "", json={"yaml": text})
    assert same.status_code == 422  # its version is already the dataset's
    other = call(served, OTHER_SECTOR, Role.steward, "POST", "", json={"yaml": bump(text, "1.0.1")})
    assert other.status_code == 403


def test_another_agencys_contract_is_not_shown_through_a_diff(served: World) -> None:
    """A preview naming a private dataset of another agency shows none of its contract."""
    private = served.platform.contract("cases_private").text
    claimed = bump(private, "9.0.0", "amount").replace(f"value: {OWNER}", f"value: {SAME_SECTOR}")
    for agency, role in ((SAME_SECTOR, Role.steward), (OTHER_SECTOR, Role.analyst)):
        shown = call(served, agency, role, "POST", "/preview", json={"yaml": claimed}).json()
        assert shown["changes"] == [] and shown["follows"] is None
        assert "amount" not in str(shown) and "is taken" in str(shown["errors"])
    assert call(served, OTHER_SECTOR, Role.analyst, "GET", "/cases_private").status_code == 404


def test_a_rejected_contract_never_accepts_deliveries(served: World) -> None:
    dataset = "drunk_driving_rejected"
    text = draft(served, dataset)
    assert call(served, OWNER, Role.steward, "POST", "", json={"yaml": text}).status_code == 201
    reject = f"/{dataset}/versions/1.0.0/reject"
    assert (
        call(served, SAME_SECTOR, Role.secretariat, "POST", reject, json={"reason": ""}).status_code
        == 422
    )
    refused = call(
        served, SAME_SECTOR, Role.secretariat, "POST", reject,
        json={"reason": "나이는 5세 단위로 일반화해 주세요"},
    )  # fmt: skip
    assert refused.status_code == 200 and refused.json()["state"] == "rejected"
    assert deliver(served, dataset, data_file(POLICE)).status_code == 404
    assert dataset not in served.platform.contracts
    (shown,) = call(served, OWNER, Role.steward, "GET", f"/{dataset}").json()["versions"]
    assert (shown["state"], shown["reason"]) == ("rejected", "나이는 5세 단위로 일반화해 주세요")
    again = call(
        served, SAME_SECTOR, Role.secretariat, "POST", f"/{dataset}/versions/1.0.0/approve"
    )
    assert again.status_code == 409


def test_the_secretariat_does_not_approve_its_own_agency(served: World) -> None:
    text = draft(served, "nhis_sample").replace(f"value: {OWNER}", f"value: {SAME_SECTOR}")
    submitted = call(served, SAME_SECTOR, Role.steward, "POST", "", json={"yaml": text})
    assert submitted.status_code == 201, submitted.text
    approve = "/nhis_sample/versions/1.0.0/approve"
    assert call(served, SAME_SECTOR, Role.secretariat, "POST", approve).status_code == 403
    assert call(served, OTHER_SECTOR, Role.operator, "POST", approve).status_code == 200


def test_export_round_trips(served: World, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    settings = served.platform.settings
    env = {
        "PATH": "/usr/bin:/bin",
        "GONGYU_HOME": str(settings.home),
        "GONGYU_CONTRACTS_DIR": str(settings.contracts_dir),
    }
    done = subprocess.run(
        [GONGYU, "contracts", "export", str(out)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    back = {c.id: c for c in load_contracts(out, served.platform.registry)}
    live = served.platform.contracts
    assert "drunk_driving_monthly" in back  # approved in the catalog, not a file
    assert sorted(back) == sorted(live)
    assert all(back[i].odcs == live[i].odcs for i in live)


def test_yaml_aliases_are_refused_before_anything_walks_them(served: World) -> None:
    """Nested aliases expand to billions of nodes: refused with the line, nothing stored."""
    laughs = ["a: &a ['lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol', 'lol']"]
    laughs += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)
    ]
    bomb = "\n".join(laughs) + "\nid: bomb\n"
    for path in ("/preview", ""):
        answer = call(served, OWNER, Role.steward, "POST", path, json={"yaml": bomb})
        assert answer.status_code in (200, 422), answer.text
        assert "aliases" in answer.text and "line 2" in answer.text
    assert served.platform.contract_reviews.versions("bomb") == []
