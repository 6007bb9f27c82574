"""Trino queries as DuckDB queries over a caller's views: names resolved, metadata answered.

A query is parsed as Trino SQL (sqlglot); each table is resolved against the session's catalog
and schema and the tables the caller reads (`information_schema` and `system` tables become
literal tables, see `api.trino.metadata`); Trino's session functions are answered; Trino's
semantics (types, time zones in the session's zone, errors) are written into it
(`api.trino.semantics`); the tree is written as DuckDB SQL for the query service, which checks it
again, carrying the Trino types of its result columns. A table the caller may not read fails
exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from api.trino.errors import TrinoError, location
from api.trino.metadata import (
    INFORMATION_SCHEMA,
    INFORMATION_TABLES,
    SYSTEM_TABLES,
    Catalog,
    metadata_table,
)
from api.trino.semantics import METADATA, analyze, require_zone, zone_id
from api.trino.types import Translated
from catalog.access.statements import CATALOG

VERSION = "476"
"""The Trino release whose protocol and SQL Gongyu answers (`SELECT version()`, `/v1/info`)."""
SYSTEM = "system"
DEFAULT_TIME_ZONE = "Asia/Seoul"
"""The session's time zone when the client names none (a Trino coordinator's own zone)."""
TIME_ZONE_PROPERTY = "time_zone_id"  # the session property `SET TIME ZONE` sets
_DIVISION = "gongyu_division"  # marks a division across the copy sqlglot types


@dataclass(frozen=True)
class Session:
    """A statement's session, from the client's `X-Trino-*` headers."""

    user: str
    catalog: str | None = None
    schema: str | None = None
    prepared: Mapping[str, str] = field(default_factory=dict)
    time_zone: str = DEFAULT_TIME_ZONE  # as the client named it (`check_session` checks it)


def session_time_zone(header: str | None, properties: Iterable[str] = ()) -> str:
    """The session's time zone from the client's headers: the `time_zone_id` session property
    (`X-Trino-Session`, which `SET TIME ZONE` sets) over `X-Trino-Time-Zone`, else the default."""
    for value in properties:
        for entry in value.split(","):
            name, _, zone = entry.strip().partition("=")
            if name.strip() == TIME_ZONE_PROPERTY and zone.strip():
                return unquote_plus(zone.strip())
    return header.strip() if header and header.strip() else DEFAULT_TIME_ZONE


def set_time_zone(text: str) -> str:
    """The zone `SET TIME ZONE <text>` sets: `LOCAL` (the server's), a string naming a zone or
    an offset, or an interval `HOUR TO MINUTE` offset."""
    if text.strip().upper() == "LOCAL":
        return DEFAULT_TIME_ZONE
    try:
        select = sqlglot.parse_one(f"SELECT {text}", read="trino")
    except (ParseError, TokenError):
        raise TrinoError(
            "SYNTAX_ERROR", f"mismatched input '{text.strip()}'. Expecting: 'LOCAL', <expression>"
        ) from None
    values = select.expressions if isinstance(select, exp.Select) else []
    value = values[0] if len(values) == 1 else None
    if isinstance(value, exp.Literal) and value.is_string:
        return require_zone(value.name)
    if isinstance(value, exp.Interval) and isinstance(value.this, exp.Literal):
        sign = "-" if value.this.name.strip().startswith("-") else "+"
        hours, _, minutes = value.this.name.strip().lstrip("+-").partition(":")
        zone = (
            zone_id(f"{sign}{hours.zfill(2)}:{(minutes or '0').zfill(2)}")
            if hours.isdigit()
            else None
        )
        if zone is None:
            raise TrinoError(
                "INVALID_LITERAL", f"Invalid time zone offset interval: {value.this.name}"
            )
        return zone
    shown = value.sql("trino") if value is not None else text.strip()
    raise TrinoError(
        "TYPE_MISMATCH",
        f"Expected expression of varchar or interval day-time type, but '{shown}' has another type",
    )


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
    require_zone(session.time_zone)


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
    _answer_session_functions(tree, session)
    _name_unnamed_columns(tree)
    # Trino's semantics are written into a copy: `tree` stays the Trino query, tables resolved.
    duckdb_tree = tree.copy()
    try:
        hints = analyze(duckdb_tree, require_zone(session.time_zone), catalog, text)
    except RecursionError:
        raise TrinoError("SYNTAX_ERROR", "statement is too deeply nested") from None
    _type_integer_divisions(duckdb_tree, catalog)
    return Translated.of(duckdb_tree.sql(dialect="duckdb"), hints)


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
        fields = INFORMATION_TABLES.get(name) if catalog_name != SYSTEM else None
        types = {f.name: f.type for f in fields or SYSTEM_TABLES.get((schema, name), ())}
        select.meta[METADATA] = [
            (e.alias_or_name, types.get(e.alias_or_name)) for e in select.expressions
        ]
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
