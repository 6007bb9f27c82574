"""The dataset page for one viewer: schema, history, lineage, usage and masked sample rows, and
the contract's licence, the period its data covers, its update cycle and English title; for a
joint product also its SQL, inputs (with their agencies) and builds."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import duckdb
import pyarrow as pa

from catalog.access.policy import (
    TablePolicy,
    may_see,
    sees_deliveries,
    sees_usage,
    table_policy,
)
from catalog.access.principal import Principal, Role
from catalog.access.usage import usage
from catalog.entries import (
    ColumnEntry,
    CoverageEntry,
    DatasetEntry,
    DatasetSummary,
    LicenceEntry,
    ProductAggregate,
    ProductEntry,
    ProductInput,
    PublishedAs,
    Sample,
    SnapshotEntry,
)
from catalog.freshness import assess, period, update_cycle
from catalog.history import History
from contracts.model import AccessLevel, ApprovalPolicy, Classification, Column, Contract
from contracts.product_sql import dataset_of, input_tables
from gongyu.platform import Platform
from gongyu.query.query import QueryError, QueryService
from gongyu.query.sandbox import quote
from quality.casting import Caster
from quality.privacy.kanonymity import generalise
from quality.privacy.pseudonyms import HEX_CHARS

SAMPLE_ROWS = 10
# The shape of what the gate writes for a direct identifier (`p<key version>_` + 32 hex, see
# quality.privacy.pseudonyms): a fixed illustration, nobody's pseudonym.
PSEUDONYM_EXAMPLE = "p1_" + ("0123456789abcdef" * 4)[:HEX_CHARS]
REQUESTS_API = "/api/v1/access-requests"
POLICY_WORDS = {
    ApprovalPolicy.automatic: ("자동 승인", "automatic approval"),
    ApprovalPolicy.owner: ("제공 기관 승인", "approval by the providing agency"),
    ApprovalPolicy.owner_and_secretariat: (
        "제공 기관과 간사기관 승인",
        "approval by the providing agency and the sector secretariat",
    ),
}


def how_to_request(contract: Contract, platform: Platform) -> str:
    """Who reads the dataset and how another agency asks for it (Korean, then English): the
    request form of the dataset's page, routed by the contract's approval policy."""
    sector = platform.registry.sector(contract.sector)
    sector_name = sector.name if sector else contract.sector
    ko, en = POLICY_WORDS[contract.approval.policy]
    ask_ko = (
        f"이 데이터셋 화면의 '이용 신청' 양식(API: POST {REQUESTS_API})으로 이용 목적과 기간을 "
        f"적어 신청하면 데이터 계약의 승인 방식({ko})에 따라 결정되고, 결과는 '이용 신청' 화면에서 "
        "볼 수 있습니다."
    )
    ask_en = (
        f"ask with the access request form on this dataset's page (API: POST {REQUESTS_API}), "
        f"stating purpose and period; it is decided as the contract says ({en}) and the "
        "decision shows on the Access requests page."
    )
    if contract.access == AccessLevel.public:
        return (
            "공개 데이터: 로그인한 모든 기관이 SQL API로 조회할 수 있습니다. "
            "Public: every signed-in agency may query it."
        )
    if contract.access == AccessLevel.sector:
        return (
            f"{sector_name} 분과 회원 기관이 조회할 수 있습니다. 다른 기관은 {ask_ko} "
            f"Member agencies of the sector read it; other agencies {ask_en}"
        )
    if contract.access == AccessLevel.restricted:
        return (
            f"승인(grant)을 받은 기관만 조회할 수 있습니다. {ask_ko} "
            f"Agencies holding a grant read it: {ask_en}"
        )
    return "소유 기관만 조회할 수 있습니다. Private: only the owning agency reads it."


def _published_examples(
    column: Column, level: str, null_values: tuple[str, ...]
) -> tuple[Any, ...]:
    """The contract's examples of a column as the gate publishes them: typed by the gate's
    caster, then generalised to `level` by the gate's own code. Examples that do not cast (or
    that the contract reads as NULL) are left out; so is everything when it cannot be worked
    out, rather than ever showing a raw value."""
    if not column.examples:
        return ()
    try:
        try:
            raw = pa.array(list(column.examples))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: as a file's text would be
            raw = pa.array([str(e) for e in column.examples])
        with Caster([column], null_values, sample_rows=0) as caster:
            typed = caster.cast([raw], pa.array(range(len(raw)), pa.int64()))
        coarse = generalise(typed.select([column.name]), {column.name: level})
    except (ValueError, TypeError, pa.ArrowException, duckdb.Error):
        return ()
    return tuple(v for v in coarse[column.name].to_pylist() if v is not None)


_cached_examples = lru_cache(maxsize=1024)(_published_examples)


def published_examples(column: Column, level: str, null_values: tuple[str, ...]) -> list[Any]:
    """`_published_examples`, worked out once per column, level and null markers."""
    try:
        return list(_cached_examples(column, level, null_values))
    except TypeError:  # an unhashable example (a list or mapping in the YAML)
        return list(_published_examples(column, level, null_values))


def columns(contract: Contract, policy: TablePolicy | None, owner: bool) -> list[ColumnEntry]:
    """The published schema as the viewer sees it: how each column is published and examples
    of the published values. Direct identifiers show a pseudonym's shape, generalised columns
    their examples generalised as the gate does it, withheld and masked columns none: never
    a raw example of a column that is not published as delivered."""
    out = []
    levels = contract.privacy.generalise
    for raw, c in zip(contract.columns, contract.published_columns, strict=True):
        masked = (
            policy.masked(c.name)
            if policy
            else c.classification == Classification.sensitive and not owner
        )
        level = levels.get(c.name)
        if level == "suppress":
            published, examples = PublishedAs.withheld, []
        elif c.classification == Classification.direct_identifier:
            published, examples = PublishedAs.pseudonymised, [PSEUDONYM_EXAMPLE]
        elif level is not None:
            published = PublishedAs.generalised
            examples = published_examples(raw, level, contract.null_values)
        else:
            published, examples = PublishedAs.as_delivered, list(c.examples)
        out.append(
            ColumnEntry(
                name=c.name,
                physical_name=c.physical_name,
                type=c.logical_type.value,
                description=c.description,
                classification=c.classification,
                required=c.required and published is not PublishedAs.withheld,
                primary_key=c.primary_key_position is not None,
                published_as=published,
                generalisation=level,
                examples=[] if masked else examples,
                masked=masked,
            )
        )
    return out


def rows_withheld(contract: Contract, snapshots: list[SnapshotEntry]) -> int | None:
    """Rows the last publication withheld for k-anonymity, as its snapshot recorded them."""
    if contract.privacy.k is None:
        return None
    last = next((s for s in snapshots if s.current), None)
    return last.rows_withheld if last else None


def product_inputs(viewer: Principal, product: Contract, platform: Platform) -> list[ProductInput]:
    """The tables a product's SQL reads, with their datasets' agencies and sectors. The SQL
    names every input to whoever sees the product; an input whose entry does not exist for the
    viewer (another agency's private dataset) keeps its title and access to itself."""
    assert product.product is not None  # callers check
    registry = platform.registry
    found = []
    for sector_id, name in input_tables(product.product.sql):  # parsed once by the loader
        dataset_id = dataset_of(name)
        source = platform.contracts.get(dataset_id)
        visible = source is not None and may_see(viewer, source, registry)
        agency = registry.agency(source.agency) if source else None
        sector = registry.sector(sector_id)
        found.append(
            ProductInput(
                id=dataset_id,
                table=f"{sector_id}.{name}",
                title=source.title if source and visible else None,
                agency=source.agency if source else None,
                agency_name=(agency.name if agency else source.agency) if source else None,
                sector=sector_id,
                sector_name=sector.name if sector else sector_id,
                access=source.access if source and visible else None,
                visible=visible,
            )
        )
    return found


def product_entry(
    viewer: Principal, contract: Contract, platform: Platform, history: History
) -> ProductEntry | None:
    """A product's query, inputs and builds as the viewer sees them; None for a dataset. Builds
    show like the quality history: to every viewer, their reasons to the product's agency and
    operators only."""
    product = contract.product
    if product is None:
        return None
    builds = history.builds(contract.id)
    if not sees_deliveries(viewer, contract):
        builds = [b.model_copy(update={"reasons": []}) for b in builds]
    aggregate = product.aggregate
    return ProductEntry(
        sql=product.sql,
        inputs=product_inputs(viewer, contract, platform),
        schedule=product.schedule,
        aggregate=(
            ProductAggregate(count_column=aggregate.count_column, k=aggregate.k)
            if aggregate
            else None
        ),
        builds=builds,
    )


class DatasetPages:
    """Builds `DatasetEntry`s; one per app (its `History` caches what never changes)."""

    def __init__(self, platform: Platform, queries: QueryService) -> None:
        self.platform = platform
        self.queries = queries
        self.history = History(
            platform.deliveries,
            platform.results,
            platform.contract_versions,
            platform.lakehouse.catalog,
        )

    def sample(
        self, viewer: Principal, contract: Contract, policy: TablePolicy | None, published: bool
    ) -> Sample:
        """Up to ten rows through the viewer's SQL sandbox, or a note saying why there are none."""
        names = [c.name for c in contract.columns]
        if policy is None:
            note = "이 데이터를 조회할 권한이 없습니다. You may not query this dataset. "
            return Sample(
                columns=names, rows=[], note=note + how_to_request(contract, self.platform)
            )
        if not published:
            return Sample(
                columns=names, rows=[], note="아직 게시된 데이터가 없습니다. Nothing published yet."
            )
        sector, table = contract.table.split(".", 1)
        sql = f"SELECT * FROM {quote(sector)}.{quote(table)} LIMIT {SAMPLE_ROWS}"
        try:
            answer = self.queries.run(viewer, sql)
            try:
                batches = list(answer.stream())
            finally:
                answer.close()
        except QueryError as exc:
            return Sample(columns=names, rows=[], note=f"{exc.kind}: {exc.message}")
        rows = [list(r.values()) for b in batches for r in b.to_pylist()]
        note = None
        if policy.filtered:
            shown = " OR ".join(f"({f})" for f in policy.row_filters)
            note = f"승인 조건의 행 필터가 적용됩니다. Rows limited by your grant: {shown}"
        return Sample(columns=answer.schema.names, rows=rows, note=note)

    def entry(
        self,
        viewer: Principal,
        contract: Contract,
        summary: DatasetSummary,
        used_by: list[DatasetSummary] | None = None,
    ) -> DatasetEntry:
        """The whole page of a dataset the viewer sees; `used_by`: the products the viewer
        sees that read it."""
        platform = self.platform
        registry = platform.registry
        operator = viewer.role == Role.operator
        grants = [] if operator else platform.grants.active(viewer.agency, contract.id)
        policy = table_policy(viewer, contract, registry, grants)
        owner = viewer.agency == contract.agency and not operator
        tables = self.history.tables(contract)
        published = any(t.current and t.snapshot_id is not None for t in tables)
        shown = sees_usage(viewer, contract, registry)
        readers = (
            usage(platform.audit.engine, contract.id, exclude_agency=contract.agency)
            if shown
            else []
        )
        quality = self.history.quality(contract.id)
        if not sees_deliveries(viewer, contract):
            quality = [q.model_copy(update={"reasons": []}) for q in quality]
        agency = registry.agency(contract.agency)
        described = contract.odcs.description
        names = {a.id: a.name for a in registry.agencies}
        snapshots = self.history.snapshots(tables)
        product = product_entry(viewer, contract, platform, self.history)
        used_by = used_by or []
        return DatasetEntry(
            summary=summary,
            purpose=described.purpose if described else contract.description,
            usage_note=described.usage if described else None,
            limitations=described.limitations if described else None,
            steward=contract.steward,
            agency_contact=agency.contact if agency else "",
            how_to_request=how_to_request(contract, platform),
            table=contract.table,
            columns=columns(contract, policy, owner),
            k=contract.privacy.k,
            rows_withheld=rows_withheld(contract, snapshots),
            versions=self.history.contract_versions(contract.id),
            quality=quality,
            freshness=assess(contract, summary.last_published_at, datetime.now(UTC)),
            snapshots=snapshots,
            lineage=self.history.lineage(
                contract.id,
                tables,
                readers,
                names,
                inputs=product.inputs if product else (),
                used_by=used_by,
            ),
            usage=readers,
            usage_shown=shown,
            sample=self.sample(viewer, contract, policy, published),
            licence=LicenceEntry.of(contract),
            coverage=CoverageEntry(
                start=contract.coverage.start,
                end=contract.coverage.end,
                period=period(contract.coverage),
            ),
            update_cycle=update_cycle(contract),
            english=contract.english,
            product=product,
            used_by=used_by,
        )
