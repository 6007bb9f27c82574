"""Gongyu's reading of an ODCS contract: the fields the gate, lakehouse and catalog need.

The standard itself is modelled by `open_data_contract_standard`; this module only names what
Gongyu takes from it, including our own `customProperties` (sector, agency, access level,
apply mode, column classification).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import BaseModel, ConfigDict, Field


class AccessLevel(StrEnum):
    """Who may read a published dataset."""

    public = "public"
    sector = "sector"
    restricted = "restricted"
    private = "private"


class ApplyMode(StrEnum):
    """How a delivery applies to its table."""

    replace = "replace"
    append = "append"
    upsert = "upsert"


class Classification(StrEnum):
    """Privacy class of a column."""

    none = "none"
    direct_identifier = "direct_identifier"
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"


class Severity(StrEnum):
    """`error` blocks a delivery; `warning` is recorded."""

    error = "error"
    warning = "warning"


class LogicalType(StrEnum):
    """ODCS logical types Gongyu can store."""

    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    timestamp = "timestamp"


# The Arrow type each logical type is cast to and stored as (Iceberg types follow from it).
ARROW_TYPES: dict[LogicalType, pa.DataType] = {
    LogicalType.string: pa.string(),
    LogicalType.integer: pa.int64(),
    LogicalType.number: pa.float64(),
    LogicalType.boolean: pa.bool_(),
    LogicalType.date: pa.date32(),
    LogicalType.timestamp: pa.timestamp("us"),
}


class QualityRule(BaseModel):
    """One ODCS `quality` entry, with the column it is attached to (None: the whole table)."""

    model_config = ConfigDict(frozen=True)

    column: str | None
    name: str
    severity: Severity
    description: str | None = None
    spec: dict[str, Any] = Field(description="The ODCS quality object as written.")


class Column(BaseModel):
    """One contract property: its name in the lakehouse and in the agency's file."""

    model_config = ConfigDict(frozen=True)

    name: str
    physical_name: str
    logical_type: LogicalType
    description: str | None = None
    required: bool = False
    unique: bool = False
    primary_key_position: int | None = None
    pattern: str | None = None
    minimum: float | int | str | None = None
    maximum: float | int | str | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = Field(None, description="Date/timestamp format, e.g. 'yyyy-MM-dd HH'.")
    enum: tuple[str, ...] | None = Field(None, description="ODCS `enum` values, if declared.")
    classification: Classification = Classification.none
    examples: tuple[Any, ...] = ()

    @property
    def label(self) -> str:
        """How messages name the column: '측정소명 (station_name)', or the name when they match."""
        return (
            self.name if self.physical_name == self.name else f"{self.physical_name} ({self.name})"
        )


def arrow_schema(columns: Iterable[Column]) -> pa.Schema:
    """The Arrow schema deliveries are cast to and tables are written with."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.logical_type]) for c in columns])


class Contract(BaseModel):
    """A dataset's contract as Gongyu uses it; `odcs` keeps the full standard document."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    version: str
    title: str
    description: str | None = None
    sector: str
    agency: str
    access: AccessLevel
    apply_mode: ApplyMode = ApplyMode.replace
    steward: str | None = Field(None, description="E-mail of the team member with a steward role.")
    null_values: tuple[str, ...] = ("",)
    columns: tuple[Column, ...]
    quality: tuple[QualityRule, ...] = ()
    path: Path
    odcs: OpenDataContractStandard

    @property
    def table(self) -> str:
        """The Iceberg identifier: `<sector>.<dataset>`."""
        return f"{self.sector}.{self.id}"

    @property
    def primary_key(self) -> list[str]:
        """Primary-key column names in key order (may be empty)."""
        keyed = [c for c in self.columns if c.primary_key_position is not None]
        return [c.name for c in sorted(keyed, key=lambda c: c.primary_key_position or 0)]

    def column(self, name: str) -> Column:
        """The column with this lakehouse name."""
        return next(c for c in self.columns if c.name == name)
