"""Trino's semantics over DuckDB: each expression of a query typed as Trino types it, and
rewritten wherever DuckDB would answer differently.

- **Time zones.** A `timestamp with time zone` runs in DuckDB as an instant (TIMESTAMPTZ); the
  zone its values carry in Trino is known here for each expression (`AT TIME ZONE 'Asia/Seoul'`,
  `with_timezone`, `at_timezone`, `from_unixtime(x, zone)`, the session's zone for
  `current_timestamp` or a cast, UTC for stored columns). Everything that depends on the zone
  (`date(…)`, `date_trunc`, `hour(…)`, casts, `date_add`, `date_diff`, text) is computed on the
  wall-clock time in that zone, spelled out (`timezone(zone, x)`), so nothing depends on the
  server's own zone. A `timestamp` without zone meets a zoned one in the session's zone, as in
  Trino. Where the zone cannot be known (a zone that is not a constant), the statement is
  refused with NOT_SUPPORTED rather than answered differently.
- **Types.** `sum` of integers and `count_if` are `bigint`, `typeof` names Trino's types,
  `char(n)` is padded, `varchar(n)` truncated, intervals are Trino's two kinds, integer
  division truncates and a division by zero fails (DIVISION_BY_ZERO) instead of giving NULL.
  The result columns' types go to the client (`api.trino.types.result_types`).
- **Errors.** A column that does not exist, a function that does not, an operator between types
  Trino does not compare or add: Trino's error names, messages and locations, before DuckDB
  sees the query.

Typing is best effort: an expression whose type is not known here runs as DuckDB runs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import available_timezones

import duckdb
import sqlglot
from sqlglot import exp

from api.trino.errors import TrinoError, location
from api.trino.metadata import Catalog
from api.trino.types import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    INTERVAL_DAY_TO_SECOND,
    INTERVAL_YEAR_TO_MONTH,
    JSON_TYPE,
    REAL,
    SMALLINT,
    TINYINT,
    UNKNOWN,
    UUID_TYPE,
    VARBINARY,
    VARCHAR,
    VARCHAR_UNBOUNDED,
    TrinoType,
    array,
    char,
    decimal,
    map_type,
    row,
    time_type,
    timestamp,
    varchar,
)
from catalog.access.statements import duckdb_functions

METADATA = "gongyu_metadata_columns"  # meta of a metadata table's query: its (name, type)s
UTC = "UTC"
DEFAULT_PRECISION = 3  # `timestamp` without a precision, as Trino reads it

Type = TrinoType | None  # None: not known here

# ---------------------------------------------------------------------------------------------
# Zones

_UTC_EQUIVALENTS = frozenset(
    [
        "GMT",
        "GMT0",
        "GMT+0",
        "GMT-0",
        "Etc/GMT",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "UT",
        "UT+0",
        "UT-0",
        "Etc/UT",
        "Etc/UT+0",
        "Etc/UT-0",
        "UTC",
        "UTC+0",
        "UTC-0",
        "Etc/UTC",
        "Etc/UTC+0",
        "Etc/UTC-0",
        "+0000",
        "+00:00",
        "-0000",
        "-00:00",
        "Z",
        "Zulu",
        "UCT",
        "Greenwich",
        "Universal",
        "Etc/Universal",
        "Etc/UCT",
    ]
)
_OFFSET_PREFIXES = ("Etc/GMT", "Etc/UTC", "Etc/UT", "GMT", "UTC", "UT")
_OFFSET = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?")
_MAX_OFFSET_MINUTES = 14 * 60


@cache
def _duckdb_zones() -> frozenset[str]:
    with duckdb.connect() as con:
        return frozenset(
            r[0] for r in con.execute("SELECT name FROM pg_timezone_names()").fetchall()
        )


@cache
def _named_zones() -> frozenset[str]:
    return frozenset(available_timezones()) & _duckdb_zones()


def _offset_zone(sign: str, hours: int, minutes: int) -> str | None:
    total = hours * 60 + minutes
    if total == 0:
        return UTC
    if total > _MAX_OFFSET_MINUTES or minutes >= 60:
        return None
    return f"{sign}{hours:02d}:{minutes:02d}"


def zone_id(text: str) -> str | None:
    """Trino's id for a time zone name or offset (`UTC`, `Asia/Seoul`, `+09:00`), or None for
    one Trino does not know."""
    if text in _UTC_EQUIVALENTS:
        return UTC
    for prefix in _OFFSET_PREFIXES:
        rest = text[len(prefix) :]
        if text.startswith(prefix) and rest[:1] in ("+", "-"):
            match = re.fullmatch(r"([+-])(\d{1,2})(?::(\d{1,2}))?", rest)
            if match is None:
                return None
            sign = match[1]
            if prefix == "Etc/GMT":  # POSIX: Etc/GMT-9 is nine hours east
                sign = "-" if sign == "+" else "+"
            return _offset_zone(sign, int(match[2]), int(match[3] or 0))
    if match := _OFFSET.fullmatch(text):
        return _offset_zone(match[1], int(match[2]), int(match[3] or 0))
    return text if text in _named_zones() else None


def require_zone(text: str) -> str:
    """Trino's id for `text`, or Trino's error for a zone it does not support."""
    zone = zone_id(text)
    if zone is None:
        raise TrinoError("NOT_SUPPORTED", f"Time zone not supported: {text}")
    return zone


def _offset_minutes(zone: str) -> int | None:
    if zone[:1] not in ("+", "-"):
        return None
    minutes = int(zone[1:3]) * 60 + int(zone[4:6])
    return -minutes if zone[0] == "-" else minutes


# ---------------------------------------------------------------------------------------------
# DuckDB fragments


@cache
def _template(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def duck(sql: str, **parts: exp.Expression) -> exp.Expression:
    """A DuckDB expression from `sql`, its `{name}` placeholders replaced by `parts`."""
    tree = _template(re.sub(r"\{(\w+)\}", r"__\1", sql)).copy()
    for column in list(tree.find_all(exp.Column)):
        name = column.name
        if name.startswith("__") and name[2:] in parts:
            column.replace(parts[name[2:]].copy())
    return tree


def call(name: str, *arguments: exp.Expression) -> exp.Expression:
    """A DuckDB function call, written as it is."""
    return exp.Anonymous(this=name, expressions=[a.copy() for a in arguments])


def _lit(value: str | int) -> exp.Expression:
    return exp.Literal.string(value) if isinstance(value, str) else exp.Literal.number(value)


def to_local(instant: exp.Expression, zone: str) -> exp.Expression:
    """The wall-clock time (TIMESTAMP) in `zone` of an instant (TIMESTAMPTZ)."""
    offset = _offset_minutes(zone)
    if offset is None:
        return duck("timezone({zone}, {x})", zone=_lit(zone), x=instant)
    return duck("timezone('UTC', {x}) + to_minutes({m})", x=instant, m=_lit(offset))


def to_instant(local: exp.Expression, zone: str) -> exp.Expression:
    """The instant (TIMESTAMPTZ) a wall-clock time (TIMESTAMP) in `zone` stands for."""
    offset = _offset_minutes(zone)
    if offset is None:
        return duck("timezone({zone}, {x})", zone=_lit(zone), x=local)
    return duck("timezone('UTC', {x} - to_minutes({m}))", x=local, m=_lit(offset))


# ---------------------------------------------------------------------------------------------
# Types

_INTEGRAL = ("tinyint", "smallint", "integer", "bigint")
_NUMERIC_ORDER = ("tinyint", "smallint", "integer", "bigint", "decimal", "real", "double")
_STRINGS = ("varchar", "char")


def _raw(t: Type) -> str | None:
    return t.raw if t is not None else None


def is_integral(t: Type) -> bool:
    return _raw(t) in _INTEGRAL


def is_numeric(t: Type) -> bool:
    return _raw(t) in _NUMERIC_ORDER


def is_string(t: Type) -> bool:
    return _raw(t) in _STRINGS


def is_zoned(t: Type) -> bool:
    return _raw(t) == "timestamp with time zone"


def is_timestamp(t: Type) -> bool:
    return _raw(t) == "timestamp"


def _precision(t: Type, default: int = DEFAULT_PRECISION) -> int:
    return t.longs[0] if t is not None and t.longs else default


def _family(t: TrinoType) -> str:
    """What Trino compares or adds with what: numbers, text, moments, and the rest by name."""
    if t.raw in _NUMERIC_ORDER:
        return "number"
    if t.raw in _STRINGS:
        return "text"
    if t.raw in ("date", "timestamp", "timestamp with time zone"):
        return "moment"
    if t.raw in ("time", "time with time zone"):
        return "time"
    return t.raw


def _decimal_of(t: TrinoType) -> tuple[int, int]:
    if t.raw == "decimal":
        return t.longs[0], t.longs[1]
    return {"tinyint": (3, 0), "smallint": (5, 0), "integer": (10, 0), "bigint": (19, 0)}.get(
        t.raw, (38, 0)
    )


def supertype(a: Type, b: Type) -> Type:
    """The type two values meet in (CASE branches, COALESCE, a comparison), as Trino coerces."""
    if a is None or b is None:
        return None
    if a.raw == "unknown":
        return b
    if b.raw == "unknown":
        return a
    if a == b:
        return a if a.zone == b.zone else TrinoType(a.raw, a.longs, a.params)
    if is_numeric(a) and is_numeric(b):
        rank = max(_NUMERIC_ORDER.index(a.raw), _NUMERIC_ORDER.index(b.raw))
        if _NUMERIC_ORDER[rank] == "decimal":
            (pa_, sa), (pb, sb) = _decimal_of(a), _decimal_of(b)
            scale = max(sa, sb)
            return decimal(min(38, max(pa_ - sa, pb - sb) + scale), scale)
        return TrinoType(_NUMERIC_ORDER[rank])
    if is_string(a) and is_string(b):
        if a.raw == "char" and b.raw == "char":
            return char(max(a.longs[0], b.longs[0]))
        if VARCHAR_UNBOUNDED in (a.longs[0], b.longs[0]):
            return VARCHAR
        return varchar(max(a.longs[0], b.longs[0]))
    if _family(a) == _family(b) == "moment":
        if is_zoned(a) or is_zoned(b):
            return timestamp(max(_precision(a, 0), _precision(b, 0)), zoned=True)
        return timestamp(max(_precision(a, 0), _precision(b, 0)))
    if a.raw == b.raw and a.raw in ("array", "map", "row"):
        return TrinoType(a.raw, params=a.params) if a.params == b.params else None
    return None


def _from_datatype(dt: exp.DataType) -> Type:
    """The Trino type a sqlglot data type (of a CAST) stands for."""
    kind = dt.this
    params = [p.this.name for p in dt.expressions if isinstance(p, exp.DataTypeParam)]
    numbers = [int(p) for p in params if p.isdigit()]
    T = exp.DataType.Type
    simple = {
        T.BOOLEAN: BOOLEAN,
        T.TINYINT: TINYINT,
        T.SMALLINT: SMALLINT,
        T.INT: INTEGER,
        T.BIGINT: BIGINT,
        T.DOUBLE: DOUBLE,
        T.FLOAT: REAL,
        T.DATE: DATE,
        T.VARBINARY: VARBINARY,
        T.UUID: UUID_TYPE,
        T.JSON: JSON_TYPE,
    }
    if kind in simple:
        return simple[kind]
    if kind == T.DECIMAL:
        precision = numbers[0] if numbers else 38
        return decimal(precision, numbers[1] if len(numbers) > 1 else 0)
    if kind == T.VARCHAR:
        return varchar(numbers[0]) if numbers else VARCHAR
    if kind == T.CHAR:
        return char(numbers[0] if numbers else 1)
    if kind == T.TIMESTAMP:
        return timestamp(numbers[0] if numbers else DEFAULT_PRECISION)
    if kind in (T.TIMESTAMP_S, T.TIMESTAMP_MS, T.TIMESTAMP_NS):
        return timestamp({T.TIMESTAMP_S: 0, T.TIMESTAMP_MS: 3, T.TIMESTAMP_NS: 9}[kind])
    if kind == T.TIMESTAMPTZ:
        return timestamp(numbers[0] if numbers else DEFAULT_PRECISION, zoned=True)
    if kind == T.TIME:
        return time_type(numbers[0] if numbers else DEFAULT_PRECISION)
    if kind == T.ARRAY and dt.expressions:
        inner = _from_datatype(dt.expressions[0])
        return array(inner) if inner else None
    if kind == T.MAP and len(dt.expressions) == 2:
        key, value = (_from_datatype(e) for e in dt.expressions)
        return map_type(key, value) if key and value else None
    if kind == T.STRUCT:
        fields = []
        for column in dt.expressions:
            if isinstance(column, exp.ColumnDef) and isinstance(
                column.args.get("kind"), exp.DataType
            ):
                inner = _from_datatype(column.args["kind"])
                if inner is None:
                    return None
                fields.append((column.name, inner))
            else:
                return None
        return row(fields)
    return None


def _literal_number(text: str) -> Type:
    if "e" in text.lower():
        return DOUBLE
    if "." in text:
        try:
            _, digits, exponent = Decimal(text).as_tuple()
        except InvalidOperation:
            return DOUBLE
        scale = -int(exponent)
        significant = len(digits) - next((i for i, d in enumerate(digits) if d), len(digits))
        return decimal(max(significant, scale, 1), scale)
    try:
        value = int(text)
    except ValueError:
        return None  # a form DuckDB reads its own way (hexadecimal, digit separators)
    if -(2**31) <= value < 2**31:
        return INTEGER
    if -(2**63) <= value < 2**63:
        return BIGINT
    return decimal(len(text.lstrip("-")), 0)


_TIMESTAMP_TEXT = re.compile(
    r"\s*(\d{4,}-\d{1,2}-\d{1,2})(?:[ T](\d{1,2}:\d{1,2}(?::\d{1,2})?)(?:\.(\d{1,12}))?)?"
    r"(?:\s*(\S+))?\s*"
)


def _parse_timestamp(text: str) -> tuple[str, int, str | None] | None:
    """(ISO local text, fraction digits, zone or None) of a timestamp literal's text."""
    match = _TIMESTAMP_TEXT.fullmatch(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    local = f"{day} {clock or '00:00:00'}" + (f".{fraction}" if fraction else "")
    return local, len(fraction or ""), zone


# ---------------------------------------------------------------------------------------------
# Intervals

_DAY_SECOND_UNITS = {
    "DAY": 86_400_000_000,
    "HOUR": 3_600_000_000,
    "MINUTE": 60_000_000,
    "SECOND": 1_000_000,
}


def _interval_micros(text: str, start: str, end: str | None) -> int | None:
    """Microseconds of a day-to-second interval literal (`'1 02:03:04.5' DAY TO SECOND`)."""
    negative = text.strip().startswith("-")
    body = text.strip().lstrip("+-")
    units = ["DAY", "HOUR", "MINUTE", "SECOND"]
    fields = units[units.index(start) : units.index(end or start) + 1]
    parts = re.split(r"[ :]", body)
    if len(parts) != len(fields):
        return None
    total = Decimal(0)
    try:
        for unit, part in zip(fields, parts, strict=True):
            total += Decimal(part) * _DAY_SECOND_UNITS[unit]
    except InvalidOperation:
        return None
    micros = int(total)
    return -micros if negative else micros


def _interval_months(text: str, start: str, end: str | None) -> int | None:
    negative = text.strip().startswith("-")
    body = text.strip().lstrip("+-")
    try:
        if end == "MONTH" and start == "YEAR":
            years, _, months = body.partition("-")
            total = int(years) * 12 + int(months)
        elif start == "YEAR":
            total = int(body) * 12
        else:
            total = int(body)
    except ValueError:
        return None
    return -total if negative else total


# ---------------------------------------------------------------------------------------------
# Scopes


@dataclass
class Relation:
    """A relation of a FROM clause: its columns by name (None: not known here)."""

    columns: dict[str, Type] | None
    order: list[str] = field(default_factory=list)


@dataclass
class Scope:
    """What names mean in one query: its relations, the enclosing query's, lambda parameters and
    (for ORDER BY) the select list's names."""

    relations: dict[str, Relation] = field(default_factory=dict)
    parent: Scope | None = None
    outputs: dict[str, Type] | None = None
    lambdas: dict[str, Type] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        """True when some relation's columns are not known (nothing can be refused as unknown)."""
        return any(r.columns is None for r in self.relations.values())


@dataclass(frozen=True)
class Output:
    """A query's result columns: names and types (None: the query's shape is not known)."""

    columns: list[tuple[str, Type]] | None

    def first(self) -> Type:
        return self.columns[0][1] if self.columns else None


# Functions whose answer does not depend on the zone of a zoned argument.
_ZONE_NEUTRAL = frozenset(
    [
        "count",
        "max",
        "min",
        "arbitrary",
        "any_value",
        "array_agg",
        "approx_distinct",
        "coalesce",
        "greatest",
        "least",
        "nullif",
        "if",
        "max_by",
        "min_by",
        "first_value",
        "last_value",
        "lag",
        "lead",
        "nth_value",
        "element_at",
        "contains",
        "cardinality",
        "array_distinct",
        "array_sort",
        "array_max",
        "array_min",
        "to_unixtime",
        "epoch",
    ]
)
_DAY_OR_LONGER = ("day", "week", "month", "quarter", "year")
_TIMESTAMP_UNITS = ("millisecond", "second", "minute", "hour", *_DAY_OR_LONGER)


class Analyzer:
    """Types and rewrites one query (in place) for one session."""

    def __init__(self, zone: str, catalog: Catalog, text: str) -> None:
        self.zone = zone
        self.catalog = catalog
        self.text = text
        self.ctes: list[dict[str, Output]] = []

    # -- errors and locations ----------------------------------------------------------------

    def where(self, node: exp.Expression) -> tuple[int, int] | None:
        """Where `node` starts in the statement's text (when it came from the text)."""
        starts = [n.meta["start"] for n in node.walk() if "start" in n.meta]
        if not starts or not self.text:
            return None
        return location(self.text, min(starts))

    def operator_at(self, node: exp.Binary, symbol: str) -> tuple[int, int] | None:
        """Where a binary operator's symbol is (Trino reports operator errors there)."""
        ends = [n.meta["end"] for n in node.left.walk() if "end" in n.meta]
        starts = [n.meta["start"] for n in node.right.walk() if "start" in n.meta]
        if not ends or not starts or not self.text:
            return self.where(node)
        found = self.text.find(symbol, max(ends) + 1, min(starts))
        return location(self.text, found) if found >= 0 else self.where(node)

    def refuse(self, message: str, node: exp.Expression) -> TrinoError:
        return TrinoError("NOT_SUPPORTED", message, self.where(node))

    # -- queries ------------------------------------------------------------------------------

    def query(self, node: exp.Expression, outer: Scope | None) -> Output:
        """Type and rewrite a query; its result columns."""
        with_ = node.args.get("with_")
        self.ctes.append({})
        try:
            if isinstance(with_, exp.With):
                for cte in with_.expressions:
                    output = self.query(cte.this, outer)
                    names = (
                        [c.name.lower() for c in cte.args["alias"].columns]
                        if cte.args.get("alias")
                        else []
                    )
                    self.ctes[-1][cte.alias_or_name.lower()] = _renamed(output, names)
            if isinstance(node, exp.Subquery):
                return self.query(node.this, outer)
            if isinstance(node, exp.SetOperation):
                return self.set_operation(node, outer)
            if isinstance(node, exp.Select):
                return self.select(node, outer)
            if isinstance(node, exp.Values):
                return self.values(node, outer or Scope())
            self.generic(node, outer or Scope())
            return Output(None)
        finally:
            self.ctes.pop()

    def set_operation(self, node: exp.SetOperation, outer: Scope | None) -> Output:
        left = self.query(node.left, outer)
        right = self.query(node.right, outer)
        columns = None
        if (
            left.columns is not None
            and right.columns is not None
            and len(left.columns) == len(right.columns)
        ):
            columns = [
                (name, supertype(t, u))
                for (name, t), (_, u) in zip(left.columns, right.columns, strict=True)
            ]
        scope = Scope(parent=outer, outputs=dict(columns) if columns else None)
        for key in ("order", "limit", "offset"):
            if isinstance(node.args.get(key), exp.Expression):
                self.generic(node.args[key], scope)
        return Output(columns)

    def values(self, node: exp.Values, scope: Scope) -> Output:
        rows = []
        for tuple_ in node.expressions:
            items = tuple_.expressions if isinstance(tuple_, exp.Tuple) else [tuple_]
            rows.append([self.expr(item, scope) for item in list(items)])
        if not rows:
            return Output(None)
        types = rows[0]
        for other in rows[1:]:
            if len(other) != len(types):
                return Output(None)
            types = [supertype(a, b) for a, b in zip(types, other, strict=True)]
        return Output([(f"_col{i}", t) for i, t in enumerate(types)])

    def select(self, node: exp.Select, outer: Scope | None) -> Output:
        scope = Scope(parent=outer)
        from_ = node.args.get("from_")
        if isinstance(from_, exp.From):
            self.source(from_.this, scope)
        for join in node.args.get("joins") or []:
            self.source(join.this, scope)
            if isinstance(join.args.get("on"), exp.Expression):
                self.expr(join.args["on"], scope)
        for key in ("where", "group", "having", "qualify"):
            if isinstance(node.args.get(key), exp.Expression):
                self.clause(node.args[key], scope)
        columns: list[tuple[str, Type]] | None = []
        for position, item in enumerate(list(node.expressions)):
            if isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            ):
                expanded = self.star(item, scope) if columns is not None else None
                columns = None if expanded is None or columns is None else columns + expanded
                continue
            t = self.expr(item, scope)
            item = node.expressions[position]
            if columns is not None:
                columns.append((_output_name(item, position), t))
        for window in node.args.get("windows") or []:
            self.generic(window, scope)
        order_scope = Scope(parent=scope, outputs=dict(columns) if columns else {})
        order_scope.relations = scope.relations
        for key in ("order", "limit", "offset", "distinct"):
            if isinstance(node.args.get(key), exp.Expression):
                self.clause(node.args[key], order_scope)
        return Output(columns)

    def clause(self, node: exp.Expression, scope: Scope) -> None:
        """A clause's expressions (ordinals in GROUP BY and ORDER BY name select items)."""
        for child in list(node.iter_expressions()):
            if isinstance(child, exp.Literal) and not child.is_string:
                continue
            if isinstance(child, exp.Ordered):
                if isinstance(child.this, exp.Literal) and not child.this.is_string:
                    continue
                self.expr(child.this, scope)
                continue
            if isinstance(child, exp.Query):
                self.query(child, scope)
            else:
                self.expr(child, scope)

    def star(self, item: exp.Expression, scope: Scope) -> list[tuple[str, Type]] | None:
        qualifier = item.table.lower() if isinstance(item, exp.Column) else ""
        relations = (
            ([scope.relations[qualifier]] if qualifier in scope.relations else [])
            if qualifier
            else list(scope.relations.values())
        )
        columns: list[tuple[str, Type]] = []
        for relation in relations:
            if relation.columns is None:
                return None
            columns += [(name, relation.columns[name]) for name in relation.order]
        return columns if relations else None

    def source(self, node: exp.Expression, scope: Scope) -> None:
        """Add a FROM item's relation to `scope`."""
        alias = node.args.get("alias")
        alias_name = alias.name.lower() if isinstance(alias, exp.TableAlias) and alias.name else ""
        names = [c.name.lower() for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
        output: Output
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            output = self.table(node)
            alias_name = alias_name or node.name.lower()
        elif isinstance(node, exp.Subquery) and METADATA in node.this.meta:
            output = Output(list(node.this.meta[METADATA]))
        elif isinstance(node, exp.Subquery | exp.Lateral):
            inner = node.this
            output = self.query(inner, scope if isinstance(node, exp.Lateral) else scope.parent)
        elif isinstance(node, exp.Values):
            output = self.values(node, scope)
        elif isinstance(node, exp.Unnest):
            output = self.unnest(node, scope)
        else:  # a table function: the query service refuses or runs it as it is
            output = Output(None)
        output = _renamed(output, names)
        if output.columns is None:
            scope.relations[alias_name] = Relation(None)
        else:
            columns = {}
            for name, t in output.columns:
                columns.setdefault(name.lower(), t)
            scope.relations[alias_name] = Relation(columns, [n.lower() for n, _ in output.columns])

    def table(self, node: exp.Table) -> Output:
        name, schema = node.name.lower(), node.db.lower()
        if not schema:
            for ctes in reversed(self.ctes):
                if name in ctes:
                    return ctes[name]
            return Output(None)
        info = self.catalog.table(schema, name)
        if info is None:
            return Output(None)
        return Output([(c.name, _stored(c.type)) for c in info.columns])

    def unnest(self, node: exp.Unnest, scope: Scope) -> Output:
        types: list[Type] = []
        for argument in list(node.expressions):
            t = self.expr(argument, scope)
            if _raw(t) == "array":
                types.append(t.params[0][1])
            elif _raw(t) == "map":
                types += [t.params[0][1], t.params[1][1]]
            elif _raw(t) == "array" or t is None:
                types.append(None)
            else:
                types.append(None)
        if node.args.get("offset") is not None:
            types.append(BIGINT)
        return Output([(f"_col{i}", t) for i, t in enumerate(types)])

    def generic(self, node: exp.Expression, scope: Scope) -> None:
        """Every expression under a node this analysis does not model."""
        for child in list(node.iter_expressions()):
            self.value(child, scope)

    # -- expressions --------------------------------------------------------------------------

    def value(self, node: exp.Expression, scope: Scope) -> Type:
        if isinstance(node, exp.DataType | exp.Var | exp.Identifier | exp.DataTypeParam):
            return None
        if isinstance(node, exp.IntervalSpan | exp.TableAlias):
            return None
        if isinstance(node, exp.Query):
            return self.query(node, scope).first()
        return self.expr(node, scope)

    def children(self, node: exp.Expression, scope: Scope) -> dict[str, Type | list[Type]]:
        """Type (and rewrite) every argument of `node`, by argument name."""
        types: dict[str, Type | list[Type]] = {}
        for key, value in list(node.args.items()):
            if isinstance(value, list):
                types[key] = [
                    self.value(v, scope) for v in list(value) if isinstance(v, exp.Expression)
                ]
            elif isinstance(value, exp.Expression):
                types[key] = self.value(value, scope)
        return types

    def expr(self, node: exp.Expression, scope: Scope) -> Type:
        """The Trino type of `node`; `node` is rewritten (replaced) where DuckDB differs."""
        for kind in type(node).__mro__:
            handler = _HANDLERS.get(kind)  # type: ignore[arg-type]
            if handler is not None:
                return handler(self, node, scope)
            if kind is exp.Func:
                break
        return self.function(node, scope) if isinstance(node, exp.Func) else self.other(node, scope)

    def other(self, node: exp.Expression, scope: Scope) -> Type:
        self.children(node, scope)
        return None

    def function(self, node: exp.Func, scope: Scope) -> Type:
        """A function this analysis has no rule for: its arguments typed; one that DuckDB does
        not have either fails as Trino's unknown function; a zoned argument is refused unless
        the function does not depend on zones."""
        types = self.children(node, scope)
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if isinstance(node, exp.Anonymous) and name not in duckdb_functions():
            raise TrinoError(
                "FUNCTION_NOT_FOUND", f"Function '{name}' not registered", self.where(node)
            )
        flat = [t for v in types.values() for t in (v if isinstance(v, list) else [v])]
        if any(is_zoned(t) for t in flat) and name not in _ZONE_NEUTRAL:
            raise self.refuse(
                f"{name}() of a timestamp with time zone is not supported: convert it with "
                "AT TIME ZONE, date() or CAST first",
                node,
            )
        return _FUNCTION_TYPES.get(name, lambda _: None)(flat)

    def zoned(self, node: exp.Expression, t: Type) -> str:
        """The zone of a zoned value, or NOT_SUPPORTED when it is not known here."""
        if t is not None and t.zone:
            return t.zone
        raise self.refuse(
            "the time zone of this timestamp with time zone is not known before the query runs; "
            "name it with AT TIME ZONE",
            node,
        )

    def as_instant(self, node: exp.Expression, t: Type) -> tuple[exp.Expression, Type]:
        """`node` as a zoned value: a timestamp or date is read in the session's zone."""
        if is_zoned(t):
            return node, t
        if is_timestamp(t) or _raw(t) == "date":
            local = node if is_timestamp(t) else exp.cast(node.copy(), "TIMESTAMP")
            converted = to_instant(local.copy(), self.zone)
            return converted, timestamp(_precision(t, 0), self.zone)
        return node, t

    def local(self, node: exp.Expression, t: Type) -> exp.Expression:
        """A zoned value as its wall-clock time in its zone (others as they are)."""
        if is_zoned(t):
            return to_local(node.copy(), self.zoned(node, t))
        return node


def _renamed(output: Output, names: list[str]) -> Output:
    if not names or output.columns is None:
        return output
    if len(names) != len(output.columns):
        return Output(None)
    return Output([(n, t) for n, (_, t) in zip(names, output.columns, strict=True)])


def _stored(t: TrinoType) -> TrinoType:
    """A stored column's type: zoned timestamps are read in UTC, as Trino's Iceberg tables."""
    if is_zoned(t):
        return TrinoType(t.raw, t.longs, t.params, UTC)
    return t


def _output_name(item: exp.Expression, position: int) -> str:
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    if isinstance(item, exp.Dot):
        return item.name
    return f"_col{position}"


# ---------------------------------------------------------------------------------------------
# Handlers


def _column(a: Analyzer, node: exp.Column, scope: Scope) -> Type:
    name = node.name.lower()
    qualifier = node.table.lower()
    shown = ".".join(p for p in (node.table, node.name) if p)
    level: Scope | None = scope
    while level is not None:
        if not qualifier:
            if name in level.lambdas:
                return level.lambdas[name]
            if (
                level.outputs is not None
                and name in level.outputs
                and not any(
                    r.columns is not None and name in r.columns for r in level.relations.values()
                )
            ):
                return level.outputs[name]
            for relation in level.relations.values():
                if relation.columns is not None and name in relation.columns:
                    return relation.columns[name]
            if level.open:
                return None
        else:
            relation = level.relations.get(qualifier)
            if relation is not None:
                if relation.columns is None:
                    return None
                if name in relation.columns:
                    return relation.columns[name]
                break
            # `x.field`: a field of a row column x
            for other in level.relations.values():
                if other.columns is not None and qualifier in other.columns:
                    return _field_type(other.columns[qualifier], name)
            if level.open:
                return None
        level = level.parent
    raise TrinoError("COLUMN_NOT_FOUND", f"Column '{shown}' cannot be resolved", a.where(node))


def _field_type(t: Type, name: str) -> Type:
    if _raw(t) == "row":
        for field_name, field_type in t.params:
            if field_name and field_name.lower() == name:
                return field_type
    return None


def _literal(a: Analyzer, node: exp.Literal, scope: Scope) -> Type:
    if node.is_string:
        return varchar(len(node.this))
    return _literal_number(node.this)


def _null(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    return UNKNOWN


def _boolean(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return BOOLEAN


def _paren(a: Analyzer, node: exp.Paren, scope: Scope) -> Type:
    return a.expr(node.this, scope)


def _alias(a: Analyzer, node: exp.Alias, scope: Scope) -> Type:
    return a.expr(node.this, scope)


def _neg(a: Analyzer, node: exp.Neg, scope: Scope) -> Type:
    return a.expr(node.this, scope)


def _subquery(a: Analyzer, node: exp.Subquery, scope: Scope) -> Type:
    return a.query(node.this, scope).first()


def _exists(a: Analyzer, node: exp.Exists, scope: Scope) -> Type:
    a.query(node.this, scope)
    return BOOLEAN


def _hex(a: Analyzer, node: exp.HexString, scope: Scope) -> Type:
    return VARBINARY


def _interval(a: Analyzer, node: exp.Interval, scope: Scope) -> Type:
    """Interval literals: day-to-second ones as microseconds (an exact duration in DuckDB too),
    year-to-month ones as months."""
    unit = node.args.get("unit")
    if isinstance(unit, exp.IntervalSpan):
        start, end = unit.this.name.upper(), unit.expression.name.upper()
    elif isinstance(unit, exp.Var):
        start, end = unit.name.upper(), None
    else:
        a.children(node, scope)
        return None
    value = node.this
    if not isinstance(value, exp.Literal):
        a.children(node, scope)
        return None
    start, end = start.rstrip("S"), end.rstrip("S") if end else None
    if start in ("YEAR", "MONTH"):
        months = _interval_months(value.name, start, end)
        if months is None:
            raise TrinoError(
                "INVALID_LITERAL", f"'{value.name}' is not a valid INTERVAL literal", a.where(node)
            )
        node.replace(duck("to_months({n})", n=_lit(months)))
        return INTERVAL_YEAR_TO_MONTH
    if start in _DAY_SECOND_UNITS and (end is None or end in _DAY_SECOND_UNITS):
        micros = _interval_micros(value.name, start, end)
        if micros is None:
            raise TrinoError(
                "INVALID_LITERAL", f"'{value.name}' is not a valid INTERVAL literal", a.where(node)
            )
        node.replace(duck("to_microseconds({n})", n=exp.cast(_lit(micros), "BIGINT")))
        return INTERVAL_DAY_TO_SECOND
    return None


def _cast(a: Analyzer, node: exp.Cast, scope: Scope) -> Type:
    target = node.args.get("to")
    source = a.expr(node.this, scope)
    t = _from_datatype(target) if isinstance(target, exp.DataType) else None
    if t is None:
        return None
    value = node.this
    if (
        isinstance(value, exp.Literal)
        and value.is_string
        and t.raw in ("timestamp", "timestamp with time zone")
    ):
        return _timestamp_literal(a, node, value.name, t)
    if t.raw == "timestamp with time zone":
        if is_zoned(source):
            return TrinoType(t.raw, t.longs, zone=source.zone)
        if is_timestamp(source) or _raw(source) == "date":
            converted, _ = a.as_instant(value, source)
            node.replace(converted)
            return timestamp(t.longs[0], a.zone)
        if is_string(source):
            # A zone in the text is kept; text without one is read in the session's zone.
            text = value.copy()
            node.replace(
                duck(
                    "CASE WHEN regexp_matches(trim({s}), "
                    "'(\\d\\d:\\d\\d(:\\d\\d(\\.\\d*)?)?|\\d)\\s*"
                    "([A-Za-z][\\w/+-]*|[+-]\\d\\d(:?\\d\\d)?)$') "
                    "THEN CAST({s} AS TIMESTAMPTZ) ELSE {local} END",
                    s=text,
                    local=to_instant(exp.cast(text.copy(), "TIMESTAMP"), a.zone),
                )
            )
            return TrinoType(t.raw, t.longs)
        return t
    if t.raw == "timestamp":
        if is_zoned(source):
            node.replace(a.local(value, source))
            return t
        return t
    if t.raw == "date" and is_zoned(source):
        node.replace(exp.cast(a.local(value, source), "DATE"))
        return t
    if t.raw in ("varchar", "char") and (is_zoned(source) or is_timestamp(source)):
        text = _timestamp_text(a, value, source)
        if t.raw == "char" or t.longs[0] != VARCHAR_UNBOUNDED:
            text = _fit_text(text, t)
        node.replace(text)
        return t
    if t.raw == "char":
        node.replace(_fit_text(exp.cast(value.copy(), "VARCHAR"), t))
        return t
    if t.raw == "varchar" and t.longs[0] != VARCHAR_UNBOUNDED:
        node.replace(_fit_text(exp.cast(value.copy(), "VARCHAR"), t))
        return t
    if t.raw == "varbinary" and is_string(source):
        node.replace(duck("encode({x})", x=value))
        return t
    return t


def _fit_text(text: exp.Expression, t: TrinoType) -> exp.Expression:
    """Text cut to a `varchar(n)`, or cut and padded to a `char(n)`."""
    cut = duck("substr({x}, 1, {n})", x=text, n=_lit(t.longs[0]))
    if t.raw == "char":
        return duck("rpad({x}, {n}, ' ')", x=cut, n=_lit(t.longs[0]))
    return cut


def _timestamp_text(a: Analyzer, value: exp.Expression, t: TrinoType) -> exp.Expression:
    """A timestamp as Trino's text: `2024-01-01 05:00:00.000`, zoned ones with their zone."""
    digits = _precision(t, 0)
    local = a.local(value, t)
    pattern = "%Y-%m-%d %H:%M:%S" + ("" if digits == 0 else ".%f" if digits > 3 else ".%g")
    text = duck("strftime({x}, {f})", x=local, f=_lit(pattern))
    if 0 < digits < 6 and digits != 3:
        text = duck("substr({x}, 1, {n})", x=text, n=_lit(20 + digits))
    if is_zoned(t):
        text = duck("{x} || {z}", x=text, z=_lit(" " + a.zoned(value, t)))
    return text


def _timestamp_literal(a: Analyzer, node: exp.Expression, text: str, t: TrinoType) -> Type:
    """A timestamp from constant text: its zone (if it names one, else the session's for a
    zoned type) known before the query runs."""
    parsed = _parse_timestamp(text)
    zoned = t.raw == "timestamp with time zone"
    zone = zone_id(parsed[2]) if parsed is not None and parsed[2] is not None else None
    if parsed is None or (parsed[2] is not None and zone is None):
        if isinstance(node, exp.TryCast):
            node.replace(exp.cast(exp.null(), "TIMESTAMPTZ" if zoned else "TIMESTAMP"))
            return t
        raise TrinoError(
            "INVALID_CAST_ARGUMENT", f"Value cannot be cast to timestamp: {text}", a.where(node)
        )
    local = exp.cast(_lit(parsed[0]), "TIMESTAMP")
    precision = t.longs[0]
    if not zoned:  # a zone in the text is dropped: the wall-clock time stays
        node.replace(local)
        return timestamp(precision)
    zone = zone or a.zone
    node.replace(to_instant(local, zone))
    return timestamp(precision, zone)


def _at_time_zone(a: Analyzer, node: exp.AtTimeZone, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    zone = _zone_argument(a, node.args["zone"], node)
    return _in_zone(a, node, node.this, t, zone)


def _in_zone(a: Analyzer, node: exp.Expression, value: exp.Expression, t: Type, zone: str) -> Type:
    """`value` (of type t) as the same instant in `zone`; `node` is replaced by it."""
    if _raw(t) in ("time", "time with time zone"):
        raise a.refuse("AT TIME ZONE of a time is not supported", node)
    if t is None or not (is_zoned(t) or is_timestamp(t) or _raw(t) == "date"):
        if t is not None and t.raw != "unknown":
            raise TrinoError(
                "TYPE_MISMATCH",
                "Type of value must be a time or timestamp with or without time zone "
                f"(actual {t.name})",
                a.where(node),
            )
        raise a.refuse("AT TIME ZONE of a value of unknown type is not supported", node)
    instant, typed = a.as_instant(value, t)
    node.replace(instant.copy())
    return timestamp(_precision(typed, 0), zone)


def _zone_argument(a: Analyzer, argument: exp.Expression, node: exp.Expression) -> str:
    """The zone a constant argument names: a string, or an interval for an offset."""
    if isinstance(argument, exp.Literal) and argument.is_string:
        zone = zone_id(argument.name)
        if zone is None:
            raise TrinoError("NOT_SUPPORTED", f"Time zone not supported: {argument.name}")
        return zone
    if isinstance(argument, exp.Interval) and isinstance(argument.this, exp.Literal):
        unit = argument.args.get("unit")
        start = unit.this.name.upper() if isinstance(unit, exp.IntervalSpan) else unit.name.upper()
        end = unit.expression.name.upper() if isinstance(unit, exp.IntervalSpan) else None
        micros = _interval_micros(
            argument.this.name, start.rstrip("S"), end.rstrip("S") if end else None
        )
        if micros is not None and micros % 60_000_000 == 0:
            minutes = micros // 60_000_000
            zone = _offset_zone("-" if minutes < 0 else "+", abs(minutes) // 60, abs(minutes) % 60)
            if zone is not None:
                return zone
        raise TrinoError("INVALID_LITERAL", "Invalid time zone offset interval", a.where(argument))
    raise a.refuse("a time zone that is not a constant is not supported", node)


def _anonymous(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    name = node.name.lower()
    rule = _NAMED.get(name)
    if rule is None:
        return a.function(node, scope)
    return rule(a, node, scope)


def _with_timezone(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    args = node.expressions
    if len(args) != 2:
        return a.function(node, scope)
    t = a.expr(args[0], scope)
    zone = _zone_argument(a, node.expressions[1], node)
    value = node.expressions[0]
    if not (is_timestamp(t) or _raw(t) == "date"):
        if t is None:
            raise a.refuse("with_timezone of a value of unknown type is not supported", node)
        raise _unexpected(a, node, "with_timezone", [t, varchar(len(zone))])
    local = value if is_timestamp(t) else exp.cast(value.copy(), "TIMESTAMP")
    node.replace(to_instant(local.copy(), zone))
    return timestamp(_precision(t, 0), zone)


def _at_timezone(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    args = node.expressions
    if len(args) != 2:
        return a.function(node, scope)
    t = a.expr(args[0], scope)
    zone = _zone_argument(a, node.expressions[1], node)
    return _in_zone(a, node, node.expressions[0], t, zone)


def _unexpected(a: Analyzer, node: exp.Expression, name: str, types: list[Type]) -> TrinoError:
    shown = ", ".join(t.name if t else "unknown" for t in types)
    return TrinoError(
        "FUNCTION_NOT_FOUND", f"Unexpected parameters ({shown}) for function {name}", a.where(node)
    )


def _current_timezone(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    node.replace(_lit(a.zone))
    return varchar(len(a.zone))


def _now_ms() -> exp.Expression:
    return duck("date_trunc('millisecond', now())")


def _now_precision(a: Analyzer, node: exp.Expression) -> int:
    """`current_timestamp(p)`'s precision (3 without one); values keep at most DuckDB's 6."""
    given = node.this if isinstance(node.this, exp.Literal) else None
    if given is None and node.this is not None:
        raise a.refuse("a precision that is not a constant is not supported", node)
    return int(given.this) if given is not None else 3


def _current_timestamp(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    precision = _now_precision(a, node)
    node.replace(_now_ms() if precision <= 3 else duck("now()"))
    return timestamp(precision, a.zone)


def _localtimestamp(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    precision = _now_precision(a, node)
    node.replace(to_local(_now_ms() if precision <= 3 else duck("now()"), a.zone))
    return timestamp(precision)


def _current_date(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    node.replace(exp.cast(to_local(duck("now()"), a.zone), "DATE"))
    return DATE


def _localtime(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    node.replace(exp.cast(to_local(_now_ms(), a.zone), "TIME"))
    return time_type(3)


def _current_time(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    raise a.refuse("current_time (time with time zone) is not supported: use localtime", node)


def _from_unixtime(a: Analyzer, node: exp.UnixToTime, scope: Scope) -> Type:
    seconds = node.this
    t = a.expr(seconds, scope)
    zone_arg, hours, minutes = (node.args.get(k) for k in ("zone", "hours", "minutes"))
    if node.args.get("scale") is not None or node.args.get("format") is not None:
        return a.function(node, scope)
    if hours is not None:
        if not all(isinstance(x, exp.Literal) and not x.is_string for x in (hours, minutes)):
            raise a.refuse(
                "from_unixtime with an offset that is not a constant is not supported", node
            )
        h, m = int(hours.name), int(minutes.name)
        total = h * 60 + m
        zone = _offset_zone("-" if total < 0 else "+", abs(total) // 60, abs(total) % 60)
        if zone is None:
            raise TrinoError(
                "INVALID_FUNCTION_ARGUMENT", f"Invalid offset minutes {total}", a.where(node)
            )
    elif zone_arg is not None:
        zone = _zone_argument(a, zone_arg, node)
    else:
        zone = a.zone
    if t is not None and not is_numeric(t) and t.raw != "unknown":
        raise _unexpected(a, node, "from_unixtime", [t])
    # Trino's from_unixtime takes a double and keeps milliseconds (rounded)
    node.replace(duck("to_timestamp(round(CAST({x} AS DOUBLE) * 1000) / 1000)", x=node.this))
    return timestamp(3, zone)


def _to_unixtime(a: Analyzer, node: exp.TimeToUnix, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    instant, _ = a.as_instant(node.this, t)
    node.replace(duck("epoch({x})", x=instant))
    return DOUBLE


def _date(a: Analyzer, node: exp.Date, scope: Scope) -> Type:
    if node.args.get("expressions") or node.args.get("zone") or node.this is None:
        return a.function(node, scope)
    t = a.expr(node.this, scope)
    if is_zoned(t):
        node.replace(exp.cast(a.local(node.this, t), "DATE"))
    return DATE


def _unit_of(node: exp.Expression) -> str | None:
    unit = node.args.get("unit")
    if isinstance(unit, exp.Var | exp.Literal | exp.Identifier | exp.Column):
        return unit.name.lower()
    return None


def _date_trunc(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    if node.args.get("zone") is not None:
        return a.function(node, scope)
    t = a.expr(node.this, scope)
    unit = _unit_of(node)
    if unit is None:
        raise a.refuse("date_trunc with a unit that is not a constant is not supported", node)
    value = node.this
    if _raw(t) == "date":
        if unit not in _DAY_OR_LONGER:
            raise TrinoError(
                "INVALID_FUNCTION_ARGUMENT", f"'{unit}' is not a valid DATE field", a.where(node)
            )
        node.replace(exp.cast(call("date_trunc", _lit(unit), value), "DATE"))
        return DATE
    if unit not in _TIMESTAMP_UNITS:
        raise TrinoError(
            "INVALID_FUNCTION_ARGUMENT", f"'{unit}' is not a valid Timestamp field", a.where(node)
        )
    if is_zoned(t):
        zone = a.zoned(value, t)
        truncated = call("date_trunc", _lit(unit), to_local(value.copy(), zone))
        node.replace(to_instant(truncated, zone))
        return t
    node.replace(call("date_trunc", _lit(unit), value))
    return t


_EXTRACTS = {
    exp.Year: "year",
    exp.Quarter: "quarter",
    exp.Month: "month",
    exp.Day: "day",
    exp.DayOfMonth: "day",
    exp.Hour: "hour",
    exp.Minute: "minute",
    exp.Second: "second",
    exp.DayOfWeekIso: "isodow",
    exp.DayOfYear: "dayofyear",
    exp.WeekOfYear: "week",
    exp.Week: "week",
    exp.YearOfWeek: "isoyear",
}
_EXTRACT_FIELDS = {
    "year": "year",
    "quarter": "quarter",
    "month": "month",
    "week": "week",
    "day": "day",
    "day_of_month": "day",
    "day_of_week": "isodow",
    "dow": "isodow",
    "day_of_year": "dayofyear",
    "doy": "dayofyear",
    "year_of_week": "isoyear",
    "yow": "isoyear",
    "hour": "hour",
    "minute": "minute",
    "second": "second",
    "timezone_hour": "timezone_hour",
    "timezone_minute": "timezone_minute",
}


def _part(a: Analyzer, node: exp.Expression, value: exp.Expression, t: Type, part: str) -> Type:
    """`part` of a date or timestamp (zoned ones in their zone), as Trino's bigint."""
    if part in ("timezone_hour", "timezone_minute"):
        if not is_zoned(t):
            raise a.refuse(f"{part} of a value without time zone", node)
        zone = a.zoned(value, t)
        offset = duck("epoch({l}) - epoch({x})", l=to_local(value.copy(), zone), x=value)
        formula = (
            "CAST(trunc(({o}) / 3600) AS BIGINT)"
            if part == "timezone_hour"
            else "CAST(trunc((({o}) % 3600) / 60) AS BIGINT)"
        )
        node.replace(duck(formula, o=offset))
        return BIGINT
    if (
        t is not None
        and _family(t) not in ("moment", "time", "interval day to second")
        and t.raw != "unknown"
    ):
        raise _unexpected(a, node, part, [t])
    if _raw(t) == "date" and part in ("hour", "minute", "second"):
        raise _unexpected(a, node, part, [t])
    node.replace(duck(f"CAST({part}({{x}}) AS BIGINT)", x=a.local(value, t)))
    return BIGINT


def _extract_function(a: Analyzer, node: exp.Func, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    return _part(a, node, node.this, t, _EXTRACTS[type(node)])


def _extract(a: Analyzer, node: exp.Extract, scope: Scope) -> Type:
    t = a.expr(node.expression, scope)
    field_name = node.this.name.lower()
    part = _EXTRACT_FIELDS.get(field_name)
    if part is None:
        raise TrinoError("SYNTAX_ERROR", f"Invalid EXTRACT field: {field_name}", a.where(node))
    return _part(a, node, node.expression, t, part)


def _millisecond(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    if len(node.expressions) != 1:
        return a.function(node, scope)
    t = a.expr(node.expressions[0], scope)
    value = node.expressions[0]
    node.replace(duck("CAST(millisecond({x}) % 1000 AS BIGINT)", x=a.local(value, t)))
    return BIGINT


def _day_arith(
    a: Analyzer, value: exp.Expression, t: Type, unit: str, amount: exp.Expression
) -> exp.Expression:
    """`value` moved by `amount` `unit`s, as Trino's date_add does for its type."""
    interval = exp.Interval(this=amount.copy(), unit=exp.Var(this=unit.upper()))
    if is_zoned(t):
        zone = a.zoned(value, t)
        if unit in _DAY_OR_LONGER:
            return to_instant(duck("{x} + {i}", x=to_local(value.copy(), zone), i=interval), zone)
        return duck("{x} + {i}", x=value, i=interval)
    if _raw(t) == "date":
        return exp.cast(duck("{x} + {i}", x=value, i=interval), "DATE")
    return duck("{x} + {i}", x=value, i=interval)


def _date_add(a: Analyzer, node: exp.DateAdd, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    a.expr(node.expression, scope)
    unit = _unit_of(node)
    if unit is None:
        raise a.refuse("date_add with a unit that is not a constant is not supported", node)
    if unit == "millisecond":
        amount = exp.Paren(this=node.expression.copy())
        amount = duck("{n} * 1000", n=amount)
        unit = "microsecond"
    else:
        amount = node.expression
    if _raw(t) == "date" and unit not in _DAY_OR_LONGER:
        raise TrinoError(
            "INVALID_FUNCTION_ARGUMENT", f"'{unit}' is not a valid DATE field", a.where(node)
        )
    if t is None or _family(t) != "moment":
        if t is None:
            raise a.refuse("date_add of a value of unknown type is not supported", node)
        raise _unexpected(a, node, "date_add", [varchar(len(unit)), BIGINT, t])
    node.replace(_day_arith(a, node.this, t, unit, amount))
    return t


def _date_diff(a: Analyzer, node: exp.DateDiff, scope: Scope) -> Type:
    # sqlglot: this = the later argument, expression = the earlier one
    end_t = a.expr(node.this, scope)
    start_t = a.expr(node.expression, scope)
    unit = _unit_of(node)
    if unit is None:
        raise a.refuse("date_diff with a unit that is not a constant is not supported", node)
    start, end = node.expression, node.this
    if is_zoned(start_t) or is_zoned(end_t):
        start, start_t = a.as_instant(start, start_t)
        end, end_t = a.as_instant(end, end_t)
        zone = a.zoned(node, start_t)
        start, end = to_local(start.copy(), zone), to_local(end.copy(), zone)
    elif start_t is None or end_t is None:
        raise a.refuse("date_diff of values of unknown type is not supported", node)
    if _raw(start_t) == "date" and _raw(end_t) == "date" and unit not in _DAY_OR_LONGER:
        raise TrinoError(
            "INVALID_FUNCTION_ARGUMENT", f"'{unit}' is not a valid DATE field", a.where(node)
        )
    node.replace(call("date_sub", _lit(unit), start, end))
    return BIGINT


def _typeof(a: Analyzer, node: exp.Typeof, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    if t is None:
        raise a.refuse("typeof of this expression is not supported", node)
    name = _lit(t.name)
    if any(isinstance(n, exp.AggFunc | exp.Window) for n in node.this.walk()):
        # keep the argument: an aggregate in it makes the query an aggregation
        node.replace(duck("CASE WHEN ({x}) IS NULL THEN {n} ELSE {n} END", x=node.this, n=name))
    else:
        node.replace(name)
    return varchar(len(t.name))


def _count_if(a: Analyzer, node: exp.CountIf, scope: Scope) -> Type:
    a.children(node, scope)
    parent = node.parent
    if not (isinstance(parent, exp.Cast) and parent.to.this == exp.DataType.Type.BIGINT):
        node.replace(exp.cast(node.copy(), "BIGINT"))  # DuckDB counts in HUGEINT
    return BIGINT


def _count(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return BIGINT


def _sum(a: Analyzer, node: exp.Sum, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    if is_integral(t):
        node.replace(exp.cast(node.copy(), "BIGINT"))
        return BIGINT
    if _raw(t) == "decimal":
        return decimal(38, t.longs[1])
    if _raw(t) == "real":
        node.replace(exp.cast(node.copy(), "FLOAT"))
        return REAL
    if _raw(t) == "double" or (t is not None and t.raw.startswith("interval")):
        return t
    if t is not None and t.raw != "unknown":
        raise _unexpected(a, node, "sum", [t])
    return None


def _avg(a: Analyzer, node: exp.Avg, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    if is_integral(t) or _raw(t) == "double":
        return DOUBLE
    if _raw(t) == "real":
        node.replace(exp.cast(node.copy(), "FLOAT"))
        return REAL
    if _raw(t) == "decimal":
        node.replace(exp.cast(node.copy(), f"DECIMAL({t.longs[0]}, {t.longs[1]})"))
        return t
    if t is not None and t.raw not in ("unknown",) and not t.raw.startswith("interval"):
        raise _unexpected(a, node, "avg", [t])
    return None


def _same_as_argument(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    types = a.children(node, scope)
    t = types.get("this")
    return t if not isinstance(t, list) else None


def _array_agg(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    types = a.children(node, scope)
    t = types.get("this")
    return array(t) if isinstance(t, TrinoType) else None


def _branches(node: exp.Expression) -> list[exp.Expression]:
    """The values a conditional chooses among, as they are now in `node`."""
    if isinstance(node, exp.Case):
        branches = [when.args["true"] for when in node.args.get("ifs") or []]
        return branches + ([node.args["default"]] if node.args.get("default") is not None else [])
    if isinstance(node, exp.If):
        return [node.args["true"]] + ([node.args["false"]] if node.args.get("false") else [])
    if isinstance(node, exp.Nullif):
        return [node.this, node.expression]
    return [node.this, *(node.expressions or [])]


def _conditional(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    """CASE, IF, COALESCE, NULLIF, GREATEST, LEAST: the branches' common type; a timestamp
    meeting a zoned one is read in the session's zone."""
    if isinstance(node, exp.Case):
        if node.this is not None:
            a.expr(node.this, scope)
        for when in node.args.get("ifs") or []:
            a.expr(when.this, scope)
    elif isinstance(node, exp.If):
        a.expr(node.this, scope)
    types = [a.expr(b, scope) for b in _branches(node)]
    if isinstance(node, exp.Nullif):
        _meet(a, _branches(node), types)
        return types[0]
    result: Type = UNKNOWN
    for t in types:
        result = supertype(result, t)
        if result is None:
            return None
    if is_zoned(result):
        _meet(a, _branches(node), types)
        zones = {t.zone for t in types if is_zoned(t)}
        if any(is_timestamp(t) or _raw(t) == "date" for t in types):
            zones.add(a.zone)
        zone = zones.pop() if len(zones) == 1 else None
        return TrinoType(result.raw, result.longs, zone=zone)
    return result


_COMPARISONS = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM",
    exp.NullSafeNEQ: "IS DISTINCT FROM",
}


def _comparable(a: Type, b: Type) -> bool:
    if a is None or b is None or "unknown" in (a.raw, b.raw):
        return True
    if a.raw == b.raw and a.raw in ("array", "map", "row"):
        return True  # compared element by element (left to DuckDB)
    return supertype(a, b) is not None or (
        _family(a) == _family(b) and a.raw not in ("array", "map", "row")
    )


def _compare(a: Analyzer, node: exp.Binary, scope: Scope) -> Type:
    left = a.expr(node.left, scope)
    right = a.expr(node.right, scope)
    symbol = _COMPARISONS.get(type(node), "=")
    if not _comparable(left, right):
        raise TrinoError(
            "TYPE_MISMATCH",
            f"Cannot apply operator: {left.name} {symbol} {right.name}",
            a.operator_at(node, symbol.split()[0]),
        )
    _meet(a, [node.left, node.right], [left, right])
    return BOOLEAN


def _meet(a: Analyzer, items: list[exp.Expression], types: list[Type]) -> None:
    """Values compared with each other: a zoned one makes the others zoned (session zone);
    a char one makes the comparison ignore trailing spaces, as Trino pads."""
    if any(is_zoned(t) for t in types):
        for item, t in zip(items, types, strict=True):
            if is_timestamp(t) or _raw(t) == "date":
                converted, _ = a.as_instant(item, t)
                item.replace(converted)
    elif any(_raw(t) == "char" for t in types):
        for item, t in zip(items, types, strict=True):
            if is_string(t):
                item.replace(duck("rtrim({x})", x=item))


def _between(a: Analyzer, node: exp.Between, scope: Scope) -> Type:
    items = [node.this, node.args["low"], node.args["high"]]
    types = [a.expr(i, scope) for i in items]
    items = [node.this, node.args["low"], node.args["high"]]
    for other in types[1:]:
        if not _comparable(types[0], other):
            raise TrinoError(
                "TYPE_MISMATCH",
                f"Cannot check if {types[0].name} is BETWEEN {types[1].name} and {types[2].name}",
                a.where(node),
            )
    _meet(a, items, types)
    return BOOLEAN


def _in(a: Analyzer, node: exp.In, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    query = node.args.get("query")
    if isinstance(query, exp.Expression):
        a.value(query, scope)
        return BOOLEAN
    types = [a.expr(e, scope) for e in list(node.expressions)]
    for other in types:
        if not _comparable(t, other):
            raise TrinoError(
                "TYPE_MISMATCH",
                f"IN value and list items must be the same type: {other.name}",
                a.where(node),
            )
    _meet(a, [node.this, *node.expressions], [t, *types])
    return BOOLEAN


_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}


def _arithmetic(a: Analyzer, node: exp.Binary, scope: Scope) -> Type:
    left = a.expr(node.left, scope)
    right = a.expr(node.right, scope)
    symbol = _ARITHMETIC[type(node)]
    if left is None or right is None or "unknown" in (left.raw, right.raw):
        return _unknown_arithmetic(a, node, left, right)
    if is_numeric(left) and is_numeric(right):
        return _numeric(a, node, left, right)
    moment = _moment_arithmetic(a, node, left, right)
    if moment is not False:
        return moment
    raise TrinoError(
        "TYPE_MISMATCH",
        f"Cannot apply operator: {left.name} {symbol} {right.name}",
        a.operator_at(node, symbol),
    )


def _unknown_arithmetic(a: Analyzer, node: exp.Binary, left: Type, right: Type) -> Type:
    """Arithmetic with an operand of a type not known here (or NULL): DuckDB's own answer."""
    if left is not None and left.raw == "unknown":
        return right if is_numeric(right) else None
    if right is not None and right.raw == "unknown":
        return left if is_numeric(left) else None
    return None


def _numeric(a: Analyzer, node: exp.Binary, left: TrinoType, right: TrinoType) -> Type:
    """Arithmetic on numbers: integers divide as integers (truncating), and a division or
    remainder by zero fails as in Trino instead of giving DuckDB's NULL (doubles keep IEEE's
    infinities and NaN, as in Trino)."""
    result = supertype(left, right)
    if (
        isinstance(node, exp.Div | exp.Mod)
        and result is not None
        and result.raw not in ("double", "real")
    ):
        divisor = node.right
        if not _nonzero_literal(divisor):
            divisor.replace(
                duck("CASE WHEN {d} = 0 THEN error('Division by zero') ELSE {d} END", d=divisor)
            )
        if isinstance(node, exp.Div) and is_integral(result):
            node.replace(exp.IntDiv(this=node.left.copy(), expression=node.right.copy()))
        if isinstance(node, exp.Div) and result.raw == "decimal":
            return None  # DuckDB divides decimals as doubles: its own type is the truth
    if result is not None and result.raw == "decimal" and not isinstance(node, exp.Add | exp.Sub):
        return None  # precision rules differ; the values DuckDB returns carry their type
    return result


def _nonzero_literal(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg):
        return _nonzero_literal(node.this)
    if not (isinstance(node, exp.Literal) and not node.is_string):
        return False
    try:
        return Decimal(node.this) != 0
    except InvalidOperation:
        return False


_INTERVALS = ("interval day to second", "interval year to month")


def _moment_arithmetic(
    a: Analyzer, node: exp.Binary, left: TrinoType, right: TrinoType
) -> Type | bool:
    """Dates and timestamps plus or minus intervals, timestamps minus timestamps, intervals
    with intervals and numbers; False when the operands are none of these."""
    if (
        isinstance(node, exp.Add | exp.Sub)
        and _family(left) == "moment"
        and right.raw in _INTERVALS
    ):
        return _shift(a, node, node.left, left, node.right, right)
    if isinstance(node, exp.Add) and left.raw in _INTERVALS and _family(right) == "moment":
        return _shift(a, node, node.right, right, node.left, left)
    if isinstance(node, exp.Sub) and _family(left) == "moment" and _family(right) == "moment":
        if left.raw == "date" or right.raw == "date":
            return False
        zoned = is_zoned(left) or is_zoned(right)
        x = a.as_instant(node.left, left)[0] if zoned else node.left
        y = a.as_instant(node.right, right)[0] if zoned else node.right
        node.replace(duck("to_microseconds(epoch_us({x}) - epoch_us({y}))", x=x, y=y))
        return INTERVAL_DAY_TO_SECOND
    if (
        isinstance(node, exp.Add | exp.Sub)
        and _family(left) == "time"
        and right.raw == _INTERVALS[0]
    ):
        return left  # DuckDB wraps times around midnight, as Trino does
    if isinstance(node, exp.Add) and left.raw == _INTERVALS[0] and _family(right) == "time":
        return right
    if isinstance(node, exp.Add | exp.Sub) and left.raw in _INTERVALS and right.raw == left.raw:
        return left
    if isinstance(node, exp.Mul | exp.Div) and left.raw in _INTERVALS and is_numeric(right):
        return left
    if isinstance(node, exp.Mul) and is_numeric(left) and right.raw in _INTERVALS:
        return right
    return False


def _shift(
    a: Analyzer,
    node: exp.Binary,
    value: exp.Expression,
    t: TrinoType,
    interval: exp.Expression,
    kind: TrinoType,
) -> Type:
    """A date or timestamp moved by an interval, as Trino moves each kind: months on the
    calendar (zoned values in UTC), day-to-second intervals as exact durations."""
    sign = "-" if isinstance(node, exp.Sub) else "+"
    if kind.raw == "interval year to month":
        if is_zoned(t):
            moved = duck(f"timezone('UTC', {{x}}) {sign} {{i}}", x=value, i=interval)
            node.replace(duck("timezone('UTC', {x})", x=moved))
            return t
        moved = duck(f"{{x}} {sign} {{i}}", x=value, i=interval)
        node.replace(exp.cast(moved, "DATE") if t.raw == "date" else moved)
        return t
    if t.raw == "date":
        checked = duck(
            "CASE WHEN epoch_us({i}) % 86400000000 <> 0 "
            "THEN error('Cannot add hour, minutes or seconds to a date') "
            f"ELSE {{x}} {sign} {{i}} END",
            i=interval,
            x=value,
        )
        node.replace(exp.cast(checked, "DATE"))
        return t
    node.replace(duck(f"{{x}} {sign} {{i}}", x=value, i=interval))
    precision = max(3, _precision(t, 0))
    return timestamp(precision, t.zone, zoned=is_zoned(t))


def _dpipe(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    types = a.children(node, scope)
    flat = [t for v in types.values() for t in (v if isinstance(v, list) else [v])]
    if any(_raw(t) == "array" for t in flat):
        return next(t for t in flat if _raw(t) == "array")
    return VARCHAR


def _lambda(a: Analyzer, node: exp.Lambda, scope: Scope) -> Type:
    inner = Scope(parent=scope, lambdas={p.name.lower(): None for p in node.expressions})
    a.expr(node.this, inner)
    return None


def _array(a: Analyzer, node: exp.Array, scope: Scope) -> Type:
    types = [a.expr(e, scope) for e in list(node.expressions)]
    element: Type = UNKNOWN
    for t in types:
        element = supertype(element, t)
    return array(element) if element is not None else None


def _struct(a: Analyzer, node: exp.Struct, scope: Scope) -> Type:
    fields: list[tuple[str | None, TrinoType]] = []
    for e in list(node.expressions):
        t = a.expr(e, scope)
        if t is None:
            return None
        fields.append((None, t))
    return row(fields)


def _bracket(a: Analyzer, node: exp.Bracket, scope: Scope) -> Type:
    types = a.children(node, scope)
    t = types.get("this")
    if isinstance(t, TrinoType) and t.raw == "array":
        return t.params[0][1]
    if isinstance(t, TrinoType) and t.raw == "map":
        return t.params[1][1]
    return None


def _window(a: Analyzer, node: exp.Window, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    for key in ("partition_by", "order", "spec"):
        value = node.args.get(key)
        if isinstance(value, list):
            for v in list(value):
                a.expr(v, scope)
        elif isinstance(value, exp.Expression):
            a.generic(value, scope)
    return t


def _ordered(a: Analyzer, node: exp.Ordered, scope: Scope) -> Type:
    return a.expr(node.this, scope)


def _iso8601(a: Analyzer, node: exp.FromISO8601Timestamp, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    value = node.this
    if isinstance(value, exp.Literal) and value.is_string:
        text = value.name.strip()
        match = re.fullmatch(
            r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}(?::?\d{2}(?::?\d{2}(?:[.,](\d+))?)?)?))?(Z|[+-]\d{2}(?::?\d{2})?)?",
            text,
        )
        if match is None:
            raise TrinoError(
                "INVALID_FUNCTION_ARGUMENT", f'Invalid format: "{text}"', a.where(node)
            )
        day, clock, fraction, zone_text = match.groups()
        clock = clock or "00:00:00"
        if ":" not in clock:
            clock = ":".join(clock[i : i + 2] for i in range(0, len(clock), 2))
        clock = (clock + ":00:00")[:8] if clock.count(":") < 2 else clock.split(".")[0][:8]
        local = f"{day} {clock}" + (f".{fraction[:6]}" if fraction else "")
        zone = require_zone(zone_text) if zone_text else a.zone
        node.replace(to_instant(exp.cast(_lit(local), "TIMESTAMP"), zone))
        return timestamp(3, zone)
    if t is not None and not is_string(t):
        raise _unexpected(a, node, "from_iso8601_timestamp", [t])
    # a zone (or offset) in the text is kept; text without one is read in the session's zone
    text = value.copy()
    node.replace(
        duck(
            "CASE WHEN regexp_matches({s}, '(Z|[+-]\\d\\d(:?\\d\\d)?)$') "
            "THEN CAST({s} AS TIMESTAMPTZ) ELSE {local} END",
            s=text,
            local=to_instant(exp.cast(text.copy(), "TIMESTAMP"), a.zone),
        )
    )
    return timestamp(3, zoned=True)


def _to_iso8601(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    if len(node.expressions) != 1:
        return a.function(node, scope)
    t = a.expr(node.expressions[0], scope)
    return _iso_text(a, node, node.expressions[0], t)


def _iso_text(a: Analyzer, node: exp.Expression, value: exp.Expression, t: Type) -> Type:
    """`node` replaced by Trino's `to_iso8601` of `value` (of type t): zoned values in their
    zone, with its offset."""
    if _raw(t) == "date":
        node.replace(exp.cast(value.copy(), "VARCHAR"))
        return varchar(16)
    if not (is_zoned(t) or is_timestamp(t)):
        if t is None:
            raise a.refuse("to_iso8601 of a value of unknown type is not supported", node)
        raise _unexpected(a, node, "to_iso8601", [t])
    digits = _precision(t, 0)
    pattern = "%Y-%m-%dT%H:%M:%S" + ("" if digits == 0 else ".%f" if digits > 3 else ".%g")
    text = duck("strftime({x}, {f})", x=a.local(value, t), f=_lit(pattern))
    if is_zoned(t):
        zone = a.zoned(value, t)
        text = duck("{t} || {o}", t=text, o=_offset_text(value, zone) if zone != UTC else _lit("Z"))
    node.replace(text)
    return VARCHAR


def _zone_sensitive_format(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    """date_format / format_datetime and the like: a zoned value is formatted in its zone."""
    types = a.children(node, scope)
    value = (
        node.this if node.this is not None else (node.expressions[0] if node.expressions else None)
    )
    t = types.get("this") if node.this is not None else (types.get("expressions") or [None])[0]
    if value is not None and is_zoned(t):
        value.replace(a.local(value, t))
    return VARCHAR


def _last_day(a: Analyzer, node: exp.LastDay, scope: Scope) -> Type:
    t = a.expr(node.this, scope)
    if is_zoned(t):
        node.this.replace(a.local(node.this, t))
    return DATE


def _uuid(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return UUID_TYPE


def _to_utf8(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return VARBINARY


def _text_result(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return VARCHAR


def _bigint_result(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    types = a.children(node, scope)
    flat = [t for v in types.values() for t in (v if isinstance(v, list) else [v])]
    if any(is_zoned(t) for t in flat):
        raise a.refuse(
            f"{node.sql_name().lower()}() of a timestamp with time zone is not supported", node
        )
    return BIGINT


def _double_result(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return DOUBLE


def _str_to_time(a: Analyzer, node: exp.Expression, scope: Scope) -> Type:
    a.children(node, scope)
    return timestamp(3)


_HANDLERS: dict[type[exp.Expression], Callable[[Analyzer, exp.Expression, Scope], Type]] = {
    exp.Column: _column,
    exp.Literal: _literal,
    exp.Null: _null,
    exp.Boolean: _boolean,
    exp.Paren: _paren,
    exp.Alias: _alias,
    exp.Neg: _neg,
    exp.Subquery: _subquery,
    exp.Exists: _exists,
    exp.HexString: _hex,
    exp.Interval: _interval,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.AtTimeZone: _at_time_zone,
    exp.Anonymous: _anonymous,
    exp.CurrentTimezone: _current_timezone,
    exp.CurrentTimestamp: _current_timestamp,
    exp.Localtimestamp: _localtimestamp,
    exp.CurrentDate: _current_date,
    exp.CurrentTime: _current_time,
    exp.Localtime: _localtime,
    exp.UnixToTime: _from_unixtime,
    exp.TimeToUnix: _to_unixtime,
    exp.Date: _date,
    exp.TimestampTrunc: _date_trunc,
    exp.DateTrunc: _date_trunc,
    exp.Extract: _extract,
    exp.DateAdd: _date_add,
    exp.DateDiff: _date_diff,
    exp.Typeof: _typeof,
    exp.CountIf: _count_if,
    exp.Count: _count,
    exp.ApproxDistinct: _count,
    exp.Sum: _sum,
    exp.Avg: _avg,
    exp.Max: _same_as_argument,
    exp.Min: _same_as_argument,
    exp.AnyValue: _same_as_argument,
    exp.ArrayAgg: _array_agg,
    exp.Case: _conditional,
    exp.If: _conditional,
    exp.Coalesce: _conditional,
    exp.Nullif: _conditional,
    exp.Greatest: _conditional,
    exp.Least: _conditional,
    exp.Between: _between,
    exp.In: _in,
    exp.Add: _arithmetic,
    exp.Sub: _arithmetic,
    exp.Mul: _arithmetic,
    exp.Div: _arithmetic,
    exp.Mod: _arithmetic,
    exp.DPipe: _dpipe,
    exp.Lambda: _lambda,
    exp.Array: _array,
    exp.Struct: _struct,
    exp.Bracket: _bracket,
    exp.Window: _window,
    exp.Ordered: _ordered,
    exp.FromISO8601Timestamp: _iso8601,
    exp.LastDay: _last_day,
    exp.Uuid: _uuid,
    exp.Encode: _to_utf8,
    exp.Hex: _text_result,
    exp.Decode: _text_result,
    exp.Upper: _text_result,
    exp.Lower: _text_result,
    exp.Concat: _text_result,
    exp.Substring: _text_result,
    exp.Length: _bigint_result,
    exp.ArraySize: _bigint_result,
    exp.StrPosition: _bigint_result,
    exp.TimeToStr: _zone_sensitive_format,
    exp.StrToTime: _str_to_time,
    exp.Stddev: _double_result,
    exp.StddevPop: _double_result,
    exp.StddevSamp: _double_result,
    exp.Variance: _double_result,
    exp.VariancePop: _double_result,
    exp.Sqrt: _double_result,
    exp.Ln: _double_result,
    exp.Exp: _double_result,
    exp.Pow: _double_result,
    exp.Not: _boolean,
    exp.And: _boolean,
    exp.Or: _boolean,
    exp.Is: _boolean,
    exp.Like: _boolean,
    exp.ILike: _boolean,
    exp.RegexpLike: _boolean,
    exp.StartsWith: _boolean,
}
for _kind in _COMPARISONS:
    _HANDLERS[_kind] = _compare
for _kind in _EXTRACTS:
    _HANDLERS[_kind] = _extract_function

WRITTEN = "gongyu_written"  # meta of the DuckDB calls `api.trino.plan` writes for Trino functions
_SHOWN_ZONE = "gongyu_shown_zone"  # meta: a wall time in this zone of a zoned value


def _timezone(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    """DuckDB's `timezone(zone, x)`. The one `api.trino.plan` writes around a zoned value to
    format it (`timezone('UTC', x)`, "as shown") means the value's own wall time: zoned values
    are shown in their zone."""
    if len(node.expressions) != 2:
        return a.function(node, scope)
    zone_arg = node.expressions[0]
    t = a.expr(node.expressions[1], scope)
    value = node.expressions[1]
    if not (isinstance(zone_arg, exp.Literal) and zone_arg.is_string):
        return a.function(node, scope)
    if is_zoned(t):
        zone = a.zoned(value, t) if node.meta.get(WRITTEN) else require_zone(zone_arg.name)
        local = to_local(value.copy(), zone)
        local.meta[_SHOWN_ZONE] = (zone, value.copy())
        node.replace(local)
        return timestamp(_precision(t, 0))
    if is_timestamp(t):
        node.replace(to_instant(value.copy(), require_zone(zone_arg.name)))
        return timestamp(_precision(t, 0), require_zone(zone_arg.name))
    return a.function(node, scope)


def _strftime(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    """`strftime(x, pattern)`: a zoned value formatted as its wall time in its zone; a pattern
    ending in `Z` (ISO 8601 in UTC, as `api.trino.plan` writes `to_iso8601`) gets the zone's
    offset instead when the zone is not UTC, as Trino writes it."""
    if len(node.expressions) != 2:
        return a.function(node, scope)
    t = a.expr(node.expressions[0], scope)
    a.expr(node.expressions[1], scope)
    value, pattern = node.expressions
    shown = value.meta.get(_SHOWN_ZONE)
    if is_zoned(t):
        zone = a.zoned(value, t)
        shown = (zone, value.copy())
        value.replace(to_local(value.copy(), zone))
    if (
        shown
        and isinstance(pattern, exp.Literal)
        and pattern.name.endswith("Z")
        and shown[0] != UTC
    ):
        zone, instant = shown
        pattern.replace(_lit(pattern.name[:-1]))
        node.replace(duck("{t} || {o}", t=node.copy(), o=_offset_text(instant, zone)))
    return VARCHAR


def _offset_text(instant: exp.Expression, zone: str) -> exp.Expression:
    """`+09:00` (`Z` for none) of `zone` at an instant, as ISO 8601 writes offsets."""
    if _offset_minutes(zone) is not None:
        return _lit(zone)
    seconds = duck("epoch({l}) - epoch({x})", l=to_local(instant.copy(), zone), x=instant)
    return duck(
        "CASE WHEN ({o}) = 0 THEN 'Z' ELSE (CASE WHEN ({o}) < 0 THEN '-' ELSE '+' END) || "
        "lpad(CAST(CAST(trunc(abs({o}) / 3600) AS BIGINT) AS VARCHAR), 2, '0') || ':' || "
        "lpad(CAST(CAST(trunc((abs({o}) % 3600) / 60) AS BIGINT) AS VARCHAR), 2, '0') END",
        o=seconds,
    )


def _replace(a: Analyzer, node: exp.Anonymous, scope: Scope) -> Type:
    """`replace(…)`; the one `api.trino.plan` writes for `to_iso8601` of a value it could not
    type (`replace(CAST(x AS VARCHAR), ' ', 'T')`) is Trino's `to_iso8601` when x is a timestamp."""
    argument = node.expressions[0] if node.expressions else None
    if node.meta.get(WRITTEN) and isinstance(argument, exp.Cast) and len(node.expressions) == 3:
        t = a.expr(argument.this, scope)
        if is_zoned(t) or is_timestamp(t):
            return _iso_text(a, node, argument.this, t)
    return a.function(node, scope)


_NAMED: dict[str, Callable[[Analyzer, exp.Anonymous, Scope], Type]] = {
    "replace": _replace,
    "timezone": _timezone,
    "strftime": _strftime,
    "with_timezone": _with_timezone,
    "at_timezone": _at_timezone,
    "millisecond": _millisecond,
    "to_iso8601": _to_iso8601,
    "format_datetime": _zone_sensitive_format,
}


def _first(types: list[Type]) -> Type:
    return types[0] if types else None


_FUNCTION_TYPES: dict[str, Callable[[list[Type]], Type]] = {
    "abs": _first,
    "round": lambda ts: ts[0] if ts and ts[0] is not None and ts[0].raw != "decimal" else None,
    "floor": lambda ts: (
        ts[0] if ts and ts[0] is not None and ts[0].raw in ("double", "real") else None
    ),
    "ceil": lambda ts: (
        ts[0] if ts and ts[0] is not None and ts[0].raw in ("double", "real") else None
    ),
    "ceiling": lambda ts: (
        ts[0] if ts and ts[0] is not None and ts[0].raw in ("double", "real") else None
    ),
    "arbitrary": _first,
    "max_by": _first,
    "min_by": _first,
    "lag": _first,
    "lead": _first,
    "first_value": _first,
    "last_value": _first,
    "nth_value": _first,
    "row_number": lambda _: BIGINT,
    "rank": lambda _: BIGINT,
    "dense_rank": lambda _: BIGINT,
    "ntile": lambda _: BIGINT,
    "percent_rank": lambda _: DOUBLE,
    "cume_dist": lambda _: DOUBLE,
    "random": lambda _: DOUBLE,
    "rand": lambda _: DOUBLE,
    "pi": lambda _: DOUBLE,
    "log10": lambda _: DOUBLE,
    "log2": lambda _: DOUBLE,
    "cbrt": lambda _: DOUBLE,
    "degrees": lambda _: DOUBLE,
    "radians": lambda _: DOUBLE,
    "bool_and": lambda _: BOOLEAN,
    "bool_or": lambda _: BOOLEAN,
    "every": lambda _: BOOLEAN,
    "contains": lambda _: BOOLEAN,
    "is_nan": lambda _: BOOLEAN,
    "regexp_like": lambda _: BOOLEAN,
    "trim": _first,
    "ltrim": _first,
    "rtrim": _first,
    "reverse": _first,
    "replace": lambda _: VARCHAR,
    "regexp_replace": lambda _: VARCHAR,
    "regexp_extract": lambda _: VARCHAR,
    "split_part": lambda _: VARCHAR,
    "lpad": lambda _: VARCHAR,
    "rpad": lambda _: VARCHAR,
    "chr": lambda _: varchar(1),
    "array_join": lambda _: VARCHAR,
    "split": lambda _: array(VARCHAR),
    "levenshtein_distance": lambda _: BIGINT,
    "strpos": lambda _: BIGINT,
    "cardinality": lambda _: BIGINT,
    "element_at": lambda ts: ts[0].params[0][1] if ts and _raw(ts[0]) == "array" else None,
}


def analyze(
    tree: exp.Query, zone: str, catalog: Catalog, text: str
) -> tuple[TrinoType | None, ...]:
    """Type `tree` (Trino SQL, tables resolved) and rewrite it in place to answer as Trino would
    in the session's `zone`; the Trino types of its result columns (empty when its shape is not
    known here)."""
    output = Analyzer(zone, catalog, text).query(tree, None)
    return tuple(t for _, t in output.columns) if output.columns is not None else ()
