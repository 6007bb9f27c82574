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
from quality.privacy.pseudonyms import Keyring, pseudonymise
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

    def stream() -> Iterator[pa.RecordBatch]:
        for batch in batches(typed, source):
            table = pa.Table.from_batches([batch])
            if drop is not None:
                table = table.filter(pc.invert(pc.is_in(table[ROW], value_set=drop)))
            table = generalise(table, contract.privacy.generalise)
            for name in direct:
                index = table.schema.get_field_index(name)
                values = pseudonymise(table[name], keyring, contract.sector)
                table = table.set_column(index, name, values)
            yield from table.select(target.names).cast(target).to_batches()

    return pa.RecordBatchReader.from_batches(target, stream())
