"""OpenLineage events of delivery runs, for Marquez or DataHub: START when a delivery is claimed,
COMPLETE when it is published, FAIL when it is quarantined or the run breaks.

Datasets are named as the OpenLineage naming convention names files and objects: the delivered
file by where it lies in the landing zone, the Iceberg table by its location (as Spark's
OpenLineage integration names Iceberg tables), with its catalog identifier as a symlink.

A joint product's build is a delivery too (the file its query wrote): its events also carry each
input table it read, named like an output table, at the snapshot it read (`version`), and its
job says it is SQL (the `sql` job facet with the query)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    catalog_dataset,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    datasource_dataset,
    documentation_job,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    ownership_job,
    processing_engine_run,
    schema_dataset,
    sql_job,
    storage_dataset,
    symlinks_dataset,
)
from openlineage.client.naming.dataset import S3, DatasetNaming, LocalFileSystem, RemoteFileSystem
from openlineage.client.uuid import generate_static_uuid
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from sqlalchemy import make_url

from catalog.deliveries import Delivery
from catalog.lakehouse import SUMMARY_PREFIX, iceberg_schema
from contracts.model import AccessLevel, Classification, Contract
from gongyu.delivery.lineage_sink import GONGYU_VERSION, OPENLINEAGE_VERSION, PRODUCER, LineageSink
from quality.results import CheckResult

if TYPE_CHECKING:
    from gongyu.delivery.report import Outcome
    from gongyu.platform import Platform

log = logging.getLogger(__name__)

JOB_NAMESPACE = "gongyu"
# Schemes that name the same S3 objects (Hadoop's connectors): all are `s3://` in lineage.
S3_SCHEMES = {"s3", "s3a", "s3n"}


def _split(uri: str) -> tuple[str, str, str]:
    """A location's scheme (lower case), authority and path (`/`-led; a local path decoded)."""
    scheme, separator, rest = uri.partition("://")
    if not separator:
        raise ValueError(f"not a location URI: {uri!r}")
    authority, _, path = rest.partition("/")
    scheme = scheme.lower()
    path = "/" + path
    # `Path.as_uri()` percent-encodes a local path; object keys are written as they are.
    return scheme, authority, unquote(path) if scheme == "file" else path


def located(uri: str, key: str = "") -> tuple[str, str]:
    """The OpenLineage namespace and name of the file or object at `uri` (or at `key` below
    it): `file` and the absolute path on this machine's file system, `s3://<bucket>` and the
    object key, or `<scheme>://<authority>` and the path for another store."""
    scheme, authority, path = _split(uri)
    path = f"{path.rstrip('/')}/{key.lstrip('/')}" if key else path.rstrip("/") or "/"
    naming: DatasetNaming
    if scheme == "file" and authority in ("", "localhost"):
        naming = LocalFileSystem(path=path)
    elif scheme == "file":
        naming = RemoteFileSystem(host=authority, path=path)
    elif scheme in S3_SCHEMES:
        naming = S3(bucket_name=authority, object_key=path.lstrip("/"))
    else:
        return f"{scheme}://{authority}", path.lstrip("/") or "/"
    return naming.get_namespace(), naming.get_name()


def warehouse_namespace(warehouse: str) -> str:
    """The namespace of table identifiers in a catalog whose warehouse is at `warehouse`, as
    Spark's OpenLineage integration writes it for a warehouse-rooted Iceberg catalog:
    `file:<absolute path>` for a local warehouse, `s3://<bucket>/<prefix>` in a bucket."""
    scheme, authority, path = _split(warehouse)
    path = path.rstrip("/")
    if scheme == "file" and authority in ("", "localhost"):
        return f"file:{path}" if path else "file"
    scheme = "s3" if scheme in S3_SCHEMES else scheme
    return f"{scheme}://{authority}{path}"


def table_location(catalog: Catalog, identifier: str, warehouse: str) -> str:
    """The Iceberg table's location; for a table not created yet (a dataset's first delivery
    is claimed before its table is made), where the catalog will create it: pyiceberg's
    default, `<namespace location>/<table>` or `<warehouse>/<namespace>/<table>`."""
    try:
        return catalog.load_table(identifier).location().rstrip("/")
    except NoSuchTableError:
        pass
    namespace, table = identifier.rsplit(".", 1)
    try:
        base = catalog.load_namespace_properties(namespace).get("location")
    except NoSuchNamespaceError:
        base = None
    if base:
        return f"{base.rstrip('/')}/{table}"
    return f"{warehouse.rstrip('/')}/{namespace}/{table}"


def run_id(delivery: Delivery) -> str:
    """The run's id: a UUIDv7 from the delivery's receipt time and id (the same every time)."""
    return str(generate_static_uuid(delivery.received_at, delivery.delivery_id.encode()))


def job(contract: Contract) -> Job:
    """The job that takes a dataset's deliveries in: `gongyu` / `<sector>.<dataset>`; for a
    joint product, of job type PRODUCT with its query as the `sql` facet."""
    owners = [ownership_job.Owner(name=f"team:{contract.agency}", type="AGENCY")]
    if contract.steward:
        owners.append(ownership_job.Owner(name=f"user:{contract.steward}", type="STEWARD"))
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration="GONGYU",
            jobType="PRODUCT" if contract.product else "DELIVERY",
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            description=f"{contract.title} — {contract.description or ''}".strip(" —")
        ),
        "ownership": ownership_job.OwnershipJobFacet(owners=owners),
    }
    if contract.product:
        facets["sql"] = sql_job.SQLJobFacet(query=contract.product.sql, dialect="duckdb")
    return Job(namespace=JOB_NAMESPACE, name=f"{contract.sector}.{contract.id}", facets=facets)


def shares_values(contract: Contract) -> bool:
    """Whether messages may leave with the events: they can quote cells, so only for public data."""
    return contract.access == AccessLevel.public


def assertions(
    checks: list[CheckResult], contract: Contract
) -> list[data_quality_assertions_dataset.Assertion]:
    """The gate's checks as OpenLineage assertions, columns named as in the delivered file."""
    headers = {c.name: c.physical_name for c in contract.columns}
    return [
        data_quality_assertions_dataset.Assertion(
            assertion=c.kind.value,
            name=c.rule,
            success=c.passed,
            column=headers.get(c.column, c.column) if c.column else None,
            severity=c.severity.value,
            description=(c.message or None) if shares_values(contract) else None,
            expected="0",
            actual=str(c.count),
        )
        for c in checks
    ]


def blocking_reasons(checks: list[CheckResult], contract: Contract) -> str:
    """Why a delivery was quarantined: the gate's messages, or rules and counts only when the
    dataset is not public (the quarantine report stays inside Gongyu)."""
    blocking = [c for c in checks if c.blocking]
    if shares_values(contract):
        return "\n".join(c.message or c.rule for c in blocking)
    return "\n".join(f"{c.rule}: {c.count:,} offending row(s)" for c in blocking)


def column_lineage(
    contract: Contract, namespace: str, name: str
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Each published column from its column in the delivered file, the input dataset
    `namespace`/`name`: as is, pseudonymised or generalised; a suppressed column (all null)
    comes from nothing."""
    fields = {}
    for column in contract.columns:
        level = contract.privacy.generalise.get(column.name)
        if level == "suppress":
            continue
        if column.classification == Classification.direct_identifier:
            how = ("TRANSFORMATION", "keyed pseudonym (HMAC-SHA-256)", True)
        elif level:
            how = ("TRANSFORMATION", f"generalised ({level})", False)
        else:
            how = ("IDENTITY", None, False)
        transformation = column_lineage_dataset.Transformation(
            type="DIRECT", subtype=how[0], description=how[1], masking=how[2]
        )
        source = column_lineage_dataset.InputField(
            namespace=namespace,
            name=name,
            field=column.physical_name,
            transformations=[transformation],
        )
        fields[column.name] = column_lineage_dataset.Fields(inputFields=[source])
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)


class DeliveryLineage:
    """The events of one delivery's run; emitting never raises (a lineage problem is logged)."""

    def __init__(self, platform: Platform, delivery: Delivery) -> None:
        self.platform = platform
        self.delivery = delivery
        self.sink = LineageSink.from_settings(platform.settings, platform.workspace)

    def started(self) -> None:
        """START: the delivery is claimed; the file in, the table it is meant for out."""
        self._emit(lambda contract: self._event(RunState.START, contract, [self._output(contract)]))

    def finished(self, outcome: Outcome) -> None:
        """COMPLETE with the published snapshot, or FAIL with the blocking reasons."""
        self.delivery = outcome.delivery

        def build(contract: Contract) -> RunEvent:
            checks = assertions(outcome.gate.checks, contract)
            source = self._input(contract, checks, rows=outcome.gate.rows)
            if not outcome.published:
                reasons = blocking_reasons(outcome.gate.checks, contract) or "quarantined"
                error = error_message_run.ErrorMessageRunFacet(
                    message=reasons, programmingLanguage="python"
                )
                # Nothing reached the table: a FAIL names no output.
                return self._event(RunState.FAIL, contract, [], {"errorMessage": error}, source)
            return self._event(RunState.COMPLETE, contract, [self._published(contract)], {}, source)

        self._emit(build)

    def crashed(self, error: BaseException) -> None:
        """FAIL: the run broke before the delivery was published or quarantined."""
        facet = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}",
            programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error)),
        )
        self._emit(
            lambda contract: self._event(RunState.FAIL, contract, [], {"errorMessage": facet})
        )

    def _emit(self, build: Callable[[Contract], RunEvent]) -> None:
        try:
            self.sink.emit(build(self.platform.contract(self.delivery.dataset_id)))
        except Exception:
            # Lineage is a record of the run, never a reason for it to fail.
            log.exception("no lineage event for delivery %s", self.delivery.delivery_id)

    def _event(
        self,
        state: RunState,
        contract: Contract,
        outputs: list[OutputDataset],
        run_facets: dict[str, Any] | None = None,
        source: InputDataset | None = None,
    ) -> RunEvent:
        engine = processing_engine_run.ProcessingEngineRunFacet(
            version=GONGYU_VERSION, name="Gongyu", openlineageAdapterVersion=OPENLINEAGE_VERSION
        )
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(
                runId=run_id(self.delivery),
                facets={"processing_engine": engine, **(run_facets or {})},
            ),
            job=job(contract),
            inputs=[source or self._input(contract), *self._read()],
            outputs=outputs,
            producer=PRODUCER,
        )

    def _input(
        self,
        contract: Contract,
        checks: list[data_quality_assertions_dataset.Assertion] | None = None,
        rows: int | None = None,
    ) -> InputDataset:
        """The raw delivery in the landing zone, described by the contract's file schema."""
        landing = self.platform.landing.uri
        namespace, name = self._file()
        fields = [
            schema_dataset.SchemaDatasetFacetFields(
                name=c.physical_name,
                type=c.logical_type.value,
                description=c.description,
                ordinal_position=i,
            )
            for i, c in enumerate(contract.columns, start=1)
        ]
        input_facets: dict[str, Any] = {
            "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=rows, size=self.delivery.size_bytes, fileCount=1
            )
        }
        if checks is not None:
            # The spec makes assertions an input facet: the gate checked the delivered file.
            input_facets["dataQualityAssertions"] = (
                data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(assertions=checks)
            )
        return InputDataset(
            namespace=namespace,
            name=name,
            facets={
                "schema": schema_dataset.SchemaDatasetFacet(fields=fields),
                "dataSource": datasource_dataset.DatasourceDatasetFacet(
                    name=f"{JOB_NAMESPACE}-landing", uri=landing
                ),
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=self.delivery.content_hash
                ),
                "storage": storage_dataset.StorageDatasetFacet(
                    storageLayer="file", fileFormat=self.delivery.filename.rsplit(".", 1)[-1]
                ),
            },
            inputFacets=input_facets,
        )

    def _file(self) -> tuple[str, str]:
        """The delivered file's namespace and name: where it lies in the landing zone."""
        return located(self.platform.landing.uri, self.delivery.landing_key)

    def _table(self, identifier: str) -> tuple[str, str, dict[str, Any]]:
        """An Iceberg table's namespace, name and the facets that say where it lies: named by
        its location, its catalog identifier (`<sector>.<table>`) a symlink in the catalog's
        namespace."""
        workspace = self.platform.workspace
        warehouse = self.platform.store.warehouse
        catalog = self.platform.lakehouse.catalog
        namespace, name = located(table_location(catalog, identifier, warehouse))
        facets: dict[str, Any] = {
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[
                    symlinks_dataset.Identifier(
                        namespace=warehouse_namespace(warehouse), name=identifier, type="TABLE"
                    )
                ]
            ),
            "dataSource": datasource_dataset.DatasourceDatasetFacet(
                name=f"{JOB_NAMESPACE}-lakehouse", uri=warehouse
            ),
            "storage": storage_dataset.StorageDatasetFacet(
                storageLayer="iceberg", fileFormat="parquet"
            ),
            "catalog": catalog_dataset.CatalogDatasetFacet(
                framework="iceberg",
                type="sql",
                name="default",
                # Never a password: a catalog URL may carry one.
                metadataUri=make_url(workspace.catalog_url).render_as_string(),
                warehouseUri=warehouse,
                source="gongyu",
            ),
        }
        return namespace, name, facets

    def _output(self, contract: Contract, **facets: object) -> OutputDataset:
        """The contract's Iceberg table, described by the schema the gate publishes."""
        namespace, name, located_facets = self._table(contract.table)
        fields = [
            schema_dataset.SchemaDatasetFacetFields(
                name=f.name, type=str(f.field_type), description=f.doc, ordinal_position=i
            )
            for i, f in enumerate(iceberg_schema(contract).fields, start=1)
        ]
        return OutputDataset(
            namespace=namespace,
            name=name,
            facets={
                "schema": schema_dataset.SchemaDatasetFacet(fields=fields),
                **located_facets,
                "columnLineage": column_lineage(contract, *self._file()),
                **facets,
            },
        )

    def _read(self) -> list[InputDataset]:
        """A product build's input tables, each at the snapshot the build read (`version`),
        with that snapshot's size; none for an agency's delivery."""
        found = []
        for identifier, snapshot_id in (self.delivery.inputs or {}).items():
            namespace, name, facets = self._table(identifier)
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(snapshot_id)
            )
            input_facets: dict[str, Any] = {}
            try:
                table = self.platform.lakehouse.catalog.load_table(identifier)
                snapshot = table.snapshot_by_id(snapshot_id)
            except (NoSuchTableError, NoSuchNamespaceError):
                snapshot = None  # dropped since the build: the name and version still hold
            summary = snapshot.summary if snapshot and snapshot.summary else None
            if summary:
                statistics = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                    rowCount=int(summary.get("total-records", "0")),
                    size=int(summary.get("total-files-size", "0")),
                    fileCount=int(summary.get("total-data-files", "0")),
                )
                input_facets["inputStatistics"] = statistics
            found.append(
                InputDataset(
                    namespace=namespace, name=name, facets=facets, inputFacets=input_facets
                )
            )
        return found

    def _published(self, contract: Contract) -> OutputDataset:
        """The table with the snapshot this delivery published and what it wrote."""
        snapshot_id = int(self.delivery.snapshot_id or 0)
        table = self.platform.lakehouse.catalog.load_table(contract.table)
        snapshot = table.snapshot_by_id(snapshot_id)
        summary = snapshot.summary if snapshot and snapshot.summary else {}
        withheld = int(summary.get(f"{SUMMARY_PREFIX}rows-withheld", "0"))
        output = self._output(
            contract,
            version=dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(snapshot_id)
            ),
        )
        output.outputFacets = {
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=(self.delivery.rows or 0) - withheld,
                size=int(summary.get("added-files-size", "0")),
                fileCount=int(summary.get("added-data-files", "0")),
            )
        }
        return output
