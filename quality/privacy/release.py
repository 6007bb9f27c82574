"""What leaves the gate: a typed delivery as the published table holds it.

Rows withheld by suppression are dropped, quasi-identifiers generalised to the contract's
levels, and direct identifiers replaced by keyed pseudonyms, batch by batch, so the raw value
of a declared identifier is never written to the lakehouse.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import Classification, Contract, arrow_schema
from quality.privacy.kanonymity import generalise
from quality.privacy.pseudonyms import Keyring, Pending, Pseudonymiser
from quality.results import ROW
from quality.spill import Typed, batches


def released(
    typed: Typed, contract: Contract, keyring: Keyring, withheld: np.ndarray
) -> pa.RecordBatchReader:
    """The delivery's rows in the published schema: suppressed, generalised, pseudonymised."""
    source = arrow_schema(contract.columns).append(pa.field(ROW, pa.int64()))
    target = arrow_schema(contract.published_columns)
    direct = contract.classified(Classification.direct_identifier)
    drop = pa.array(withheld, pa.int64()) if len(withheld) else None
    if not (direct or drop is not None or contract.privacy.generalise):
        return batches(typed, target)  # nothing to change: no copy per batch

    # One for the whole stream: its helper process, once started, serves every batch.
    pseudonyms = Pseudonymiser(keyring, contract.sector)

    def prepared(batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        if drop is not None:
            table = table.filter(pc.invert(pc.is_in(table[ROW], value_set=drop)))
        return generalise(table, contract.privacy.generalise)

    def finished(table: pa.Table, pending: list[Pending]) -> list[pa.RecordBatch]:
        for name, column in zip(direct, pending, strict=True):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pseudonyms.collect(column))
        return table.select(target.names).cast(target).to_batches()

    def stream() -> Iterator[pa.RecordBatch]:
        # One batch ahead: the helper process hashes batch i+1's identifiers while batch i
        # is written, so the keyed hashing runs on the other core.
        last: tuple[pa.Table, list[Pending]] | None = None
        with pseudonyms:
            for batch in batches(typed, source):
                table = prepared(batch)
                pending = [pseudonyms.submit(table[name]) for name in direct]
                if last is not None:
                    yield from finished(*last)
                last = table, pending
            if last is not None:
                yield from finished(*last)

    return pa.RecordBatchReader.from_batches(target, stream())
