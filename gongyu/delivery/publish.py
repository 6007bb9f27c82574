"""Publish: stage the released rows as an Iceberg snapshot, audit it, then move `main` to it."""

from __future__ import annotations

from contextlib import suppress

from catalog.deliveries import Delivery
from catalog.lakehouse import Audit, Auditor, PublishConflict
from catalog.privacy_scan import raw_identifier_auditor
from gongyu.delivery.admit import Admitted
from gongyu.platform import Platform
from quality.gate import GateRun
from quality.privacy.release import released
from quality.results import CheckKind, CheckResult

# Each conflict means another writer published; several workers may share one table.
PUBLISH_ATTEMPTS = 20


def publish(
    platform: Platform,
    admitted: Admitted,
    delivery: Delivery,
    run: GateRun,
    auditors: list[Auditor],
) -> int | None:
    """Publish a delivery that passed the gate; returns its snapshot id, or None when the staged
    snapshot failed its audit. A delivery already published (by a killed run) is never appended
    twice; when another writer's commit lands first, the rows are staged again."""
    contract = admitted.contract
    snapshot_id = platform.lakehouse.published(contract, delivery.delivery_id)
    if snapshot_id is not None:
        return snapshot_id
    summary = snapshot_summary(admitted, run)
    # A product's snapshot names what it was built from, so its version can be rebuilt as of them.
    summary |= {f"input.{table}": str(snapshot) for table, snapshot in run.result.inputs.items()}
    if run.pseudonyms is not None:
        summary["pseudonym-key-version"] = str(run.pseudonyms.version)
    auditors = [*auditors, raw_identifier_auditor(contract)]

    def attempt() -> int | None:
        assert run.typed is not None, "only a gate run that typed its rows is published"
        # A fresh stream per attempt: the spill is read again and released anew.
        data = released(run.typed, contract, run.pseudonyms, run.withheld)
        rows = run.result.rows - len(run.withheld)
        staged = platform.lakehouse.stage(contract, delivery.delivery_id, data, summary, rows=rows)
        audit = platform.lakehouse.audit(staged, auditors)
        if not audit.passed:
            platform.lakehouse.discard(staged)
            run.result.checks.append(audit_check(audit))
            return None
        try:
            published = platform.lakehouse.publish(staged)
        except PublishConflict:
            platform.lakehouse.discard(staged)
            raise
        run.result.checks.append(audit_check(audit))
        return published

    for _ in range(PUBLISH_ATTEMPTS - 1):
        with suppress(PublishConflict):
            return attempt()
    return attempt()  # the last attempt's conflict is raised


def snapshot_summary(admitted: Admitted, run: GateRun) -> dict[str, str]:
    """What the snapshot records of its delivery: contract, rows and the gate's check counts."""
    gate = run.result
    return {
        "contract-version": admitted.contract.version,
        "contract-sha256": admitted.admission.sha256,
        "rows": str(gate.rows),
        "rows-withheld": str(len(run.withheld)),
        **{f"checks-{k}": str(v) for k, v in gate.counts().items()},
    }


def audit_check(audit: Audit) -> CheckResult:
    """The staged snapshot's audit as a check of the delivery's report."""
    return CheckResult(
        kind=CheckKind.audit,
        rule="audit:staged-snapshot",
        passed=audit.passed,
        count=len(audit.problems),
        key="audit.passed" if audit.passed else "audit.failed",
        hint_key=None if audit.passed else "audit.failed.hint",
        # The lakehouse's audit says what it found in its own (English) words.
        params={"rows": audit.rows, "problems": "; ".join(audit.problems)},
    )
