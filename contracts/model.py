"""Gongyu's reading of an ODCS contract: the fields the gate, lakehouse and catalog need.

The standard itself is modelled by `open_data_contract_standard`; this module only names what
Gongyu takes from it, including our own `customProperties` (sector, agency, access level,
apply mode, column classification).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import BaseModel, ConfigDict, Field

from contracts.licences import Licence


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


class IdentifierKind(StrEnum):
    """Kinds of personal identifier the privacy gate detects (`quality.privacy.detectors`)."""

    resident_registration_number = "resident_registration_number"
    foreigner_registration_number = "foreigner_registration_number"
    business_registration_number = "business_registration_number"
    mobile_phone = "mobile_phone"
    landline_phone = "landline_phone"
    email = "email"
    payment_card = "payment_card"
    person_name = "person_name"


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
    allowed_identifiers: tuple[IdentifierKind, ...] = Field(
        (),
        description="Identifier kinds this column may hold unpseudonymised, e.g. an office's "
        "published landline number (`customProperties.allowedIdentifiers`).",
    )
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


GENERALISATION_LEVELS = (
    "age_band_5",
    "age_band_10",
    "month",
    "year",
    "hour",
    "day",
    "first_token",
    "round_N",
    "suppress",
)
# What a generalised column is published as; levels not listed keep the column's type.
GENERALISED_TYPES: dict[str, LogicalType] = {
    "age_band_5": LogicalType.string,
    "age_band_10": LogicalType.string,
    "month": LogicalType.string,
    "year": LogicalType.string,
    "first_token": LogicalType.string,
    "day": LogicalType.date,
}


class Privacy(BaseModel):
    """A contract's privacy settings (`customProperties.privacy`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    k: int | None = Field(
        None, ge=2, description="k-anonymity over the quasi-identifier columns; None: not checked."
    )
    generalise: dict[str, str] = Field(
        default_factory=dict,
        description="Column -> level applied before k is checked and the table is published.",
    )
    max_suppressed: float = Field(
        0.0,
        ge=0.0,
        le=0.05,
        alias="maxSuppressed",
        description="Share of rows that may be withheld from the published table when their "
        "class stays smaller than k after generalisation (local suppression, as in ARX).",
    )


class Sla(BaseModel):
    """Freshness promised by ODCS `slaProperties`: a delivery every `frequency`, `latency` late."""

    model_config = ConfigDict(frozen=True)

    frequency: dt.timedelta | None = None
    latency: dt.timedelta = dt.timedelta(0)

    @property
    def max_age(self) -> dt.timedelta | None:
        """How old the last publication may be before the dataset is stale (None: no promise)."""
        return None if self.frequency is None else self.frequency + self.latency


class ApprovalPolicy(StrEnum):
    """Who decides a request to use a dataset (`customProperties.approval.policy`)."""

    automatic = "automatic"  # agencies of the dataset's sector get it at once; others: owner
    owner = "owner"  # a steward of the owning agency decides
    owner_and_secretariat = "owner_and_secretariat"  # that steward and the sector's secretariat


class Approval(BaseModel):
    """How requests for the dataset are decided, and the longest period a grant may run."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    policy: ApprovalPolicy = ApprovalPolicy.owner
    max_days: int = Field(365, alias="maxDays", ge=1, le=3650)


class Coverage(BaseModel):
    """The period the data covers (`customProperties.temporalCoverage`); an open end is ongoing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date | None = None
    end: dt.date | None = None


class English(BaseModel):
    """The dataset's title and description in English (`customProperties.english`): the ODCS
    `name` and `description.purpose` are Korean."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str | None = None
    description: str | None = None


class Aggregate(BaseModel):
    """A product that publishes counts of people, not their rows (`product.aggregate`): every
    output row's `countColumn` is 0 or at least `k` (small cells are the disclosure risk)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    count_column: str = Field(alias="countColumn")
    k: int = Field(ge=2, le=1000)


class Product(BaseModel):
    """A joint data product (`customProperties.product`): SQL over published datasets, built by
    Dagster downstream of them, its output held to the contract like any delivery."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    sql: str = Field("", description="The query (DuckDB dialect); read from `sqlFile` if set.")
    sql_file: str | None = Field(
        None, alias="sqlFile", description="A `.sql` file beside the contract holding the query."
    )
    schedule: str | None = Field(
        None, description="Cron expression (Korean time) of rebuilds besides its inputs' news."
    )
    aggregate: Aggregate | None = None
    inputs: tuple[str, ...] = Field(
        (), description="Dataset ids the query reads (from its SQL, never written by hand)."
    )


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
    privacy: Privacy = Privacy()
    sla: Sla = Sla()
    approval: Approval = Approval()
    licence: Licence | None = Field(None, description="`customProperties.licence`; None: unstated.")
    coverage: Coverage = Coverage()
    english: English = English()
    product: Product | None = Field(None, description="Set when the dataset is a joint product.")
    path: Path
    odcs: OpenDataContractStandard
    text: str = Field("", repr=False, description="The YAML text the contract was read from.")

    @property
    def table(self) -> str:
        """The Iceberg identifier of the contract's table version (its major version):
        `<sector>.<dataset>` for major 1, `<sector>.<dataset>_v<major>` for any other.
        """
        major = int(self.version.split(".", 1)[0])
        return f"{self.sector}.{self.id}" + ("" if major == 1 else f"_v{major}")

    @property
    def kind(self) -> str:
        """`product` for a joint data product, `dataset` for an agency's deliveries."""
        return "product" if self.product is not None else "dataset"

    @property
    def primary_key(self) -> list[str]:
        """Primary-key column names in key order (may be empty)."""
        keyed = [c for c in self.columns if c.primary_key_position is not None]
        return [c.name for c in sorted(keyed, key=lambda c: c.primary_key_position or 0)]

    def column(self, name: str) -> Column:
        """The column with this lakehouse name."""
        return next(c for c in self.columns if c.name == name)

    def classified(self, classification: Classification) -> list[str]:
        """Names of the columns with this privacy classification, in contract order."""
        return [c.name for c in self.columns if c.classification == classification]

    @property
    def published_columns(self) -> tuple[Column, ...]:
        """The columns as the published table holds them: pseudonyms and generalised values.

        Direct identifiers become text pseudonyms; generalised columns take their level's type.
        """
        out = []
        for c in self.columns:
            level = self.privacy.generalise.get(c.name)
            if c.classification == Classification.direct_identifier:
                c = c.model_copy(update={"logical_type": LogicalType.string})
            elif level in GENERALISED_TYPES:
                c = c.model_copy(update={"logical_type": GENERALISED_TYPES[level]})
            out.append(c)
        return tuple(out)
