"""One Dagster asset per contract: key `[sector, agency, dataset]`, partitioned by delivery."""

from collections.abc import Iterator

import dagster as dg

from contracts.model import Contract, Severity
from gongyu.delivery.report import Outcome
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from quality.results import CheckKind, CheckResult

CHECK_DESCRIPTIONS: dict[CheckKind, str] = {
    CheckKind.contract: "The contract version may follow the last one recorded (semver: a "
    "breaking change needs a new major version).",
    CheckKind.readable: "The delivery opens, decodes (UTF-8, UTF-16, CP949) and parses.",
    CheckKind.schema: "Every contract property is present in the file (by its physicalName).",
    CheckKind.types: "Every cell casts to its property's logicalType.",
    CheckKind.required: "Required properties have a value in every row.",
    CheckKind.primary_key: "The primary key is unique.",
    CheckKind.unique: "Properties declared unique have no duplicates.",
    CheckKind.enum: "Values of enumerated properties are in the contract's list.",
    CheckKind.pattern: "Values match the property's pattern.",
    CheckKind.range: "Values and lengths are within the contract's bounds.",
    CheckKind.quality: "The contract's quality rules (errors block, warnings are recorded).",
    CheckKind.audit: "The staged snapshot holds what the delivery should produce.",
    CheckKind.privacy: "No personal identifier the contract does not declare; k-anonymity "
    "over the quasi-identifiers where the contract sets k.",
}


def asset_key(contract: Contract) -> dg.AssetKey:
    """The asset key of a contract's dataset."""
    return dg.AssetKey([contract.sector, contract.agency, contract.id])


def partitions_name(contract: Contract) -> str:
    """Name of the dataset's dynamic partitions (one partition per delivery)."""
    return f"{contract.id}_deliveries"


def check_kinds(contract: Contract) -> list[CheckKind]:
    """The gate's rule families that apply to a contract (each one asset check)."""
    cols = contract.columns
    applies = {
        CheckKind.required: any(c.required for c in cols),
        CheckKind.primary_key: bool(contract.primary_key),
        CheckKind.unique: any(c.unique for c in cols),
        CheckKind.enum: any(c.enum for c in cols),
        CheckKind.pattern: any(c.pattern for c in cols),
        CheckKind.range: any(
            v is not None for c in cols for v in (c.minimum, c.maximum, c.min_length, c.max_length)
        ),
        CheckKind.quality: bool(contract.quality),
    }
    return [k for k in CheckKind if applies.get(k, True)]


def check_result(kind: CheckKind, results: list[CheckResult]) -> dg.AssetCheckResult:
    """One Dagster check result for a rule family, from the gate's results of that family."""
    failed = [r for r in results if not r.passed]
    blocking = [r for r in failed if r.severity == Severity.error]
    return dg.AssetCheckResult(
        check_name=kind.value,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata={
            "rules": len(results),
            "failed": len(failed),
            "failures": dg.MetadataValue.json(
                [r.model_dump(mode="json", exclude={"samples"}) for r in failed]
            ),
            "samples": dg.MetadataValue.json(
                {r.rule: [s.model_dump(mode="json") for s in r.samples] for r in failed}
            ),
        },
        description="; ".join(r.message for r in failed)[:2000] or None,
    )


def owners(contract: Contract) -> list[str]:
    """The asset's owners: the contract's steward, then the agency's team."""
    return [*([contract.steward] if contract.steward else []), f"team:{contract.agency}"]


def check_specs(contract: Contract) -> list[dg.AssetCheckSpec]:
    """The gate's blocking asset checks on the contract's asset, one per rule family."""
    key = asset_key(contract)
    return [
        dg.AssetCheckSpec(k.value, asset=key, blocking=True, description=CHECK_DESCRIPTIONS[k])
        for k in check_kinds(contract)
    ]


def gate_events(
    contract: Contract, outcome: Outcome, **metadata: str | dg.MetadataValue
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """The check results of a delivery's way, then its materialization with `metadata` besides
    the delivery's own; dg.Failure (with the report) when it was quarantined."""
    for kind in check_kinds(contract):
        yield check_result(kind, [c for c in outcome.gate.checks if c.kind == kind])
    delivery = outcome.delivery
    if not outcome.published:
        raise dg.Failure(
            description=f"delivery {delivery.delivery_id} quarantined:\n{outcome.report}",
            metadata={"reasons": dg.MetadataValue.json(delivery.reasons)},
        )
    yield dg.MaterializeResult(
        metadata={
            "delivery": delivery.delivery_id,
            "rows": dg.MetadataValue.int(delivery.rows or 0),
            "snapshot_id": delivery.snapshot_id,
            "contract_version": delivery.contract_version,
            "seconds": dg.MetadataValue.float(delivery.seconds or 0.0),
            **metadata,
        }
    )


def contract_asset(contract: Contract) -> dg.AssetsDefinition:
    """The asset that takes one delivery of a dataset through the gate into the lakehouse."""
    description = (
        f"{contract.title} — {contract.description or ''}\n\n"
        f"Iceberg table `{contract.table}` · contract v{contract.version} · "
        f"access `{contract.access.value}` · apply mode `{contract.apply_mode.value}`"
    )

    @dg.asset(
        key=asset_key(contract),
        group_name=contract.sector,
        owners=owners(contract),
        description=description,
        partitions_def=dg.DynamicPartitionsDefinition(name=partitions_name(contract)),
        check_specs=check_specs(contract),
        kinds={"iceberg", "duckdb"},
        metadata={
            "table": contract.table,
            "contract_version": contract.version,
            "access_level": contract.access.value,
            "contract": str(contract.path),
        },
        tags={"agency": contract.agency},
    )
    def _deliver(
        context: dg.AssetExecutionContext, gongyu: dg.ResourceParam[Platform]
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        outcome = process_delivery(gongyu, context.partition_key)
        yield from gate_events(
            contract,
            outcome,
            source_file=outcome.delivery.filename,
            encoding=outcome.gate.source.encoding or "",
        )

    return _deliver
