"""Shared models in the catalog: a card's lineage is checked against what the agency may read and
the table's published history, artifacts are hashed and never overwritten (folder and S3), grants
on `model:<id>` open a model like a dataset, and the demo's KoROAD model is reused by two
agencies with every download audited."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from catalog.access.grants import korean_today
from catalog.access.principal import Principal, Role
from catalog.ledger.models import (
    ModelCard,
    ModelConflict,
    ModelError,
    ModelRefused,
    UnknownModel,
    models_trained_on,
)
from catalog.ledger.projects import ProjectSpec
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.joint_demo import ACCIDENTS
from gongyu.ledger_demo import RISK_MODEL, demo_models, score
from gongyu.platform import Platform
from tests.conftest import data_file

ACCIDENT_FILE = "welfare_safety/koroad_fatal_traffic_accidents_2020.csv"
DRUNK = "police_drunk_driving_detections"  # restricted, knpa's


def who(agency: str, role: Role = Role.analyst) -> Principal:
    return Principal(subject=f"test:{agency}-{role.value}", agency=agency, role=role, via="api_key")


STEWARD = who("koroad", Role.steward)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The shipped contracts with KoROAD's fatal-accident table published."""
    root = tmp_path_factory.mktemp("models")
    platform = Platform(Settings(home=root / "ws"))
    delivery, _ = platform.deliver(ACCIDENTS, data_file(ACCIDENT_FILE))
    assert process_delivery(platform, delivery.delivery_id).published
    yield platform


def snapshot(platform: Platform) -> int:
    return platform.models.published(platform.contract(ACCIDENTS))[0]


def card(model_id: str, **changes: object) -> ModelCard:
    fields: dict[str, object] = {
        "id": model_id,
        "title": "사고 위험 모델",
        "title_en": "Accident risk",
        "task": "classification",
        "inputs": "주야, 사고 유형",
        "outputs": "추가 사상자 확률",
        "licence": "KOGL-Type1",
        "access": "restricted",
        "agency": "koroad",
        "sector": "welfare_safety",
    }
    return ModelCard.model_validate(fields | changes)


def artifact(tmp_path: Path, content: bytes, name: str = "model.npz") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_lineage_names_only_readable_datasets_at_published_snapshots(
    platform: Platform, tmp_path: Path
) -> None:
    file = artifact(tmp_path, b"weights")
    good = [{"dataset": ACCIDENTS, "snapshot_id": snapshot(platform)}]
    made = platform.models.register(STEWARD, card("lineage_ok", trained_on=good), file)
    assert made.card.trained_on[0].snapshot_id == snapshot(platform)
    lineage = platform.models.lineage(made.card)
    assert [(x.dataset, x.agency, x.table) for x in lineage] == [
        (ACCIDENTS, "koroad", f"welfare_safety.{ACCIDENTS}")
    ]
    wrong = {
        "no such dataset": [{"dataset": "nope", "snapshot_id": 1}],
        # knpa's restricted table, not granted to koroad: refused like an unknown id
        "not readable": [{"dataset": DRUNK, "snapshot_id": 1}],
        "not a snapshot of it": [{"dataset": ACCIDENTS, "snapshot_id": 12345}],
    }
    for why, used in wrong.items():
        with pytest.raises(ModelError) as refused:
            platform.models.register(STEWARD, card("lineage_bad", trained_on=used), file)
        assert refused.value.status == 422, why
    with pytest.raises(ModelError, match="that koroad may read"):
        platform.models.check(STEWARD, card("xx1", trained_on=wrong["not readable"]))
    assert platform.models.versions("lineage_bad") == []
    with pytest.raises(ModelError, match="member of the sector"):
        platform.models.check(STEWARD, card("xx2", sector="finance_insurance"))


def test_the_project_that_made_it_must_exist_and_include_the_agency(
    platform: Platform, tmp_path: Path
) -> None:
    seoul = who("seoul", Role.steward)
    spec = ProjectSpec(
        id="seoul_air_forecast",
        title="서울 대기질 예보",
        purpose="미세먼지 예보",
        sectors=["environment_energy"],
        lead="seoul",
        start=date(2024, 1, 1),
    )
    platform.projects.register(seoul, spec)
    with pytest.raises(ModelError, match="not a member of project"):
        platform.models.check(STEWARD, card("pp1", project_id="seoul_air_forecast"))
    with pytest.raises(ModelError, match="no project"):
        platform.models.check(STEWARD, card("pp1", project_id="no_such_project"))
    joint = spec.model_copy(update={"partners": ["koroad"]})
    platform.projects.update(seoul, joint)
    made = platform.models.register(
        STEWARD, card("pp1", project_id="seoul_air_forecast"), artifact(tmp_path, b"p")
    )
    entry = platform.models.entry(STEWARD, made.model_id)
    assert entry.project is not None and entry.project.title == "서울 대기질 예보"


def test_versions_are_stored_hashed_and_never_overwritten(
    platform: Platform, tmp_path: Path
) -> None:
    first, second = b"first weights", b"second weights, retrained"
    v1 = platform.models.register(STEWARD, card("versioned"), artifact(tmp_path, first))
    v2 = platform.models.register(STEWARD, card("versioned"), artifact(tmp_path, second))
    assert (v1.version, v2.version) == (1, 2)
    assert v1.artifact.key == "koroad/versioned/1/model.npz"
    assert v1.artifact.sha256 == hashlib.sha256(first).hexdigest()
    assert v2.artifact.sha256 == hashlib.sha256(second).hexdigest()
    zone = platform.models.storage
    with zone.incoming(artifact(tmp_path, b"tampered")) as incoming, pytest.raises(FileExistsError):
        incoming.keep(v1.artifact.key)
    with platform.models.artifact(v1) as path:
        assert path.read_bytes() == first
    # A registration that stored version 3 and crashed before recording it: its file stays, and
    # the next registration takes version 4.
    with zone.incoming(artifact(tmp_path, b"orphan")) as incoming:
        incoming.keep("koroad/versioned/3/model.npz")
    v4 = platform.models.register(STEWARD, card("versioned"), artifact(tmp_path, b"4"))
    assert v4.version == 4
    with pytest.raises(ModelConflict):  # another agency may not take the id
        platform.models.register(
            who("knpa", Role.steward), card("versioned", agency="knpa"), artifact(tmp_path, b"x")
        )
    with pytest.raises(ModelRefused):  # analysts do not register
        platform.models.register(who("koroad"), card("by_analyst"), artifact(tmp_path, b"x"))
    assert [v.version for v in platform.models.versions("versioned")] == [1, 2, 4]


def test_grants_on_a_model_open_it_until_revoked(platform: Platform, tmp_path: Path) -> None:
    made = platform.models.register(STEWARD, card("granted"), artifact(tmp_path, b"g"))
    kotsa = who("kotsa")
    assert not platform.models.may_download(kotsa, made.card)
    with pytest.raises(UnknownModel):
        platform.models.downloadable(kotsa, "granted", 1)
    until = korean_today() + timedelta(days=30)
    with pytest.raises(ModelRefused):
        platform.models.grant(who("koroad"), "granted", "kotsa", "분석", until)
    with pytest.raises(ModelError, match="past"):
        platform.models.grant(STEWARD, "granted", "kotsa", "분석", korean_today() - timedelta(1))
    grant = platform.models.grant(STEWARD, "granted", "kotsa", "안전 점검 대상 선정", until)
    assert grant.dataset_id == "model:granted"
    assert platform.models.downloadable(kotsa, "granted", 1).version == 1
    assert not platform.models.may_download(who("hira"), made.card)  # only the grantee
    recorded = platform.audit.records(dataset_ids=["model:granted"])
    assert recorded[0].kind == "access" and grant.grant_id in recorded[0].statement
    platform.grants.revoke(grant.grant_id)
    assert not platform.models.may_download(kotsa, made.card)
    public = platform.models.register(
        STEWARD, card("open_model", access="public"), artifact(tmp_path, b"o")
    )
    assert platform.models.may_download(kotsa, public.card)
    with pytest.raises(ModelError, match="takes no grants"):
        platform.models.grant(STEWARD, "open_model", "kotsa", "분석", until)


def test_private_models_are_unknown_to_other_agencies(platform: Platform, tmp_path: Path) -> None:
    used = [{"dataset": ACCIDENTS, "snapshot_id": snapshot(platform)}]
    platform.models.register(
        STEWARD, card("koroad_only", access="private", trained_on=used), artifact(tmp_path, b"p")
    )
    nhis = who("nhis")
    assert "koroad_only" not in [m.model_id for m in platform.models.list(nhis)]
    with pytest.raises(UnknownModel):
        platform.models.entry(nhis, "koroad_only")
    assert "koroad_only" in [m.model_id for m in platform.models.list(who("koroad"))]
    assert "koroad_only" not in [m.model_id for m in models_trained_on(platform, ACCIDENTS, nhis)]
    mine = models_trained_on(platform, ACCIDENTS, who("koroad"))
    assert "koroad_only" in [m.model_id for m in mine]
    assert "granted" not in [m.model_id for m in mine]  # trained on nothing


def test_the_demo_model_is_trained_shared_and_reused(platform: Platform) -> None:
    steps = demo_models(platform)
    assert [(s.agency, s.ok) for s in steps] == [
        ("koroad", True),
        ("nhis", True),
        ("kotsa", True),  # refused, as it should be
        ("kotsa", True),
    ]
    entry = platform.models.entry(who("nhis"), RISK_MODEL)
    assert entry.card.access == "sector" and entry.may_download
    assert [x.dataset for x in entry.lineage] == [ACCIDENTS]
    assert entry.lineage[0].snapshot_id == snapshot(platform)
    metrics = {m.name: m.value for m in entry.card.metrics}
    assert metrics["auc"] > 0.7, metrics  # better than chance on the held-out months
    with platform.models.artifact(entry.versions[-1]) as path:
        model = json.loads(path.read_text("utf-8"))
    # The model orders accident classes as the published table's outcomes do.
    table = platform.lakehouse.catalog.load_table(f"welfare_safety.{ACCIDENTS}")
    rows = table.scan(snapshot_id=snapshot(platform)).to_arrow().to_pylist()

    def observed(kind: str) -> float:
        cases = [r for r in rows if r["accident_class"] == kind]
        return sum(r["deaths"] >= 2 or r["injured"] >= 1 for r in cases) / len(cases)

    cars, people = {"accident_class": "차대차"}, {"accident_class": "차대사람"}
    assert (observed("차대차") > observed("차대사람")) == (
        score(model, cars) > score(model, people)
    )
    downloads = [
        (r.agency, r.outcome)
        for r in platform.audit.records(dataset_ids=[f"model:{RISK_MODEL}"])
        if r.kind == "download"
    ]
    assert sorted(downloads) == [("kotsa", "denied"), ("kotsa", "ok"), ("nhis", "ok")]


def test_artifacts_live_in_the_bucket_on_s3(s3_settings: Settings, tmp_path: Path) -> None:
    platform = Platform(s3_settings)
    content = b"\x00onnx-bytes" * 1000
    made = platform.models.register(STEWARD, card("on_s3"), artifact(tmp_path, content, "m.onnx"))
    again = platform.models.register(STEWARD, card("on_s3"), artifact(tmp_path, b"v2", "m.onnx"))
    assert platform.models.storage.uri.startswith("s3://")
    assert platform.models.storage.list_files("koroad/on_s3") == [
        "koroad/on_s3/1/m.onnx",
        "koroad/on_s3/2/m.onnx",
    ]
    assert (made.version, again.version) == (1, 2)
    assert made.artifact.sha256 == hashlib.sha256(content).hexdigest()
    fetched = tmp_path / "fetched.onnx"
    platform.models.fetch(STEWARD, "on_s3", 1, fetched)
    assert fetched.read_bytes() == content
    with (
        platform.models.storage.incoming(artifact(tmp_path, b"x")) as incoming,
        pytest.raises(FileExistsError),
    ):
        incoming.keep(made.artifact.key)
