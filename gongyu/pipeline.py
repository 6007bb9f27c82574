"""A delivery's way: gate → stage → audit → publish, or quarantine with a report."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from pydantic import BaseModel

from catalog.deliveries import Delivery, DeliveryState
from catalog.lakehouse import Auditor, PublishConflict
from contracts.model import Classification, Contract
from gongyu.lineage import DeliveryLineage
from gongyu.platform import Platform
from quality.gate import GateRun, run_gate
from quality.privacy.release import released
from quality.privacy.scan import raw_identifier_auditor
from quality.report import report_json, report_text
from quality.results import CheckKind, CheckResult, GateResult, SourceInfo

# Each conflict means another writer published; several workers may share one table.
PUBLISH_ATTEMPTS = 20
# Runs that stopped (killed, or an error) before a delivery is quarantined, so that a file
# that kills its worker every time cannot hold its dataset's queue for ever.
RUN_ATTEMPTS = 5


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


def process_delivery(
    platform: Platform, delivery_id: str, auditors: list[Auditor] | None = None
) -> Outcome:
    """Take one delivery through the gate into the lakehouse, or into quarantine."""
    started = time.perf_counter()
    with platform.deliveries.held(delivery_id) as delivery:
        lineage = DeliveryLineage(platform, delivery)
        lineage.started()
        work = platform.workspace.staging / delivery.delivery_id
        shutil.rmtree(work, ignore_errors=True)  # a killed run's spill: read nothing of it
        try:
            # The gate's readers open paths: a bucket's object is read from a local copy.
            with platform.landing.local(delivery.landing_key) as source:
                outcome = _process(platform, delivery, source, work, auditors or [], started)
        except Exception as error:
            lineage.crashed(error)
            raise
        finally:
            # The spill is derived data: gone once the delivery is published or quarantined.
            shutil.rmtree(work, ignore_errors=True)
    lineage.finished(outcome)
    return outcome


def _process(
    platform: Platform,
    delivery: Delivery,
    source: Path,
    work: Path,
    auditors: list[Auditor],
    started: float,
) -> Outcome:
    contract = platform.contract(delivery.dataset_id)
    admission = platform.contract_versions.admit(contract)
    if delivery.attempts > RUN_ATTEMPTS:
        run = _unread(source, contract, _gave_up(delivery))
    elif admission.check.passed:
        run = run_gate(source, contract, sample_rows=platform.settings.sample_rows, work=work)
    else:  # no row is read under a refused contract
        run = _unread(source, contract)
    gate = run.result
    gate.checks.insert(0, admission.check)
    snapshot_id = None
    if gate.passed and run.typed is not None:
        counts = gate.counts()
        keyring = platform.keyring()
        released_rows = gate.rows - len(run.withheld)
        summary = {
            "contract-version": contract.version,
            "contract-sha256": admission.sha256,
            "rows": str(gate.rows),
            "rows-withheld": str(len(run.withheld)),
            **{f"checks-{k}": str(v) for k, v in counts.items()},
        }
        if contract.classified(Classification.direct_identifier):
            summary["pseudonym-key-version"] = str(keyring.current)
        auditors = [*auditors, raw_identifier_auditor(contract)]
        # A run killed after moving `main` left it published: record that, never append twice.
        snapshot_id = platform.lakehouse.published(contract, delivery.delivery_id)
        for attempt in range(PUBLISH_ATTEMPTS if snapshot_id is None else 0):
            # A fresh stream per attempt: the spill is read again and released anew.
            data = released(run.typed, contract, keyring, run.withheld)
            try:
                staged = platform.lakehouse.stage(
                    contract, delivery.delivery_id, data, summary, rows=released_rows
                )
            except PublishConflict:  # another writer's commit landed first: stage again
                if attempt == PUBLISH_ATTEMPTS - 1:
                    raise
                continue
            audit = platform.lakehouse.audit(staged, auditors)
            gate.checks.append(
                CheckResult(
                    kind=CheckKind.audit,
                    rule="audit:staged-snapshot",
                    passed=audit.passed,
                    count=len(audit.problems),
                    message="; ".join(audit.problems)
                    or f"staged snapshot holds {audit.rows:,} rows as expected",
                    hint="" if audit.passed else "re-deliver; if it persists, tell the operator",
                )
            )
            if not audit.passed:
                platform.lakehouse.discard(staged)
                break
            try:
                snapshot_id = platform.lakehouse.publish(staged)
                break
            except PublishConflict:
                platform.lakehouse.discard(staged)
                gate.checks.pop()
                if attempt == PUBLISH_ATTEMPTS - 1:
                    raise
    prefix = results_prefix(delivery)
    if run.validation is not None:
        platform.results.put_text(prefix + "validation.json", json.dumps(run.validation, indent=1))
        platform.results.put_text(prefix + "suite.json", json.dumps(run.suite, indent=1))
    report = report_text(gate, contract)
    platform.results.put_text(
        prefix + "report.json",
        json.dumps(report_json(gate, contract), ensure_ascii=False, indent=1),
    )
    platform.results.put_text(prefix + "report.txt", report)
    published = snapshot_id is not None
    delivery = platform.deliveries.set_state(
        delivery.delivery_id,
        DeliveryState.published if published else DeliveryState.quarantined,
        reasons=[] if published else [c.message for c in gate.failures if c.blocking],
        rows=gate.rows,
        snapshot_id=str(snapshot_id) if published else None,
        contract_version=contract.version,
        seconds=round(time.perf_counter() - started, 3),
    )
    return Outcome(delivery=delivery, gate=gate, report=report)


def _unread(source: Path, contract: Contract, *checks: CheckResult) -> GateRun:
    """A gate run that read no row of the delivery."""
    unread = SourceInfo(file=source.name, format="not read")
    result = GateResult(
        dataset_id=contract.id,
        contract_version=contract.version,
        source=unread,
        checks=list(checks),
    )
    return GateRun(result=result, typed=None, validation=None, suite=None)


def _gave_up(delivery: Delivery) -> CheckResult:
    """The check that quarantines a delivery whose runs kept stopping before they finished."""
    last = delivery.reasons[-1] if delivery.reasons else "killed (no error was recorded)"
    return CheckResult(
        kind=CheckKind.readable,
        rule="delivery:run-attempts",
        passed=False,
        count=1,
        message=f"{RUN_ATTEMPTS} runs stopped before finishing this delivery; last: {last}",
        hint="check that the file is what the contract describes and re-deliver it; if it is, "
        "tell the operator (the worker logs show why each run stopped)",
    )
