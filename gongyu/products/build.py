"""One build of a product: its query as its agency over the inputs' current snapshots (pinned,
so the build is reproducible), written as a Parquet delivery of the product's dataset."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.access.audit import Outcome
from catalog.deliveries import Delivery
from catalog.products import definer, definition_refusals
from contracts.model import Contract
from gongyu.platform import Platform
from gongyu.products.pins import input_pins
from gongyu.query.query import QueryError, QueryService, audit_query, outcome_of
from gongyu.query.running import Limits


class ProductRefused(RuntimeError):
    """The product may not be built as defined (an input its agency may no longer read, a
    refused statement, or its query failed); the message names what and why."""


def query_service(platform: Platform) -> QueryService:
    """The query service builds run in: the SQL API's limits, a build's own time limit."""
    settings = platform.settings
    return QueryService(platform, Limits.of(settings, settings.product_timeout_seconds))


def build(platform: Platform, contract: Contract, service: QueryService | None = None) -> Delivery:
    """Run the product's query as its agency over pinned inputs and land the result as a
    delivery recording those pins; ProductWaits or ProductRefused when it cannot."""
    assert contract.product is not None  # callers check
    pins = input_pins(platform, contract)
    refusals = definition_refusals(
        contract,
        platform.contracts.values(),
        platform.registry,
        lambda agency, dataset_id: platform.grants.active(agency, dataset_id),
    )
    principal = definer(contract)
    sql = contract.product.sql
    if refusals:
        why = "; ".join(refusals)
        audit_query(platform.audit, principal, sql, None, time.perf_counter(), Outcome.denied, why)
        raise ProductRefused(f"{contract.id}: {why}")
    started = time.perf_counter()
    folder = platform.workspace.staging / f"product-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    answer = None
    try:
        answer = (service or query_service(platform)).run(principal, sql, as_of=pins)
        path = folder / f"{contract.id}.parquet"
        # The pins and the time travel with the file: two builds never share bytes, so the
        # ledger's same-bytes rule never folds a build into an earlier one.
        made = {"inputs": pins, "built_at": datetime.now(UTC).isoformat()}
        schema = answer.schema.with_metadata({"gongyu.build": json.dumps(made)})
        with pq.ParquetWriter(path, schema) as writer:
            for batch in answer.stream():
                writer.write_batch(pa.record_batch(batch.columns, schema=schema))
        audit_query(platform.audit, principal, sql, answer, started)
        delivery, _ = platform.deliveries.receive(contract, path, inputs=pins)
    except QueryError as exc:
        error = exc.message
        audit_query(platform.audit, principal, sql, answer, started, outcome_of(exc), error)
        raise ProductRefused(f"{contract.id}: the query failed ({exc.kind}): {error}") from None
    finally:
        if answer is not None:
            answer.close()
        shutil.rmtree(folder, ignore_errors=True)
    return delivery
