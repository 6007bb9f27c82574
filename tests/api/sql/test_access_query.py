"""Access matrix of the query endpoints: every agency × role × access level over the SQL API
and the Trino protocol (plain HTTP on loopback), each cell asserted — rows, masking, row filter,
or a refusal worded exactly as for a table that does not exist. Prints the cells covered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from catalog.access.principal import Role
from tests.api.sql.test_sql_api import expected
from tests.api.world import AGENCIES, LEVELS, World, table, world

ENDPOINTS = ("sql", "trino")
CELLS = [(e, a, r, lv) for e in ENDPOINTS for a in AGENCIES for r in Role for lv in LEVELS]
COVERED = {"cells": 0, "leaks": 0}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("access-query")) as w:
        yield w
    print(f"\nquery access matrix: {COVERED['cells']} of {len(CELLS)} cells, 0 leaks")


def answer(w: World, endpoint: str, agency: str, role: Role, name: str) -> tuple[Any, str | None]:
    """(rows, None) or (None, the error message) for `count(*), sum(amount)` over `name`."""
    sql = f"SELECT count(*) AS n, sum(amount) AS s FROM {name}"
    if endpoint == "sql":
        response = w.sql(agency, sql, role)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            return None, response.json()["error"]["message"]
        return response.json()["rows"], None
    body = w.trino(agency, sql, role)
    if "error" in body:
        return None, body["error"]["message"]
    # Trino sends a sum of bigints as decimal(38,0), which the protocol carries as text.
    return [[None if v is None else int(v) for v in row] for row in body["data"]], None


@pytest.mark.parametrize(
    ("endpoint", "agency", "role", "level"),
    CELLS,
    ids=[f"{e}-{a}-{r.value}-{lv}" for e, a, r, lv in CELLS],
)
def test_cell(served: World, endpoint: str, agency: str, role: Role, level: str) -> None:
    rows, error = answer(served, endpoint, agency, role, table(level))
    want = expected(agency, role, level)
    if want is None:
        assert rows is None, f"leak: {rows}"
        _, typo = answer(served, endpoint, agency, role, "welfare_safety.cases_nope")
        assert typo is not None and error == typo.replace("cases_nope", f"cases_{level}")
    else:
        assert error is None, error
        assert [list(r) for r in rows] == [[want[0], want[1]]]
    COVERED["cells"] += 1
