"""What the gate finds, as data: every check is a `CheckResult`, a delivery's run a `GateResult`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from contracts.model import Severity
from quality.wording import Param, Phrase, say

ROW = "__row"
"""Column carrying each record's source row number (1 = header line, 2 = first data row)."""
MAX_SAMPLES = 10  # offending records a CheckResult keeps


class CheckKind(StrEnum):
    """The gate's rule families; each becomes one Dagster asset check."""

    contract = "contract"  # the contract version may follow the last one recorded
    readable = "readable"  # the file opens, decodes and parses
    schema = "schema"  # the contract's columns are present
    types = "types"  # every cell casts to its column's type
    required = "required"
    primary_key = "primary_key"
    unique = "unique"
    enum = "enum"
    pattern = "pattern"
    range = "range"
    quality = "quality"  # the contract's own `quality` rules
    audit = "audit"  # the staged snapshot, before it is published
    privacy = "privacy"  # personal identifiers found in columns not declared as such


class Sample(BaseModel):
    """One offending record: its source row number (when known) and the values at fault."""

    row: int | None = None
    values: dict[str, Any] = Field(default_factory=dict)


class CheckResult(BaseModel):
    """The outcome of one rule on one delivery."""

    kind: CheckKind
    rule: str = Field(description="Rule identifier, e.g. 'required:station' or a GX type.")
    column: str | None = None
    severity: Severity = Severity.error
    passed: bool
    count: int = Field(0, description="Offending rows (or 1 for a file-level failure).")
    samples: list[Sample] = Field(default_factory=list, max_length=MAX_SAMPLES)
    message: str = ""
    hint: str = Field("", description="How the steward can fix it.")
    key: str | None = Field(None, description="Message key in quality/messages.yaml.")
    hint_key: str | None = Field(None, description="The hint's key; it takes `params` too.")
    params: dict[str, Param] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _english(self) -> CheckResult:
        # Keyed checks keep their English in `message`/`hint` for Dagster, lineage and the CLI.
        if self.key and not self.message:
            self.message = say(self.phrase(self.key), "en")
        if self.hint_key and not self.hint:
            self.hint = say(self.phrase(self.hint_key), "en")
        return self

    def phrase(self, key: str) -> Phrase:
        """`key` with this check's values; `count` is always one of them."""
        return Phrase(key=key, params={"count": self.count, **self.params})

    def reworded(self, key: str, **params: Param) -> CheckResult:
        """This check with another message (the hint stays): `params` are added to its own."""
        data = self.model_dump(exclude={"message", "key", "params"})
        return CheckResult(**data, key=key, params={**self.params, **params})

    @property
    def blocking(self) -> bool:
        """A failed error-severity check stops the delivery."""
        return not self.passed and self.severity == Severity.error


class SourceInfo(BaseModel):
    """How a delivery file was read."""

    file: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    rows: int = 0


class GateResult(BaseModel):
    """Every check of one delivery, plus what was read; `passed` decides publish or quarantine."""

    dataset_id: str
    contract_version: str
    source: SourceInfo
    checks: list[CheckResult]
    rows: int = 0
    inputs: dict[str, int] = Field(
        default_factory=dict,
        description="A joint product's build: the snapshot read of each input, `<sector>.<table>`.",
    )

    @property
    def passed(self) -> bool:
        """True when no blocking check failed."""
        return not any(c.blocking for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        """Failed checks, blocking ones first."""
        failed = [c for c in self.checks if not c.passed]
        return sorted(failed, key=lambda c: c.severity != Severity.error)

    def counts(self) -> dict[str, int]:
        """Check counts for snapshot summaries: passed, failed, warnings."""
        return {
            "passed": sum(c.passed for c in self.checks),
            "failed": sum(c.blocking for c in self.checks),
            "warnings": sum(not c.passed and c.severity == Severity.warning for c in self.checks),
        }


class ReadResult(BaseModel):
    """A delivery file read into Arrow and cast to the contract's types.

    The typed delivery has the contract's column names and types plus `__row`. Read into a work
    folder it is `spill`, an Arrow file (the gate's way: nothing held in memory); otherwise
    it is kept in memory. `table` gives it as a pyarrow Table either way (read back from the
    spill on first use) and is None when the file could not be read at all (then `checks`
    says why). Cells that failed to cast are null and reported in a failed `types` check.
    """

    model_config = {"arbitrary_types_allowed": True}

    checks: list[CheckResult] = Field(default_factory=list)
    source: SourceInfo
    spill: Path | None = None
    loaded: Any = Field(None, exclude=True, repr=False)  # pyarrow.Table; Any: not inspected

    @property
    def table(self) -> Any:
        """The typed delivery as a pyarrow Table, or None when the file was unreadable."""
        if self.loaded is None and self.spill is not None:
            from quality.spill import load

            self.loaded = load(self.spill)
        return self.loaded

    @property
    def typed(self) -> Any:
        """The typed delivery where it is: the spill's path, or the in-memory table, or None."""
        return self.spill if self.spill is not None else self.loaded
