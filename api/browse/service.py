"""The catalog for one viewer: the page models of `catalog.entries`, built from the platform.

One facade behind the web pages, the JSON API, DCAT and CKAN. Visibility comes from
`catalog.access.policy`: another agency's `private` dataset does not exist for a viewer (absent from
lists, counts and search, `None` where asked for by id); `readable` is the SQL API's own
verdict, and sample rows are read through the SQL API's sandbox for the viewer.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from api.browse.dataset import DatasetPages
from catalog.access.grants import Grant
from catalog.access.policy import may_read, may_see, sees_deliveries
from catalog.access.principal import Principal, Role
from catalog.deliveries import Delivery, DeliveryState
from catalog.entries import (
    AgencyCard,
    AgencyPage,
    DatasetEntry,
    DatasetSummary,
    Home,
    Kind,
    MatchedColumn,
    Publication,
    SearchFilters,
    SearchHit,
    SearchResult,
    SectorCard,
    SectorPage,
)
from catalog.freshness import assess, last_published
from catalog.history import recent_deliveries, utc
from catalog.search import SearchIndex
from catalog.search.starter import starter_sql
from contracts.model import AccessLevel, Contract
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from sectors.registry import Agency, Sector

RECENT = 10  # publications and quarantines on the home page
FACETS = ("sector", "agency", "access", "kind")


@dataclass
class Catalogued:
    """The contracts the catalog was built from, and what follows from them alone."""

    contracts: dict[str, Contract]
    private: list[Contract]
    products: list[Contract]


class CatalogService:
    """Builds the catalog's page models for a viewer; one per app."""

    def __init__(self, platform: Platform, queries: QueryService) -> None:
        self.platform = platform
        self.queries = queries
        self.pages = DatasetPages(platform, queries)
        self._catalogued: Catalogued | None = None
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._indexed: dict[str, Contract] = {}  # the contracts the index holds
        self._index_lock = threading.Lock()

    # What exists for a viewer.

    def _current(self) -> Catalogued:
        """The catalog of the platform's contracts now (rebuilt when they are reloaded)."""
        contracts = self.platform.contracts
        with self._lock:
            if self._catalogued is None or self._catalogued.contracts is not contracts:
                private = [c for c in contracts.values() if c.access == AccessLevel.private]
                products = [c for c in contracts.values() if c.product is not None]
                self._catalogued = Catalogued(
                    contracts=contracts, private=private, products=products
                )
            return self._catalogued

    def index(self) -> SearchIndex:
        """The search index of the current contracts: built on first use, then updated contract
        by contract when they change (a reload keeps unchanged contracts' objects)."""
        contracts = self.platform.contracts
        with self._index_lock:
            if self._index is None:
                self._index = SearchIndex(contracts.values(), self.platform.registry)
            elif self._indexed is not contracts:
                for gone in self._indexed.keys() - contracts.keys():
                    self._index.remove(gone)
                for dataset_id, contract in contracts.items():
                    if self._indexed.get(dataset_id) is not contract:
                        self._index.add(contract)
            self._indexed = contracts
            return self._index

    def hidden(self, viewer: Principal) -> set[str]:
        """Ids of the datasets that do not exist for the viewer."""
        registry = self.platform.registry
        return {c.id for c in self._current().private if not may_see(viewer, c, registry)}

    def visible(self, viewer: Principal) -> list[Contract]:
        """The contracts whose entries the viewer sees."""
        hidden = self.hidden(viewer)
        return [c for c in self._current().contracts.values() if c.id not in hidden]

    def contract(self, viewer: Principal, dataset_id: str) -> Contract | None:
        """A dataset's contract, or None when unknown or not visible to the viewer."""
        contract = self._current().contracts.get(dataset_id)
        if contract is None or not may_see(viewer, contract, self.platform.registry):
            return None
        return contract

    # Summaries.

    def _grants(self, viewer: Principal) -> dict[str, list[Grant]]:
        """The viewer's agency's active grants by dataset (operators act on none)."""
        found: dict[str, list[Grant]] = {}
        if viewer.role != Role.operator:
            for grant in self.platform.grants.list(agency=viewer.agency):
                found.setdefault(grant.dataset_id, []).append(grant)
        return found

    def _summaries(self, viewer: Principal, contracts: list[Contract]) -> list[DatasetSummary]:
        published = last_published(self.platform.deliveries.engine)
        grants = self._grants(viewer) if contracts else {}
        now = datetime.now(UTC)
        return [self._summary(viewer, c, published, grants, now) for c in contracts]

    def _summary(
        self,
        viewer: Principal,
        contract: Contract,
        published: dict[str, datetime],
        grants: dict[str, list[Grant]],
        now: datetime,
    ) -> DatasetSummary:
        registry = self.platform.registry
        agency, sector = registry.agency(contract.agency), registry.sector(contract.sector)
        return DatasetSummary(
            id=contract.id,
            kind=Kind(contract.kind),
            title=contract.title,
            description=contract.description,
            sector=contract.sector,
            sector_name=sector.name if sector else contract.sector,
            agency=contract.agency,
            agency_name=agency.name if agency else contract.agency,
            access=contract.access,
            tags=list(contract.odcs.tags or []),
            freshness=assess(contract, published.get(contract.id), now).state.value,
            last_published_at=published.get(contract.id),
            readable=may_read(viewer, contract, registry, grants.get(contract.id, [])),
        )

    def summary(self, viewer: Principal, dataset_id: str) -> DatasetSummary | None:
        """One dataset in lists, or None when it does not exist for the viewer."""
        contract = self.contract(viewer, dataset_id)
        return self._summaries(viewer, [contract])[0] if contract else None

    def datasets(self, viewer: Principal) -> list[DatasetSummary]:
        """Every dataset the viewer sees, by sector and title."""
        ordered = sorted(self.visible(viewer), key=lambda c: (c.sector, c.title, c.id))
        return self._summaries(viewer, ordered)

    # Sectors and agencies.

    def _agency_card(self, agency: Agency, counts: dict[str, int]) -> AgencyCard:
        return AgencyCard(
            id=agency.id,
            name=agency.name,
            name_en=agency.name_en,
            contact=agency.contact,
            sectors=[s.id for s in self.platform.registry.sectors_of(agency.id)],
            datasets=counts.get(agency.id, 0),
        )

    def _sector_card(
        self, sector: Sector, by_agency: dict[str, int], by_sector: dict[str, int]
    ) -> SectorCard:
        registry = self.platform.registry
        members = [a for a in (registry.agency(m) for m in sector.members) if a]
        secretariat = registry.agency(sector.secretariat)
        assert secretariat is not None  # the registry checks it is a member
        return SectorCard(
            id=sector.id,
            name=sector.name,
            name_en=sector.name_en,
            secretariat=self._agency_card(secretariat, by_agency),
            agencies=[self._agency_card(a, by_agency) for a in members],
            datasets=by_sector.get(sector.id, 0),
        )

    def _counts(self, contracts: list[Contract]) -> tuple[dict[str, int], dict[str, int]]:
        by_agency: dict[str, int] = {}
        by_sector: dict[str, int] = {}
        for c in contracts:
            by_agency[c.agency] = by_agency.get(c.agency, 0) + 1
            by_sector[c.sector] = by_sector.get(c.sector, 0) + 1
        return by_agency, by_sector

    def sectors(self, viewer: Principal) -> list[SectorCard]:
        """The sectors with their secretariat, agencies and dataset counts."""
        by_agency, by_sector = self._counts(self.visible(viewer))
        return [self._sector_card(s, by_agency, by_sector) for s in self.platform.registry.sectors]

    def agencies(self, viewer: Principal) -> list[AgencyCard]:
        """Every agency with the number of its datasets the viewer sees."""
        by_agency, _ = self._counts(self.visible(viewer))
        return [self._agency_card(a, by_agency) for a in self.platform.registry.agencies]

    def sector(self, viewer: Principal, sector_id: str) -> SectorPage | None:
        """A sector's page; None for an unknown sector."""
        sector = self.platform.registry.sector(sector_id)
        if sector is None:
            return None
        visible = self.visible(viewer)
        by_agency, by_sector = self._counts(visible)
        mine = sorted((c for c in visible if c.sector == sector_id), key=lambda c: (c.title, c.id))
        return SectorPage(
            sector=self._sector_card(sector, by_agency, by_sector),
            datasets=self._summaries(viewer, mine),
        )

    def agency(self, viewer: Principal, agency_id: str) -> AgencyPage | None:
        """An agency's page; None for an unknown agency."""
        registry = self.platform.registry
        agency = registry.agency(agency_id)
        if agency is None:
            return None
        visible = self.visible(viewer)
        by_agency, by_sector = self._counts(visible)
        mine = sorted(
            (c for c in visible if c.agency == agency_id), key=lambda c: (c.sector, c.title)
        )
        return AgencyPage(
            agency=self._agency_card(agency, by_agency),
            sectors=[
                self._sector_card(s, by_agency, by_sector) for s in registry.sectors_of(agency_id)
            ],
            datasets=self._summaries(viewer, mine),
        )

    # Home.

    def _publication(self, viewer: Principal, delivery: Delivery) -> Publication | None:
        contract = self._current().contracts.get(delivery.dataset_id)
        if contract is None:
            return None  # a delivery of a contract since removed
        return Publication(
            dataset_id=contract.id,
            title=contract.title,
            agency=contract.agency,
            delivery_id=delivery.delivery_id,
            state=delivery.state.value,
            rows=delivery.rows,
            at=utc(delivery.updated_at),
            reasons=delivery.reasons if sees_deliveries(viewer, contract) else [],
        )

    def _recent(
        self, viewer: Principal, state: DeliveryState, hidden: set[str]
    ) -> list[Publication]:
        found = recent_deliveries(self.platform.deliveries.engine, state, RECENT, hidden)
        return [p for d in found if (p := self._publication(viewer, d))]

    def home(self, viewer: Principal) -> Home:
        """The home page: sectors, recent publications and quarantines, and the total."""
        hidden = self.hidden(viewer)
        return Home(
            sectors=self.sectors(viewer),
            recent_published=self._recent(viewer, DeliveryState.published, hidden),
            recent_quarantined=self._recent(viewer, DeliveryState.quarantined, hidden),
            datasets=len(self._current().contracts) - len(hidden),
        )

    # The dataset page and search.

    def products_reading(self, viewer: Principal, dataset_id: str) -> list[Contract]:
        """The joint products the viewer sees that read the dataset, by title."""
        registry = self.platform.registry
        found = [
            c
            for c in self._current().products
            if c.product and dataset_id in c.product.inputs and may_see(viewer, c, registry)
        ]
        return sorted(found, key=lambda c: (c.title, c.id))

    def dataset(self, viewer: Principal, dataset_id: str) -> DatasetEntry | None:
        """Everything the dataset page shows, or None when it does not exist for the viewer."""
        contract = self.contract(viewer, dataset_id)
        if contract is None:
            return None
        readers = self.products_reading(viewer, dataset_id)
        summary, *used_by = self._summaries(viewer, [contract, *readers])
        return self.pages.entry(viewer, contract, summary, used_by)

    def search(
        self,
        viewer: Principal,
        query: str,
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResult:
        """Datasets and joint products matching the query's words (Korean or English, partial),
        best first (a product after the matching datasets it reads)."""
        filters = filters or SearchFilters()
        index = self.index()
        matches = index.search(
            query,
            sector=filters.sector,
            agency=filters.agency,
            access=filters.access.value if filters.access else None,
            kind=filters.kind.value if filters.kind else None,
            explain=0,  # the page's columns are named below, once hidden ones are gone
        )
        hidden = self.hidden(viewer)
        contracts = self._current().contracts
        matches = [
            m
            for m in matches
            if m.dataset_id not in hidden
            and m.dataset_id in contracts  # the index may have caught a reload first
            and (filters.tag is None or filters.tag in (contracts[m.dataset_id].odcs.tags or ()))
        ]
        published = last_published(self.platform.deliveries.engine)
        now = datetime.now(UTC)
        if filters.freshness:
            # A verdict depends on the SLA's length, the end of the period the data covers and
            # the last publication only: the thousands of datasets a broad query matches share a
            # handful of those.
            verdicts: dict[tuple[timedelta | None, date | None, datetime | None], str] = {}

            def verdict(contract: Contract) -> str:
                key = (contract.sla.max_age, contract.coverage.end, published.get(contract.id))
                if key not in verdicts:
                    verdicts[key] = assess(contract, key[2], now).state.value
                return verdicts[key]

            matches = [m for m in matches if verdict(contracts[m.dataset_id]) == filters.freshness]
        page = matches[offset : offset + limit]
        grants = self._grants(viewer) if page else {}
        hits = []
        for m in page:
            contract = contracts[m.dataset_id]
            summary = self._summary(viewer, contract, published, grants, now)
            names = index.columns(m, query)
            hits.append(
                SearchHit(
                    dataset=summary,
                    score=round(m.score, 4),
                    matched=index.fields(m, query),
                    columns=matched_columns(contract, names),
                    starter_sql=starter_sql(contract, query, names) if summary.readable else None,
                )
            )
        return SearchResult(
            query=query,
            filters=filters,
            total=len(matches),
            hits=hits,
            suggestion=index.suggest(query),
            facets=facets([contracts[m.dataset_id] for m in matches]),
        )


def matched_columns(contract: Contract, names: tuple[str, ...]) -> list[MatchedColumn]:
    """The named columns of a contract as a search hit shows them (published types)."""
    columns = {c.name: c for c in contract.published_columns}
    return [
        MatchedColumn(
            name=n,
            title=columns[n].physical_name.strip(),
            description=columns[n].description,
            type=columns[n].logical_type.value,
        )
        for n in names
        if n in columns
    ]


def facets(contracts: list[Contract]) -> dict[str, dict[str, int]]:
    """Counts of the matches by sector, agency, access and kind (most first)."""
    # One pass over thousands of matches; their combinations are few.
    combined = Counter((c.sector, c.agency, c.access.value, c.kind) for c in contracts)
    counted: dict[str, Counter[str]] = {k: Counter() for k in FACETS}
    for values, n in combined.items():
        for name, value in zip(FACETS, values, strict=True):
            counted[name][value] += n
    return {name: dict(counts.most_common()) for name, counts in counted.items()}
