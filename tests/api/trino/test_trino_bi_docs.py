"""docs/trino.md's table of what BI tools send is true: each row's statement, run through the
real `trino` client as the owner of `welfare_safety.cases_*` in a UTC session, answers or fails
with the Trino error the row names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from trino.exceptions import TrinoUserError

from tests.api.trino.test_trino import Served
from tests.api.trino.test_trino_bi_statements import bi  # noqa: F401  (the served world)
from tests.api.world import OWNER

DOC = Path(__file__).parents[3] / "docs" / "trino.md"
HEADING = "## What BI tools send"


def rows() -> list[tuple[str, str]]:
    """(statement, answer) of each row of the doc's table."""
    section = DOC.read_text(encoding="utf-8").split(HEADING, 1)[1].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        found.append((cells[0].strip("`"), cells[1].strip("`")))
    return found


ROWS = rows()


def test_the_table_is_there() -> None:
    answers = {answer for _, answer in ROWS}
    assert len(ROWS) > 40 and "answered" in answers
    assert all(a == "answered" or re.fullmatch(r"[A-Z_]+", a) for a in answers), answers


@pytest.mark.parametrize(("sql", "answer"), ROWS, ids=[sql[:60] for sql, _ in ROWS])
def test_each_row_of_the_table_holds(bi: Served, sql: str, answer: str) -> None:  # noqa: F811
    with bi.connect(OWNER, timezone="UTC") as conn:
        cursor = conn.cursor()
        if answer == "answered":
            cursor.execute(sql)
            cursor.fetchall()
            return
        with pytest.raises(TrinoUserError) as raised:
            cursor.execute(sql)
            cursor.fetchall()
    assert raised.value.error_name == answer, raised.value.message
