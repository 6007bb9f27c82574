"""Joint products as Dagster assets: one unpartitioned asset per product, downstream of the
assets of the datasets its SQL reads, built by `run_product` and held to the same gate."""

from collections.abc import Iterator, Mapping

import dagster as dg

from assets.factory import asset_key, check_specs, gate_events, owners
from contracts.model import Contract
from gongyu.platform import Platform
from gongyu.products.build import ProductRefused
from gongyu.products.freshness import state
from gongyu.products.pins import ProductWaits
from gongyu.products.run import run_product

TIMEZONE = "Asia/Seoul"  # a product's `schedule` is Korean time
PRODUCT_TAG = "gongyu/product"


def build_job_name(contract: Contract) -> str:
    """The one-asset job a product's schedule launches."""
    return f"{contract.id}_build"


def _inputs(contract: Contract, contracts: Mapping[str, Contract]) -> list[dict[str, str]]:
    """The product's inputs as the UI lists them: dataset, agency, table and kind (empty
    strings for an input with no live contract)."""
    assert contract.product is not None  # callers check
    found = []
    for dataset_id in contract.product.inputs:
        source = contracts.get(dataset_id)
        found.append(
            {
                "dataset": dataset_id,
                "agency": source.agency if source else "",
                "table": source.table if source else "",
                "kind": source.kind if source else "",
            }
        )
    return found


def product_asset(contract: Contract, contracts: Mapping[str, Contract]) -> dg.AssetsDefinition:
    """The asset that builds a product over its inputs' current snapshots and takes the build
    through the gate; `contracts` (by id) name the input datasets' assets, its deps."""
    product = contract.product
    assert product is not None  # callers pass product contracts
    inputs = _inputs(contract, contracts)
    listed = "\n".join(
        f"- `{i['table']}` ({i['agency']}{', product' if i['kind'] == 'product' else ''})"
        if i["table"]
        else f"- `{i['dataset']}` (no live contract: the product is refused until it has one)"
        for i in inputs
    )
    schedule = f" and on schedule `{product.schedule}` ({TIMEZONE})" if product.schedule else ""
    description = (
        f"{contract.title} — joint product of `{contract.agency}`: SQL over published datasets, "
        f"rebuilt when an input publishes a new snapshot{schedule}, through the same gate as "
        f"any delivery.\n\nInputs:\n{listed}\n\n"
        f"Iceberg table `{contract.table}` · contract v{contract.version} · "
        f"access `{contract.access.value}`"
    )
    metadata: dict[str, str | dg.MetadataValue] = {
        "table": contract.table,
        "contract_version": contract.version,
        "access_level": contract.access.value,
        "contract": str(contract.path),
        "sql": dg.MetadataValue.md(f"```sql\n{product.sql.strip()}\n```"),
        "inputs": dg.MetadataValue.json(inputs),
    }
    if product.schedule:
        metadata["schedule"] = f"{product.schedule} ({TIMEZONE})"
    if product.aggregate:
        metadata["aggregate"] = dg.MetadataValue.json(product.aggregate.model_dump(by_alias=True))

    @dg.asset(
        key=asset_key(contract),
        group_name=contract.sector,
        owners=owners(contract),
        description=description,
        deps=[asset_key(contracts[i]) for i in product.inputs if i in contracts],
        check_specs=check_specs(contract),
        kinds={"iceberg", "duckdb", "sql"},
        metadata=metadata,
        tags={"agency": contract.agency, "kind": "product"},
    )
    def _build(
        context: dg.AssetExecutionContext, gongyu: dg.ResourceParam[Platform]
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        try:
            outcome = run_product(gongyu, contract.id)
        except (ProductWaits, ProductRefused) as exc:
            raise dg.Failure(description=str(exc)) from None
        yield from gate_events(
            contract, outcome, inputs=dg.MetadataValue.json(outcome.delivery.inputs or {})
        )

    return _build


def product_schedule(contract: Contract) -> dg.ScheduleDefinition:
    """The product's own schedule (`customProperties.product.schedule`, Korean time) on a job
    of its asset alone; a tick while an input has nothing published is skipped."""
    assert contract.product is not None and contract.product.schedule  # callers check
    job = dg.define_asset_job(
        build_job_name(contract),
        selection=[asset_key(contract)],
        description=f"Build the joint product {contract.id} over its inputs' current snapshots.",
        tags={PRODUCT_TAG: contract.id},
    )

    @dg.schedule(
        name=f"{contract.id}_schedule",
        cron_schedule=contract.product.schedule,
        job=job,
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Rebuilds {contract.id} on its contract's schedule, besides its inputs' "
        "publications (the `products` sensor).",
    )
    def _schedule(
        context: dg.ScheduleEvaluationContext, gongyu: dg.ResourceParam[Platform]
    ) -> dg.RunRequest | dg.SkipReason:
        waiting = state(gongyu, contract).waiting
        if waiting:
            return dg.SkipReason(waiting)
        return dg.RunRequest(tags={PRODUCT_TAG: contract.id})

    return _schedule
