"""The demo's AI ledger: the shipped projects of the five sectors imported, a model KoROAD trains
on its published table shared at sector level and reused by two other agencies (one after a
grant), and the overlapping projects the detector finds across agencies."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from catalog.access.grants import korean_today
from catalog.access.principal import Role
from catalog.ledger.overlaps import Overlap, project_overlaps
from catalog.ledger.project_files import Imported, import_projects, projects_dir
from gongyu.joint_demo import ACCIDENTS, person
from gongyu.platform import Platform

RISK_PROJECT = "koroad_accident_risk_prediction"  # the KoROAD project that makes the model


@dataclass(frozen=True)
class LedgerDemo:
    """What the demo put in the ledger and what the detector found."""

    imported: Imported
    models: list[ModelStep]
    overlaps: list[Overlap]


def run_ledger(platform: Platform) -> LedgerDemo:
    """Import the shipped projects, share KoROAD's model, and find the overlapping projects."""
    root = projects_dir(platform.settings.sectors_file)
    imported = import_projects(platform.projects, root, platform.contracts)
    steps = demo_models(platform, project_id=RISK_PROJECT)
    return LedgerDemo(imported, steps, project_overlaps(platform, limit=3))


@dataclass(frozen=True)
class ModelStep:
    """One step of the shared-model demo: who did what with which version, and how it ended."""

    story: str
    agency: str
    model_id: str
    version: int
    ok: bool
    detail: str = ""


RISK_MODEL = "koroad_accident_risk"
# The accident's circumstances the model reads (columns of KoROAD's table), one-hot encoded.
RISK_FEATURES = ("day_night", "accident_class", "road_class", "offender_party", "victim_party")
RARE = 30  # a category rarer in training has no weight of its own: it counts as the baseline


def demo_models(platform: Platform, project_id: str | None = None) -> list[ModelStep]:
    """KoROAD trains a small accident-risk model on its published fatal-accident table, shares
    it at sector level (welfare and safety) as `koroad_accident_risk`, trained on the table's
    current snapshot; NHIS (a sector member) downloads and reuses it; KoTSA (another sector) is
    refused, granted it by KoROAD's steward, then downloads it. Every download is audited."""
    # Here, not at the top: the rest of the demo needs no model ledger.
    from catalog.ledger.models import ModelCard, UnknownModel

    koroad = person("koroad", Role.steward)
    contract = platform.contract(ACCIDENTS)
    table = platform.lakehouse.catalog.load_table(contract.table)
    snapshot = table.current_snapshot()
    if snapshot is None:
        raise RuntimeError(f"{ACCIDENTS} is not published: run the demo's deliveries first")
    fitted = fit_accident_risk(table.scan(snapshot_id=snapshot.snapshot_id).to_arrow())
    folder = platform.workspace.root / "demo-models"
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / f"{RISK_MODEL}.json"
    artifact.write_text(json.dumps(fitted["model"], ensure_ascii=False, indent=1), "utf-8")
    card = ModelCard(
        id=RISK_MODEL,
        title="사망 교통사고의 추가 사상자 발생 위험 (로지스틱 회귀)",
        title_en="Risk that a fatal accident harms more people (logistic regression)",
        task="classification",
        inputs="주야, 사고유형 대분류, 도로형태 대분류, 가해자·피해자 당사자 종별 (원-핫) — "
        "day/night, accident class, road class, offender and victim party (one-hot)",
        outputs="사망사고에서 사망자 2명 이상이거나 부상자가 나올 확률 — the probability that a "
        "fatal accident kills more than one person or also injures someone",
        metrics=fitted["metrics"],
        limits="2020년 사망사고만으로 학습: 사망사고가 아닌 사고의 위험은 추정하지 않는다. "
        "Trained on 2020 fatal accidents only; not a model of whether an accident is fatal.",
        licence="KOGL-Type1",
        access="sector",
        agency="koroad",
        sector=contract.sector,
        project_id=project_id,
        trained_on=[{"dataset": ACCIDENTS, "snapshot_id": snapshot.snapshot_id}],
    )
    made = platform.models.register(koroad, card, artifact)
    steps = [
        ModelStep(
            "registered and shared with its sector",
            "koroad",
            RISK_MODEL,
            made.version,
            True,
            made.artifact.sha256,
        )
    ]

    nhis = person("nhis", Role.analyst)
    reused = folder / f"{RISK_MODEL}.nhis.json"
    platform.models.fetch(nhis, RISK_MODEL, made.version, reused)
    risk = score(json.loads(reused.read_text("utf-8")), SCENARIO)
    steps.append(
        ModelStep(
            "downloaded by a sector member and reused",
            "nhis",
            RISK_MODEL,
            made.version,
            True,
            f"야간 차대사람 단일로 화물차→보행자: {risk:.1%}",
        )
    )

    kotsa = person("kotsa", Role.analyst)
    elsewhere = folder / f"{RISK_MODEL}.kotsa.json"
    try:
        platform.models.fetch(kotsa, RISK_MODEL, made.version, elsewhere)
        refused = False
    except UnknownModel:
        refused = True
    steps.append(
        ModelStep("refused to another sector's agency", "kotsa", RISK_MODEL, made.version, refused)
    )
    grant = platform.models.grant(
        koroad,
        RISK_MODEL,
        "kotsa",
        "사업용 차량 안전점검 대상 선정에 사고 위험 모델 활용 (commercial vehicle safety checks)",
        korean_today() + timedelta(days=180),
    )
    platform.models.fetch(kotsa, RISK_MODEL, made.version, elsewhere)
    steps.append(
        ModelStep(
            "granted by KoROAD's steward, then downloaded",
            "kotsa",
            RISK_MODEL,
            made.version,
            True,
            grant.grant_id,
        )
    )
    return steps


# Night, a vehicle hitting a pedestrian, on a road section, a lorry: the case NHIS scores.
SCENARIO = {
    "day_night": "야",
    "accident_class": "차대사람",
    "road_class": "단일로",
    "offender_party": "화물차",
    "victim_party": "보행자",
}


def fit_accident_risk(data: pa.Table) -> dict[str, Any]:
    """A ridge-penalised logistic regression (Newton's method, numpy) of whether a fatal accident
    harms more than the one person killed, trained on January–October and tested on November–
    December: the model as JSON-ready weights, and its test metrics."""
    rows = data.to_pylist()
    harmed = np.array([r["deaths"] >= 2 or (r["injured"] or 0) >= 1 for r in rows], dtype=float)
    late = np.array([r["occurred_at"].month >= 11 for r in rows])
    train = [r for r, held in zip(rows, late, strict=True) if not held]
    levels = {
        f: sorted(v for v in {r[f] for r in train} if sum(r[f] == v for r in train) >= RARE)
        for f in RISK_FEATURES
    }
    names = [f"{f}={v}" for f in RISK_FEATURES for v in levels[f]]
    x, y = np.array([encode(levels, r) for r in rows]), harmed
    weights = np.zeros(x.shape[1])
    ridge = np.eye(x.shape[1])
    ridge[0, 0] = 0.0  # the intercept is not shrunk
    fit_x, fit_y = x[~late], y[~late]
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-fit_x @ weights))
        gradient = fit_x.T @ (p - fit_y) + ridge @ weights
        hessian = fit_x.T @ (fit_x * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    test_p = 1.0 / (1.0 + np.exp(-x[late] @ weights))
    test_y = y[late]
    model = {
        "kind": "logistic_regression",
        "target": "deaths >= 2 or injured >= 1",
        "intercept": float(weights[0]),
        "coefficients": dict(zip(names, (float(w) for w in weights[1:]), strict=True)),
        "features": list(RISK_FEATURES),
        "levels": levels,
    }
    test = "2020-11..12 (test)"
    figures = [
        ("auc", round(auc(test_y, test_p), 4), test),
        ("log_loss", round(log_loss(test_y, test_p), 4), test),
        ("base_rate", round(float(test_y.mean()), 4), test),
        ("train_rows", int((~late).sum()), "2020-01..10"),
    ]
    metrics = [{"name": n, "value": v, "dataset": ACCIDENTS, "split": s} for n, v, s in figures]
    return {"model": model, "metrics": metrics}


def encode(levels: dict[str, list[str]], row: dict[str, Any]) -> list[float]:
    """A row as the model's inputs: 1 (the intercept), then one 0/1 per known category."""
    return [1.0] + [float(row.get(f) == v) for f in RISK_FEATURES for v in levels[f]]


def score(model: dict[str, Any], row: dict[str, Any]) -> float:
    """The probability the JSON model gives a case (what a reusing agency computes)."""
    total = model["intercept"] + sum(
        w
        for name, w in model["coefficients"].items()
        if row.get(name.split("=", 1)[0]) == name.split("=", 1)[1]
    )
    return 1.0 / (1.0 + math.exp(-total))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """The area under the ROC curve: the chance a harmed case scores above an unharmed one
    (ties count half)."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (len(pos) * len(neg)))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """The mean negative log-likelihood of the outcomes."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
