"""Report: keep the gate's results and report beside the delivery, and record how it ended."""

from __future__ import annotations

import json
import time

from pydantic import BaseModel

from catalog.deliveries import Delivery, DeliveryState
from gongyu.delivery.admit import Admitted
from gongyu.platform import Platform
from quality.gate import GateRun
from quality.report import findings, report_json, report_text
from quality.results import GateResult, Sample
from quality.wording import Lang


class Outcome(BaseModel):
    """What happened to one delivery."""

    delivery: Delivery
    gate: GateResult
    report: str

    @property
    def published(self) -> bool:
        """True when the delivery reached `main`."""
        return self.delivery.state == DeliveryState.published


def results_prefix(delivery: Delivery) -> str:
    """Where a delivery's gate results are kept: `<dataset>/<delivery>/`."""
    return f"{delivery.dataset_id}/{delivery.delivery_id}/"


def report(
    platform: Platform,
    admitted: Admitted,
    delivery: Delivery,
    run: GateRun,
    snapshot_id: int | None,
    started: float,
) -> Outcome:
    """Write the GX results and the report (text and JSON) to the results zone, then mark the
    delivery published (with its snapshot) or quarantined (with its blocking reasons)."""
    contract, gate = admitted.contract, run.result
    prefix = results_prefix(delivery)
    if run.validation is not None:
        platform.results.put_text(prefix + "validation.json", json.dumps(run.validation, indent=1))
        platform.results.put_text(prefix + "suite.json", json.dumps(run.suite, indent=1))
    text = report_text(gate, contract)
    platform.results.put_text(
        prefix + "report.json",
        json.dumps(report_json(gate, contract), ensure_ascii=False, indent=1),
    )
    platform.results.put_text(prefix + "report.txt", text)
    published = snapshot_id is not None
    delivery = platform.deliveries.set_state(
        delivery.delivery_id,
        DeliveryState.published if published else DeliveryState.quarantined,
        reasons=[] if published else [c.message for c in findings(gate, contract) if c.blocking],
        rows=gate.rows,
        snapshot_id=str(snapshot_id) if published else None,
        contract_version=contract.version,
        seconds=round(time.perf_counter() - started, 3),
    )
    return Outcome(delivery=delivery, gate=gate, report=text)


class Finding(BaseModel):
    """One finding of a delivery's gate report, in one language."""

    kind: str
    rule: str
    column_label: str | None = None
    blocking: bool
    count: int
    message: str
    hint: str
    samples: list[Sample]


def stored_findings(platform: Platform, delivery: Delivery, lang: Lang) -> list[Finding] | None:
    """The findings of a delivery's `report.json` in `lang`; None when it has none (the gate
    has not run, the delivery was refused before it, or the report predates findings)."""
    text = platform.results.read_text(results_prefix(delivery) + "report.json")
    if text is None:
        return None
    stored = json.loads(text).get("findings")
    if stored is None:
        return None
    # Each finding keeps its English message and hint; `text` has them in every language.
    return [Finding.model_validate({**f, **(f.get("text") or {}).get(lang, {})}) for f in stored]


def reasons(platform: Platform, delivery: Delivery, lang: Lang) -> list[str]:
    """Why a delivery was quarantined, in `lang`: its report's blocking findings, else the
    ledger's own words (e.g. a run that stopped)."""
    if delivery.state != DeliveryState.quarantined:
        return delivery.reasons
    found = stored_findings(platform, delivery, lang)
    if not found:
        return delivery.reasons
    return [f.message for f in found if f.blocking] or delivery.reasons
