"""The datasets a product's SQL reads: every `<sector>.<table>` it names outside its CTEs.

Only the names are read here; whether the query may run (one read-only statement, functions,
the definer's entitlements) is `catalog.access.statements`' and the sandbox's to decide.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

_MAJOR = re.compile(r"_v\d+$")


class ProductSqlError(ValueError):
    """The SQL does not parse, or names a table without its sector."""


def input_tables(sql: str) -> list[tuple[str, str]]:
    """(sector, table) of every table the query reads, in order of first mention."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except (ParseError, TokenError) as exc:
        raise ProductSqlError(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise ProductSqlError("a product is one SELECT statement")
    tree = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: list[tuple[str, str]] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function: the statement rules refuse those that read anything
        name, schema = table.name.lower(), table.db.lower()
        if not schema:
            if name in ctes:
                continue
            raise ProductSqlError(
                f"name the table {table.name!r} with its sector: <sector>.<table>"
            )
        if (schema, name) not in found:
            found.append((schema, name))
    return found


def dataset_of(table: str) -> str:
    """The dataset id of a table name (`<id>` or a major version's `<id>_v<major>`)."""
    return _MAJOR.sub("", table)
