"""Admit: whether a delivery's rows may be read at all, before the gate opens its file."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.contract_versions import Admission
from catalog.deliveries import Delivery
from contracts.model import Contract
from gongyu.platform import Platform
from quality.results import CheckKind, CheckResult

# Runs that stopped (killed, or an error) before a delivery is quarantined, so that a file
# that kills its worker every time cannot hold its dataset's queue for ever.
RUN_ATTEMPTS = 5


@dataclass(frozen=True)
class Admitted:
    """The contract a delivery runs under, its admission and the checks admitting it made."""

    contract: Contract
    admission: Admission
    checks: list[CheckResult]

    @property
    def readable(self) -> bool:
        """True when the gate may read the delivery's rows (no row is read under a refusal)."""
        return all(check.passed for check in self.checks)


def admit(platform: Platform, delivery: Delivery) -> Admitted:
    """Check the dataset's contract version is admissible and the delivery has runs left."""
    contract = platform.contract(delivery.dataset_id)
    admission = platform.contract_versions.admit(contract)
    checks = [admission.check]
    if delivery.attempts > RUN_ATTEMPTS:
        checks.append(gave_up(delivery))
    return Admitted(contract, admission, checks)


def gave_up(delivery: Delivery) -> CheckResult:
    """The check that quarantines a delivery whose runs kept stopping before they finished."""
    # The ledger's last reason is the worker's own words (an error), shown as they are.
    last = delivery.reasons[-1] if delivery.reasons else "killed (no error was recorded)"
    return CheckResult(
        kind=CheckKind.readable,
        rule="delivery:run-attempts",
        passed=False,
        count=1,
        key="delivery.run_attempts",
        hint_key="delivery.run_attempts.hint",
        params={"attempts": RUN_ATTEMPTS, "last": last},
    )
