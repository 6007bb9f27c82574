"""Accept one read-only query, or refuse it with a clear reason, before DuckDB sees it.

Parsed with sqlglot, never matched as text: exactly one statement, a query (SELECT, set
operations, CTEs), tables only among the caller's policy views (or the query's own CTEs and
`information_schema`'s tables, columns and schemata), no table functions beyond series and
unnest, no function that reads files, settings or the environment. The sandbox has no file
access outside the tables' data files anyway; this check is the first of two walls. A grant's
row filter is checked here too, when the grant is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

MAX_SQL_CHARS = 100_000
CATALOG = "gongyu"
"""The catalog name Trino-style clients use; DuckDB's database of policy views has it too."""
INFORMATION_SCHEMA = {"tables", "columns", "schemata"}
# Table functions that read nothing: generated series and UNNEST.
SAFE_TABLE_FUNCTIONS = (exp.GenerateSeries, exp.Unnest, exp.Explode)
DENIED_PREFIXES = (
    "read_",
    "duckdb_",
    "pragma_",
    "parquet_",
    "iceberg_",
    "sniff_",
    "glob",
    "delta_",
    "postgres_",
    "sqlite_",
    "mysql_",
    "ducklake_",
    "load_",
    "install_",
    "which_secret",
    "json_execute",
    "http",
    "s3_",
)
DENIED_FUNCTIONS = {
    "current_setting",
    "getenv",
    "query",
    "query_table",
    "checkpoint",
    "force_checkpoint",
    "enable_logging",
    "disable_logging",
    "truncate_duckdb_logs",
    "getvariable",
    "current_schemas",
    "current_database",
    "current_catalog",
    "pg_settings",
    "shell",
    "system",
    "tf",
}


class Refused(ValueError):
    """A statement the SQL API does not run; the message says why, as a SQL error would."""


@dataclass(frozen=True)
class Checked:
    """An accepted query: its tree and the policy views it reads, as (schema, table)."""

    tree: exp.Expression
    tables: frozenset[tuple[str, str]]


def forbidden_function(func: exp.Func) -> str | None:
    """The function's name when the sandbox refuses it (files, settings, environment)."""
    name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
    if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
        return name
    return None


class NotFound(Refused):
    """A table the caller cannot see: reported exactly as a typo is."""


def not_found(name: str) -> NotFound:
    """The error for a table the caller may not read: the same as for a typo."""
    return NotFound(f"Catalog Error: Table with name {name} does not exist!")


def _parse(sql: str, dialect: str) -> exp.Expression:
    if len(sql) > MAX_SQL_CHARS:
        raise Refused(f"statement too long ({len(sql):,} characters; at most {MAX_SQL_CHARS:,})")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise Refused(f"Parser Error: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise Refused("statement too deeply nested") from None
    if len(statements) != 1:
        raise Refused(f"send exactly one statement (got {len(statements)})")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else tree.name.upper()
        raise Refused(f"only queries are allowed (SELECT, WITH, set operations), not {kind}")
    return tree


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def check_query(sql: str, allowed: set[tuple[str, str]], dialect: str = "duckdb") -> Checked:
    """Parse `sql` and refuse anything but one read-only query over `allowed` (schema, table)."""
    tree = _parse(sql, dialect)
    ctes = _cte_names(tree)
    used: set[tuple[str, str]] = set()
    try:
        nodes = list(tree.walk())
    except RecursionError:
        raise Refused("statement too deeply nested") from None
    for node in nodes:
        if isinstance(node, exp.Func) and (name := forbidden_function(node)):
            raise Refused(f"function {name}() is not available in the SQL API")
        if isinstance(node, exp.Table):
            used |= _table(node, ctes, allowed)
    return Checked(tree=tree, tables=frozenset(used))


def _table(node: exp.Table, ctes: set[str], allowed: set[tuple[str, str]]) -> set[tuple[str, str]]:
    target = node.this
    if isinstance(target, SAFE_TABLE_FUNCTIONS):
        return set()
    if not isinstance(target, exp.Identifier):
        name = target.sql_name() if isinstance(target, exp.Func) else type(target).__name__
        raise Refused(f"table function {name.lower()}() is not available in the SQL API")
    name, schema, catalog = node.name.lower(), node.db.lower(), node.catalog.lower()
    shown = ".".join(p for p in (node.catalog, node.db, node.name) if p)
    if not schema:
        if name in ctes:
            return set()
        raise not_found(shown)
    if catalog and catalog != CATALOG:
        raise not_found(shown)
    if schema == "information_schema" and name in INFORMATION_SCHEMA:
        return set()
    if (schema, name) not in allowed:
        raise not_found(shown)
    return {(schema, name)}


# A row filter is a predicate over the dataset's own columns: no subqueries, no table access.
_FILTER_FORBIDDEN = (exp.Select, exp.Subquery, exp.Table, exp.Exists, exp.Command, exp.Placeholder)


def validate_row_filter(predicate: str, columns: Iterable[str]) -> str | None:
    """An error message when `predicate` is not a plain predicate over `columns`."""
    try:
        tree = sqlglot.parse_one(predicate, read="duckdb")
    except (ParseError, RecursionError) as exc:
        return f"row filter does not parse: {str(exc).splitlines()[0]}"
    if isinstance(tree, exp.Query) or not isinstance(tree, exp.Expression):
        return "a row filter is a condition (e.g. sido = '서울'), not a statement"
    if any(isinstance(node, _FILTER_FORBIDDEN) for node in tree.walk()):
        return "a row filter may not hold subqueries or refer to tables"
    known = set(columns)
    unknown = sorted({c.name for c in tree.find_all(exp.Column)} - known)
    if unknown:
        names = ", ".join(sorted(known))
        return f"row filter names unknown column(s) {', '.join(unknown)}; known: {names}"
    for func in tree.find_all(exp.Func):
        if name := forbidden_function(func):
            return f"row filter may not call {name}()"
    return None
