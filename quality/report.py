"""The quarantine report: what failed, where (column, source rows) and how to fix it.

`report_json` is for machines (the catalog, the HTTP API, the steward's page): every failure
with its message key and values, and the `findings` a steward reads, each in Korean and English.
`report_text` is the English text for a terminal or an e-mail. Both list blocking failures
first, then warnings; `findings` groups many columns failing their types into one.
"""

from __future__ import annotations

from typing import Any

from contracts.model import Contract
from quality.results import MAX_SAMPLES, CheckKind, CheckResult, GateResult
from quality.wording import both, listed

MAX_VALUE = 60  # characters of a cell shown in the text report
# From this many columns failing their types, the report says so once: a shifted or foreign
# file fails nearly every column, and ninety findings hide the one cause.
GROUP_TYPES = 4
RULE = "─" * 72
FILE_LEVEL = {
    CheckKind.contract,
    CheckKind.readable,
    CheckKind.schema,
    CheckKind.quality,
    CheckKind.audit,
}


def outcome(gate: GateResult) -> str:
    """QUARANTINED, PUBLISHED with warnings, or PUBLISHED."""
    if not gate.passed:
        return "QUARANTINED"
    return "PUBLISHED with warnings" if gate.failures else "PUBLISHED"


def _labels(contract: Contract | None) -> dict[str, str]:
    """Lakehouse name → '측정소명 (station_name)' when the contract is at hand."""
    if contract is None:
        return {}
    return {c.name: c.label for c in contract.columns}


def _failure_json(check: CheckResult, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": check.kind.value,
        "rule": check.rule,
        "column": check.column,
        "column_label": labels.get(check.column or "", check.column),
        "severity": check.severity.value,
        "blocking": check.blocking,
        "count": check.count,
        "message": check.message,
        "hint": check.hint,
        "samples": [s.model_dump() for s in check.samples[:MAX_SAMPLES]],
        "key": check.key,
        "hint_key": check.hint_key,
        "params": check.model_dump(mode="json", include={"params"})["params"],
        "text": both(check),
    }


def findings(gate: GateResult, contract: Contract | None = None) -> list[CheckResult]:
    """The failures as a steward reads them: many columns failing their types become one
    finding naming a few of them (the failures themselves stay in `report_json`)."""
    failures = gate.failures
    typed = [c for c in failures if c.kind == CheckKind.types and c.blocking]
    if len(typed) < GROUP_TYPES:
        return failures
    names = [f"'{c.params.get('physical', c.column)}'" for c in typed]
    grouped = CheckResult(
        kind=CheckKind.types,
        rule="types",
        passed=False,
        count=sum(c.count for c in typed),
        samples=[c.samples[0] for c in typed if c.samples][:MAX_SAMPLES],
        key="types.many",
        hint_key="types.many.hint",
        params={
            "failed": len(typed),
            "total": len(contract.columns) if contract else len(typed),
            "names": listed(names),
        },
    )
    grouped_ids = {id(c) for c in typed}
    at = next(i for i, c in enumerate(failures) if id(c) in grouped_ids)
    rest = [c for c in failures if id(c) not in grouped_ids]
    return [*rest[:at], grouped, *rest[at:]]


def report_json(gate: GateResult, contract: Contract | None = None) -> dict[str, Any]:
    """The report as a JSON-able dict; `contract` adds Korean column labels."""
    labels = _labels(contract)
    return {
        "dataset": gate.dataset_id,
        "contract_version": gate.contract_version,
        "outcome": outcome(gate),
        "passed": gate.passed,
        "source": gate.source.model_dump(),
        "rows": gate.rows,
        "inputs": gate.inputs,
        "counts": gate.counts(),
        "failures": [_failure_json(c, labels) for c in gate.failures],
        "findings": [_failure_json(c, labels) for c in findings(gate, contract)],
    }


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    text = str(value).replace("\n", "⏎")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _failure_text(n: int, check: CheckResult, labels: dict[str, str]) -> list[str]:
    # File-level failures (unreadable, missing columns, a row-count rule) count 1, not rows.
    per_row = check.samples or check.kind not in FILE_LEVEL
    rows = f"  {check.count:,} row{'s' if check.count != 1 else ''}" if per_row else ""
    lines = [f"{n}. {check.rule}  [{check.kind.value}]{rows}"]
    lines.append(f"   What:  {check.message}")
    if check.samples:
        shown = len(check.samples[:MAX_SAMPLES])
        more = f" (first {shown} of {check.count:,})" if check.count > shown else ""
        lines.append(f"   Where{more}:")
        for sample in check.samples[:MAX_SAMPLES]:
            where = f"row {sample.row:,}" if sample.row is not None else "row ?"
            cells = "   ".join(f"{labels.get(k, k)} = {_cell(v)}" for k, v in sample.values.items())
            lines.append(f"     {where:<11} {cells}".rstrip())
    if check.hint:
        lines.append(f"   Fix:   {check.hint}")
    return lines


def report_text(gate: GateResult, contract: Contract | None = None) -> str:
    """The report for people: header, then each failing rule with its rows and fix."""
    labels = _labels(contract)
    counts = gate.counts()
    src = gate.source
    read = ", ".join(
        p
        for p in (
            src.format,
            src.encoding,
            f"delimiter {src.delimiter!r}" if src.delimiter else None,
        )
        if p
    )
    verdict = outcome(gate)
    lines = [
        f"Gongyu delivery report: {verdict}",
        RULE,
        f"Dataset    {gate.dataset_id} (contract version {gate.contract_version})",
        f"File       {src.file}" + (f" ({read})" if read else ""),
        *(
            [f"Inputs     {', '.join(f'{t} @ snapshot {s}' for t, s in gate.inputs.items())}"]
            if gate.inputs
            else []
        ),
        f"Rows       {gate.rows:,}",
        f"Checks     {counts['passed']} passed, {counts['failed']} blocking, "
        f"{counts['warnings']} warning{'s' if counts['warnings'] != 1 else ''}",
        f"Outcome    {verdict}",
    ]
    if verdict == "QUARANTINED":
        lines.append("           Nothing was published; the last published version keeps serving.")
    shown = findings(gate, contract)
    blocking = [c for c in shown if c.blocking]
    warnings = [c for c in shown if not c.blocking]
    if gate.failures:
        lines.append("           Row numbers count the header as row 1, as a spreadsheet does.")
    for title, checks in (
        ("BLOCKING: fix these, then deliver again", blocking),
        ("WARNINGS: recorded; they do not stop the delivery", warnings),
    ):
        if not checks:
            continue
        lines += ["", title, RULE]
        for i, check in enumerate(checks, 1):
            lines += [*_failure_text(i, check, labels)] + ([""] if i < len(checks) else [])
    if not gate.failures:
        lines += ["", "Every check passed."]
    return "\n".join(lines).rstrip() + "\n"
