"""Draft a joint product's contract from its SQL, as a steward drafts a dataset's from a sample.

The query runs as the caller through the SQL API's service (their agency's entitlements, masks
and row filters, the statement rules and limits) and is audited as an SQL API query is. The
first `SAMPLE_ROWS` rows of its result are written as Parquet and drafted by `quality.drafting`
with the product's part: the SQL inline, applyMode replace, the caller's agency as owner, and
the widest access level its inputs allow (`catalog.products.wider_than`), or `sector` for an
aggregate over restricted inputs (its counts are held to k). Whether the product may be defined
is the review's to say (`catalog.products.definition_refusals`): the draft only starts it.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.access.principal import Principal, Role
from catalog.products import wider_than
from contracts.model import AccessLevel, Aggregate, Contract
from contracts.product_sql import dataset_of, input_tables
from gongyu.platform import Platform
from gongyu.query.query import QueryError, QueryService, audit_query, outcome_of
from quality.drafting import ProductPart, check_request, draft_contract

SAMPLE_ROWS = 100_000  # result rows a draft is made from: enough for types, codes and ranges
DRAFTERS = (Role.steward, Role.secretariat)  # who defines their agency's products
LEVELS = (AccessLevel.public, AccessLevel.sector, AccessLevel.restricted, AccessLevel.private)


@dataclass(frozen=True)
class ProductDraft:
    """A product's draft contract and what its query read."""

    yaml: str
    inputs: tuple[str, ...]  # the dataset ids the SQL reads
    rows: int  # the result's rows the draft was made from


def suggested_access(
    sector: str, inputs: Sequence[Contract], aggregate: Aggregate | None = None
) -> tuple[AccessLevel, str]:
    """The widest access level none of `inputs` forbids a product homed in `sector`, and why
    (the draft's `# suggested:` note); an aggregate over closed inputs suggests `sector`."""

    def allowed(level: AccessLevel) -> bool:
        # `wider_than` reads the product's access level and sector only: any input, so placed
        # and opened, stands for the product.
        as_product = inputs[0].model_copy(update={"access": level, "sector": sector})
        return not any(wider_than(as_product, source) for source in inputs)

    level = next(level for level in LEVELS if allowed(level))  # private always is
    named = ", ".join(f"{s.id} is {s.access.value} in {s.sector}" for s in inputs)
    if aggregate and level in (AccessLevel.restricted, AccessLevel.private):
        return AccessLevel.sector, (
            f"counts held to k={aggregate.k} (product.aggregate) may be shared with the sector; "
            f"{named}"
        )
    wider = "" if level == AccessLevel.public else "; wider only with product.aggregate"
    return level, f"the widest its inputs allow ({named}){wider}"


def _sample(
    platform: Platform,
    service: QueryService,
    principal: Principal,
    sql: str,
    path: Path,
    limit: int,
) -> tuple[pa.Schema, int]:
    """The query's first `limit` rows written to `path` as Parquet (its schema and how many
    rows), its audit record written. Raises QueryError (audited too) when it is refused or
    fails."""
    started = time.perf_counter()
    answer, taken = None, 0
    try:
        answer = service.run(principal, sql)
        _named_once(answer.schema)
        try:
            with pq.ParquetWriter(path, answer.schema) as writer:
                for batch in answer.stream():
                    writer.write_batch(batch.slice(0, limit - taken))
                    taken += min(batch.num_rows, limit - taken)
                    if taken >= limit:
                        break
        except pa.ArrowException as exc:  # a type Parquet lacks (an interval): as the SQL API says
            reason = str(exc).splitlines()[0][:200]
            raise QueryError(
                "format",
                f"the result cannot be written as parquet: {reason}. Cast the column (e.g. to "
                "VARCHAR)",
            ) from None
    except QueryError as exc:
        audit_query(
            platform.audit,
            principal,
            sql,
            answer,
            started,
            outcome_of(exc),
            exc.message,
            datasets=exc.datasets,
        )
        raise
    finally:
        if answer is not None:
            answer.close()
    assert answer is not None  # a failed query raised above
    audit_query(platform.audit, principal, sql, answer, started)
    if not taken:
        raise ValueError(
            "the query returned no rows: a product's draft is made from its result; check that "
            "its inputs are published and its filters let rows through"
        )
    return answer.schema, taken


def _named_once(schema: pa.Schema) -> None:
    """A QueryError when two result columns share a name: a table's columns may not."""
    twice = sorted(name for name, n in Counter(schema.names).items() if n > 1)
    if twice:
        raise QueryError(
            "sql",
            f"the result names {', '.join(map(repr, twice))} more than once; give each column a "
            "name of its own (… AS name)",
        )


def draft_product(
    platform: Platform,
    service: QueryService,
    principal: Principal,
    *,
    dataset: str,
    sql: str,
    sector: str | None = None,
    title: str | None = None,
    access: AccessLevel | None = None,
    aggregate: Aggregate | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> ProductDraft:
    """The draft contract (ODCS YAML) of a product of the caller's agency computing `sql`.

    Raises QueryError as the SQL API would (refused, unknown table, time limit…), and
    ValueError, one line saying the fix, for a bad dataset id or sector, an empty result, a
    countColumn the result lacks, or a result the gate cannot read.
    """
    # Line ends and trailing blanks as an editor leaves them would keep the SQL from reading as
    # a YAML block in the contract: the query is kept without them.
    sql = "\n".join(line.rstrip() for line in sql.strip().splitlines())
    _, home = check_request("product", principal.agency, dataset, platform.registry, sector, None)
    staging = platform.workspace.staging
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="product-draft-", dir=staging) as work:
        path = Path(work) / f"{dataset}.parquet"
        schema, rows = _sample(platform, service, principal, sql, path, sample_rows)
        inputs = tuple(dict.fromkeys(dataset_of(name) for _, name in input_tables(sql)))
        sources = [c for c in (platform.contracts.get(i) for i in inputs) if c is not None]
        if not sources:
            raise ValueError(
                "the query reads no published dataset: a product reads at least one, named "
                "<sector>.<table>"
            )
        level, note = suggested_access(home, sources, aggregate)
        if access is not None and access != level:
            note = f"as asked; {level.value} was suggested: {note}"
            level = access
        text = draft_contract(
            path,
            agency=principal.agency,
            dataset=dataset,
            registry=platform.registry,
            sector=home,
            product=ProductPart(
                sql=sql,
                access=level,
                access_note=note,
                aggregate=aggregate,
                title=title,
                text_columns={
                    f.name
                    for f in schema
                    if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                },
            ),
        )
    return ProductDraft(yaml=text, inputs=inputs, rows=rows)
