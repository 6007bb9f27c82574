"""Arrow answers carry zeros under their nulls, never what the server's memory held there.

Arrow leaves the bytes under a null undefined and DuckDB's export does not clear them: a
masked column of the SQL API's Arrow answer was seen carrying heap pointers, which differ from
one answer to the next. Every null of every Arrow answer (SQL API and downloads) must sit on
zeros, whatever the column's type.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from tests.api.world import SAME_SECTOR, World, table, world

NULLS = (
    "SELECT n, CASE WHEN n % 2 = 0 THEN n END AS i, CASE WHEN n % 3 = 0 THEN sido END AS s, "
    "CASE WHEN n % 5 = 0 THEN DATE '2024-01-01' + CAST(n AS INTEGER) END AS d, "
    "CASE WHEN n % 7 = 0 THEN n / 3.0 END AS f, amount "
    f"FROM {table('sector')}"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("nulls")) as w:
        yield w


def bytes_under_nulls(array: pa.Array) -> set[int]:
    """Every byte value found under the array's nulls (data bytes, or string lengths)."""
    nulls = array.is_null().to_numpy(zero_copy_only=False)
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset :]
        lengths = np.diff(offsets)[: len(array)]
        return {int(v) for v in lengths[nulls]}
    width = kind.bit_width // 8
    data = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    rows = data[array.offset * width : (array.offset + len(array)) * width].reshape(-1, width)
    return {int(v) for v in rows[nulls].ravel()}


def test_every_null_of_an_arrow_answer_sits_on_zeros(served: World) -> None:
    with served.client(SAME_SECTOR) as client:
        for _ in range(20):  # the garbage differs from answer to answer: look more than once
            answers = [
                served.sql(SAME_SECTOR, NULLS, format="arrow"),
                served.sql(SAME_SECTOR, f"SELECT * FROM {table('sector')}", format="arrow"),
                client.get("/api/v1/datasets/cases_sector/download", params={"format": "arrow"}),
            ]
            for answer in answers:
                assert answer.status_code == 200, answer.text
                batches = list(pa.ipc.open_stream(io.BytesIO(answer.content)))
                assert batches
                for batch in batches:
                    for name, column in zip(batch.schema.names, batch.columns, strict=True):
                        if column.null_count:
                            assert bytes_under_nulls(column) <= {0}, name
    # The answer is still the same answer: masked column all null, the CASEs null where asked.
    table_ = pa.ipc.open_stream(io.BytesIO(answers[0].content)).read_all()
    assert table_.column("amount").null_count == table_.num_rows == 40
    assert table_.column("i").null_count == 20 and table_.column("s").null_count == 27
