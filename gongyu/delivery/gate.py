"""Gate: read an admitted delivery under its contract and run every check, privacy included."""

from __future__ import annotations

from pathlib import Path

from gongyu.delivery.admit import Admitted
from gongyu.platform import Platform
from quality.gate import GateRun, run_gate
from quality.results import GateResult, SourceInfo


def gate(platform: Platform, admitted: Admitted, source: Path, work: Path) -> GateRun:
    """The gate's run over `source` (spilled under `work`), the admission's checks first; a
    refused delivery is not read at all."""
    contract = admitted.contract
    if admitted.readable:
        # The keyring now: the gate begins any direct identifiers' pseudonyms meanwhile.
        sample_rows = platform.settings.sample_rows
        keyring = platform.keyring()
        run = run_gate(source, contract, sample_rows=sample_rows, work=work, keyring=keyring)
    else:
        unread = SourceInfo(file=source.name, format="not read")
        result = GateResult(
            dataset_id=contract.id, contract_version=contract.version, source=unread, checks=[]
        )
        run = GateRun(result=result, typed=None, validation=None, suite=None)
    run.result.checks[0:0] = admitted.checks
    return run
