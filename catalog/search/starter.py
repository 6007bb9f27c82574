"""A starter SQL query for a search hit: its table's matched columns (or first five) and, when
the query names a place or a year, a WHERE on a column that holds one."""

from __future__ import annotations

import re

from catalog.search.analysis import query_words
from catalog.search.synonyms import synonyms
from contracts.model import Contract

FIRST = 5
LIMIT = 100
_REGION = re.compile(r"region|sido|sigungu|city|address|지역|시도|시군구|소재지|주소")
_YEAR = re.compile(r"(19|20)\d\d")
_DATES = ("date", "timestamp")


def quote(name: str) -> str:
    """A DuckDB identifier, quoted (as the SQL API reads it)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def starter_sql(contract: Contract, query: str, matched: tuple[str, ...]) -> str:
    """`SELECT <matched columns or the first five> FROM <sector>.<table> [WHERE …] LIMIT 100`."""
    columns = {c.name: c for c in contract.published_columns}
    chosen = [n for n in matched if n in columns] or list(columns)[:FIRST]
    words = [w.text for w in query_words(query)]
    where: list[str] = []
    place = next((p for p in map(synonyms().place, words) if p), None)
    year = next((w for w in words if _YEAR.fullmatch(w)), None)
    for column in columns.values():
        kind = column.logical_type.value
        if place and kind == "string" and _REGION.search(f"{column.name} {column.physical_name}"):
            where.append(f"{quote(column.name)} LIKE {_literal(f'%{place}%')}")
            place = None
        elif year and kind in _DATES:
            where.append(f"year({quote(column.name)}) = {year}")
            year = None
        elif year and kind == "integer" and column.name == "year":
            where.append(f"{quote(column.name)} = {year}")
            year = None
    sector, table = contract.table.split(".", 1)
    sql = f"SELECT {', '.join(map(quote, chosen))} FROM {quote(sector)}.{quote(table)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return f"{sql} LIMIT {LIMIT}"
