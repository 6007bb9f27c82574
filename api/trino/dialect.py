"""Trino queries as DuckDB queries over a caller's views: names resolved, metadata answered.

A query is parsed as Trino SQL (sqlglot); each table is resolved against the session's catalog
and schema and the tables the caller reads (`information_schema` and `system` tables become
literal tables, see `api.trino.metadata`); Trino's session functions are answered; the tree is
written as DuckDB SQL for the query service, which checks it again. A table the caller may not
read fails exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from api.sql.check import CATALOG
from api.trino.errors import TrinoError, location
from api.trino.metadata import (
    INFORMATION_SCHEMA,
    INFORMATION_TABLES,
    SYSTEM_TABLES,
    Catalog,
    metadata_table,
)

VERSION = "476"
"""The Trino release whose protocol and SQL Gongyu answers (`SELECT version()`, `/v1/info`)."""
SYSTEM = "system"
_DIVISION = "gongyu_division"  # marks a division across the copy sqlglot types


@dataclass(frozen=True)
class Session:
    """A statement's session, from the client's `X-Trino-*` headers."""

    user: str
    catalog: str | None = None
    schema: str | None = None
    prepared: Mapping[str, str] = field(default_factory=dict)


def header_safe(text: str) -> bool:
    """Whether `text` may go back to the client in a response header as it is: printable ASCII
    (a line break would end the header and smuggle another; other bytes fail to encode)."""
    return text.isascii() and text.isprintable()


def check_session(session: Session) -> None:
    """Refuse a session whose names (from the client's headers) hold control characters."""
    names = {"catalog": session.catalog, "schema": session.schema}
    names |= {f"prepared statement {name!r}": name for name in session.prepared}
    for kind, name in names.items():
        if name is not None and not name.isprintable():
            raise TrinoError(
                "GENERIC_USER_ERROR", f"Invalid {kind} name: control characters are not allowed"
            )


def parse_query(text: str) -> exp.Query:
    """One Trino query; other statements are refused (the API only reads)."""
    try:
        statements = [s for s in sqlglot.parse(text, read="trino") if s is not None]
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        where = (error["line"], error["col"]) if "line" in error else None
        message = error.get("description") or str(exc).splitlines()[0]
        raise TrinoError("SYNTAX_ERROR", message, where) from None
    except TokenError as exc:
        raise TrinoError("SYNTAX_ERROR", str(exc).splitlines()[0]) from None
    except RecursionError:
        raise TrinoError("SYNTAX_ERROR", "statement is too deeply nested") from None
    if len(statements) != 1:
        raise TrinoError("SYNTAX_ERROR", f"expected one statement, got {len(statements)}")
    tree = statements[0]
    if isinstance(tree, exp.Command):
        raise TrinoError("NOT_SUPPORTED", f"{tree.name.upper()} is not supported")
    if not isinstance(tree, exp.Query):
        raise TrinoError(
            "PERMISSION_DENIED",
            f"Access Denied: only queries are allowed, not {tree.key.upper()}",
        )
    return tree


def translate(tree: exp.Query, session: Session, catalog: Catalog, text: str = "") -> str:
    """A Trino query (parsed from `text`, for error locations) as DuckDB SQL over the caller's
    views and literal metadata tables."""
    holes = list(tree.find_all(exp.Placeholder))
    if holes:
        raise TrinoError(
            "INVALID_PARAMETER_USAGE",
            f"Incorrect number of parameters: expected {len(holes)} but found 0",
        )
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    named = {c.name.lower() for c in tree.find_all(exp.Column)}
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Identifier):
            _resolve(table, session, catalog, ctes, named, text)
    _type_integer_divisions(tree, catalog)
    _answer_session_functions(tree, session)
    _name_unnamed_columns(tree)
    return tree.sql(dialect="duckdb")


def _name_unnamed_columns(tree: exp.Query) -> None:
    """Name result columns as Trino does: an expression without alias is `_col<position>`
    (DuckDB would name it after its text, e.g. `count_star()`)."""
    select: exp.Expression = tree
    while isinstance(select, exp.SetOperation):  # a set operation takes its first query's names
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, expression in enumerate(select.expressions):
        if not isinstance(expression, exp.Alias | exp.Column | exp.Star):
            expression.replace(exp.alias_(expression.copy(), f"_col{position}"))


def _type_integer_divisions(tree: exp.Query, catalog: Catalog) -> None:
    """Trino divides integers as integers (`7 / 2` is 3), DuckDB's `/` does not: type the
    operands of each division against the caller's tables, so sqlglot writes the integer ones
    as truncating division. Typing is best effort: an untyped division stays DuckDB's."""
    divisions = list(tree.find_all(exp.Div))
    if not divisions:
        return
    for number, division in enumerate(divisions):
        division.meta[_DIVISION] = number
    schema = {t.schema: {t.name: {c.name: c.type.name for c in t.columns}} for t in catalog.tables}
    try:
        typed = qualify(
            tree.copy(),
            schema=schema,
            dialect="trino",
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        annotate_types(typed, schema=schema, dialect="trino")
    except SqlglotError:
        return
    for division in typed.find_all(exp.Div):
        number = division.meta.get(_DIVISION)
        operands = (division.left, division.right)
        if number is not None and all(o.is_type(*exp.DataType.INTEGER_TYPES) for o in operands):
            divisions[number].left.type = division.left.type
            divisions[number].right.type = division.right.type


def _table_location(table: exp.Table, text: str) -> tuple[int, int] | None:
    parts = [p for p in (table.args.get(k) for k in ("catalog", "db", "this")) if p is not None]
    starts = [p.meta["start"] for p in parts if "start" in p.meta]
    return location(text, min(starts)) if starts and text else None


def _resolve(
    table: exp.Table,
    session: Session,
    catalog: Catalog,
    ctes: set[str],
    named: set[str],
    text: str,
) -> None:
    name, db, given = table.name.lower(), table.db.lower(), table.catalog.lower()
    if not db and not given and name in ctes:
        return
    where = _table_location(table, text)
    catalog_name = given or session.catalog or CATALOG
    schema = db or (session.schema if catalog_name == (session.catalog or CATALOG) else None)
    if catalog_name not in (CATALOG, SYSTEM):
        raise TrinoError("CATALOG_NOT_FOUND", f"Catalog '{catalog_name}' not found", where)
    if not schema:
        raise TrinoError(
            "MISSING_SCHEMA_NAME", "Schema must be specified when session schema is not set", where
        )
    if catalog_name == SYSTEM or schema == INFORMATION_SCHEMA:
        known = (
            (schema, name) in SYSTEM_TABLES
            if catalog_name == SYSTEM
            else name in INFORMATION_TABLES
        )
        select = metadata_table(schema, name, catalog, named) if known else None
        if select is None:
            shown = f"{catalog_name}.{schema}.{name}"
            raise TrinoError("TABLE_NOT_FOUND", f"Table '{shown}' does not exist", where)
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
        table.replace(exp.Subquery(this=select, alias=alias))
        return
    require_table(catalog, schema, name, where)
    table.set("catalog", None)
    table.set("db", exp.to_identifier(schema))
    table.set("this", exp.to_identifier(name))


def require_schema(catalog: Catalog, schema: str, where: tuple[int, int] | None = None) -> None:
    """Fail unless the caller sees the schema (a sector with a table they read)."""
    if schema not in catalog.schemas:
        raise TrinoError("SCHEMA_NOT_FOUND", f"Schema '{schema}' does not exist", where)


def require_table(
    catalog: Catalog, schema: str, name: str, where: tuple[int, int] | None = None
) -> None:
    """Fail unless the caller reads the table: the same error whether it is hidden or absent."""
    require_schema(catalog, schema, where)
    if catalog.table(schema, name) is None:
        raise TrinoError(
            "TABLE_NOT_FOUND", f"Table '{CATALOG}.{schema}.{name}' does not exist", where
        )


def _answer_session_functions(tree: exp.Expression, session: Session) -> None:
    """current_user, current_catalog, current_schema and version() as Trino answers them."""
    schema = exp.Literal.string(session.schema) if session.schema else exp.null()
    answers: dict[type[exp.Expression], exp.Expression] = {
        exp.CurrentUser: exp.Literal.string(session.user),
        exp.CurrentCatalog: exp.Literal.string(session.catalog or CATALOG),
        exp.CurrentSchema: schema,
        exp.CurrentVersion: exp.Literal.string(VERSION),
    }
    for node in list(tree.find_all(*answers)):
        node.replace(answers[type(node)].copy())
    for column in list(tree.find_all(exp.Column)):
        # Trino's `current_schema` takes no parentheses; sqlglot reads it as a column name.
        if not column.table and not column.this.quoted and column.name.lower() == "current_schema":
            column.replace(schema.copy())
