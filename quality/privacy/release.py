"""What leaves the gate: a typed delivery as the published table holds it.

Rows withheld by suppression are dropped, quasi-identifiers generalised to the contract's
levels, and direct identifiers replaced by the keyed pseudonyms the gate made, batch by batch,
so the raw value of a declared identifier is never written to the lakehouse.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contracts.model import Classification, Contract, arrow_schema
from quality.privacy.kanonymity import generalise
from quality.privacy.pseudonym_batches import PseudonymBatches
from quality.results import ROW
from quality.spill import Typed, batches


def released(
    typed: Typed, contract: Contract, pseudonyms: PseudonymBatches | None, withheld: np.ndarray
) -> pa.RecordBatchReader:
    """The delivery's rows in the published schema: suppressed, generalised, pseudonymised.

    `pseudonyms` are the gate's (see `run_gate`); required when the contract declares direct
    identifiers.
    """
    source = arrow_schema(contract.columns).append(pa.field(ROW, pa.int64()))
    target = arrow_schema(contract.published_columns)
    direct = contract.classified(Classification.direct_identifier)
    drop = pa.array(withheld, pa.int64()) if len(withheld) else None
    if not (direct or drop is not None or contract.privacy.generalise):
        return batches(typed, target)  # nothing to change: no copy per batch
    if direct and pseudonyms is None:
        raise ValueError(
            f"{contract.id} declares direct identifiers: its gate run made no pseudonyms"
        )

    def stream() -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(batches(typed, source)):
            table = pa.Table.from_batches([batch])
            if pseudonyms is not None:
                for name, column in zip(direct, pseudonyms.for_batch(i, batch), strict=True):
                    table = table.set_column(table.schema.get_field_index(name), name, column)
            if drop is not None:
                table = table.filter(pc.invert(pc.is_in(table[ROW], value_set=drop)))
            table = generalise(table, contract.privacy.generalise)
            yield from table.select(target.names).cast(target).to_batches()

    return pa.RecordBatchReader.from_batches(target, stream())
