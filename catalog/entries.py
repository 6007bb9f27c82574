"""What the catalog shows, as data: one model per page, shared by the web pages and the JSON API.

Built by `api.browse.service.CatalogService` for one viewer (what a viewer may see depends on
their agency); the web pages render these models, the JSON API returns them as they are.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from catalog.freshness import Freshness, UpdateCycle
from contracts.licences import LICENCES, Licence
from contracts.model import AccessLevel, Classification, Contract, Coverage, English


class AgencyCard(BaseModel):
    """An agency in lists: names and how many datasets the viewer can see from it."""

    id: str
    name: str
    name_en: str
    contact: str
    sectors: list[str]
    datasets: int


class SectorCard(BaseModel):
    """A sector leadership group in lists."""

    id: str
    name: str
    name_en: str
    secretariat: AgencyCard
    agencies: list[AgencyCard]
    datasets: int


class Kind(StrEnum):
    """What a catalog entry is: an agency's delivered dataset or a joint data product."""

    dataset = "dataset"
    product = "product"


class DatasetSummary(BaseModel):
    """A dataset in lists and search results."""

    id: str
    kind: Kind = Field(
        Kind.dataset, description="dataset, or product: a joint product built by SQL over others"
    )
    title: str
    description: str | None = None
    sector: str
    sector_name: str
    agency: str
    agency_name: str
    access: AccessLevel
    tags: list[str] = Field(default_factory=list)
    freshness: str = Field(description="fresh, stale, never_published, no_sla or closed")
    last_published_at: datetime | None = None
    readable: bool = Field(description="Whether the viewer may query its rows.")


class SectorPage(BaseModel):
    """A sector's page: its card and the datasets of the sector the viewer can see."""

    sector: SectorCard
    datasets: list[DatasetSummary]


class AgencyPage(BaseModel):
    """An agency's page: its card, its sectors and the datasets of it the viewer can see."""

    agency: AgencyCard
    sectors: list[SectorCard]
    datasets: list[DatasetSummary]


class Publication(BaseModel):
    """A recent event for the home page: a delivery published or quarantined."""

    dataset_id: str
    title: str
    agency: str
    delivery_id: str
    state: str
    rows: int | None = None
    at: datetime
    reasons: list[str] = Field(default_factory=list)


class Home(BaseModel):
    """The home page: the five sectors, recent publications and quarantines."""

    sectors: list[SectorCard]
    recent_published: list[Publication]
    recent_quarantined: list[Publication]
    datasets: int


class PublishedAs(StrEnum):
    """How the privacy gate publishes a column's values."""

    as_delivered = "as_delivered"  # the delivered values, typed
    pseudonymised = "pseudonymised"  # direct identifiers: keyed pseudonyms (`p1_` + 32 hex)
    generalised = "generalised"  # quasi-identifiers coarsened to `generalisation`'s level
    withheld = "withheld"  # generalised to `suppress`: every value is NULL


class ColumnEntry(BaseModel):
    """One column of a dataset's schema as the viewer sees it."""

    name: str
    physical_name: str
    type: str = Field(description="The published type (generalised columns change theirs).")
    description: str | None = None
    classification: Classification
    required: bool = False
    primary_key: bool = False
    published_as: PublishedAs = PublishedAs.as_delivered
    generalisation: str | None = Field(
        None,
        description="The contract's generalisation level when `published_as` is generalised or "
        "withheld (e.g. age_band_5, month, round_10, suppress).",
    )
    examples: list[Any] = Field(
        default_factory=list,
        description="Examples of the published values: the contract's examples passed through "
        "the gate's own generalisation, a pseudonym's shape for identifiers; never a raw value "
        "of a pseudonymised, generalised or withheld column, none for a masked one.",
    )
    masked: bool = Field(False, description="NULL for this viewer (sensitive, no grant).")


class ContractVersionEntry(BaseModel):
    """A recorded contract version, with its changes from the one before."""

    version: str
    recorded_at: datetime
    table_version: int
    iceberg_table: str
    changes: list[dict[str, str]] = Field(
        default_factory=list, description="[{kind, path, message}] from contracts.diff."
    )


class QualityPoint(BaseModel):
    """One delivery's gate outcome, for the quality history chart."""

    delivery_id: str
    at: datetime
    state: str
    rows: int | None = None
    passed: int = 0
    failed: int = 0
    warnings: int = 0
    contract_version: str | None = None
    reasons: list[str] = Field(default_factory=list)


class SnapshotEntry(BaseModel):
    """A published snapshot: what `as_of` can name."""

    snapshot_id: int
    table: str
    at: datetime
    rows: int | None = None
    rows_withheld: int | None = Field(
        None, description="Delivered rows the gate withheld for k-anonymity (None: not recorded)."
    )
    delivery_id: str | None = None
    contract_version: str | None = None
    current: bool = False


class LineageNode(BaseModel):
    """A node of the lineage graph: a delivery, a table (version), a reader, a product's input
    or a product reading the dataset."""

    id: str
    kind: str = Field(description="delivery, table, reader, input or product")
    label: str


class LineageEdge(BaseModel):
    """A directed edge of the lineage graph."""

    source: str
    target: str
    label: str = ""


class Lineage(BaseModel):
    """Deliveries (and a product's inputs) → table versions → readers (agencies whose queries
    read it) and the products built on it."""

    nodes: list[LineageNode]
    edges: list[LineageEdge]


class Usage(BaseModel):
    """Reads of a dataset by one agency, from the audit log."""

    agency: str
    queries: int
    rows: int
    last_at: datetime


class Sample(BaseModel):
    """Sample rows read through the SQL API's policy for the viewer (masked, filtered)."""

    columns: list[str]
    rows: list[list[Any]]
    note: str | None = Field(None, description="Why there are no rows (e.g. no access).")


class LicenceEntry(BaseModel):
    """The licence a contract states (`customProperties.licence`), named and linked."""

    id: Licence
    title_ko: str
    title_en: str
    url: str | None = None
    isopen: bool = Field(description="Open by the Open Definition (as CKAN's `isopen`).")

    @classmethod
    def of(cls, contract: Contract) -> LicenceEntry | None:
        """The contract's licence, or None when it states none."""
        if contract.licence is None:
            return None
        info = LICENCES[contract.licence]
        url = str(info.url) if info.url else None
        return cls(
            id=contract.licence,
            title_ko=info.title_ko,
            title_en=info.title_en,
            url=url,
            isopen=info.isopen,
        )


class CoverageEntry(Coverage):
    """The period the data covers (`customProperties.temporalCoverage`) and how pages write it."""

    period: str | None = Field(
        None, description="e.g. 2020, 2018–2022, 2021-09-27; None when the contract states none."
    )


class ProductInput(BaseModel):
    """A dataset a joint product reads, and whose it is."""

    id: str = Field(description="The input's dataset id.")
    table: str = Field(description="The SQL name the product's query reads: <sector>.<table>.")
    title: str | None = Field(
        None, description="None when the input's entry does not exist for the viewer."
    )
    agency: str | None = Field(None, description="None for an input no longer in the catalog.")
    agency_name: str | None = None
    sector: str
    sector_name: str
    access: AccessLevel | None = Field(None, description="None when `visible` is false.")
    visible: bool = Field(description="Whether the viewer may open the input's page.")


class InputSnapshot(BaseModel):
    """The snapshot of one input a product's build read (its `as_of`)."""

    id: str = Field(description="The input's dataset id.")
    table: str = Field(description="<sector>.<table>")
    snapshot_id: int


class ProductBuild(BaseModel):
    """One build of a joint product (a delivery of its dataset): when, how it ended, how many
    rows, the input snapshots it read and the snapshot it published."""

    delivery_id: str
    at: datetime = Field(description="When the build was made (its delivery was received).")
    finished_at: datetime = Field(description="When the gate last moved it (its state's time).")
    state: str = Field(description="received, validating, published or quarantined")
    rows: int | None = None
    inputs: list[InputSnapshot] = Field(default_factory=list)
    snapshot_id: int | None = Field(None, description="The snapshot it published, if it did.")
    contract_version: str | None = None
    reasons: list[str] = Field(
        default_factory=list,
        description="Why it was quarantined; shown to the product's agency and operators only.",
    )


class ProductAggregate(BaseModel):
    """A product's declared aggregate: its count column held to k (the small-cell rule)."""

    count_column: str
    k: int


class ProductEntry(BaseModel):
    """What a joint product's page shows beyond a dataset's: its query, inputs and builds."""

    sql: str = Field(description="The query (DuckDB dialect), run as the product's agency.")
    inputs: list[ProductInput]
    schedule: str | None = Field(None, description="Cron (Korean time) of scheduled rebuilds.")
    aggregate: ProductAggregate | None = None
    builds: list[ProductBuild] = Field(
        default_factory=list, description="Its refresh history, newest first."
    )


class DatasetEntry(BaseModel):
    """Everything the dataset page shows."""

    summary: DatasetSummary
    purpose: str | None = None
    usage_note: str | None = None
    limitations: str | None = None
    steward: str | None = None
    agency_contact: str
    how_to_request: str = Field(description="How to get access when the viewer has none.")
    table: str = Field(description="The SQL name to query: <sector>.<table>.")
    columns: list[ColumnEntry]
    k: int | None = Field(None, description="The contract's k-anonymity, if it has one.")
    rows_withheld: int | None = Field(
        None,
        description="Rows the last publication withheld because their class stayed smaller "
        "than k (from its snapshot; None when not recorded or the contract has no k).",
    )
    versions: list[ContractVersionEntry]
    quality: list[QualityPoint]
    freshness: Freshness
    snapshots: list[SnapshotEntry]
    lineage: Lineage
    usage: list[Usage]
    usage_shown: bool = Field(
        description="Whether usage and readers are shown to this viewer (the owning agency, the "
        "sector's secretariat and operators see them)."
    )
    sample: Sample
    licence: LicenceEntry | None = Field(
        None, description="The contract's licence; None when it states none."
    )
    coverage: CoverageEntry = Field(default_factory=CoverageEntry)
    update_cycle: UpdateCycle | None = Field(
        None, description="How often it is updated (the SLA's frequency); None: no SLA."
    )
    english: English = Field(
        default_factory=English, description="The English title and description, if given."
    )
    product: ProductEntry | None = Field(
        None, description="Its SQL, inputs and builds when it is a joint product (kind product)."
    )
    used_by: list[DatasetSummary] = Field(
        default_factory=list, description="The joint products the viewer sees that read it."
    )


class SearchFilters(BaseModel):
    """Search filters (each optional)."""

    sector: str | None = None
    agency: str | None = None
    access: AccessLevel | None = None
    freshness: str | None = None
    tag: str | None = Field(None, description="Only datasets carrying this tag (exact).")
    kind: Kind | None = Field(None, description="Only datasets, or only joint products.")


class MatchedColumn(BaseModel):
    """A column of a hit whose name, file header or description holds a query word."""

    name: str
    title: str = Field(description="Its Korean header (the file's column name).")
    description: str | None = None
    type: str


class SearchHit(BaseModel):
    """A search result: the dataset, its score and where the words matched."""

    dataset: DatasetSummary
    score: float
    matched: list[str] = Field(default_factory=list, description="Fields that matched.")
    columns: list[MatchedColumn] = Field(
        default_factory=list, description="Columns whose name, header or description matched."
    )
    starter_sql: str | None = Field(
        None,
        description="A first SELECT of the dataset's table (matched columns, a WHERE for a "
        "place or year named); only for datasets the viewer may query.",
    )


class SearchResult(BaseModel):
    """A page of search results."""

    query: str
    filters: SearchFilters
    total: int
    hits: list[SearchHit]
    suggestion: str | None = Field(
        None, description="Did you mean: the query with misspelt words corrected."
    )
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Matches the viewer sees by sector, agency, access and kind (before paging).",
    )
