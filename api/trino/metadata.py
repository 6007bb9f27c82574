"""What a Trino client may learn about the catalog: only the caller's own policy views.

`information_schema` and the `system.jdbc` / `system.metadata` tables that JDBC's
DatabaseMetaData, SQLAlchemy and BI tools query are answered as literal tables built from the
caller's sandbox (one `VALUES` list per query), so a table the caller may not read appears
nowhere. Column types are the ones the caller's views really have; comments come from the
contracts. The columns of each table follow Trino's own definitions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from api.sql.check import CATALOG
from api.sql.query import QueryService
from api.sql.sandbox import Sandbox, quote
from api.trino.types import (
    BIGINT,
    BOOLEAN,
    VARCHAR,
    VARCHAR_UNBOUNDED,
    TrinoType,
    simple,
    trino_type,
)
from catalog.access.principal import Principal
from gongyu.platform import Platform

INFORMATION_SCHEMA = "information_schema"
CACHED_CATALOGS = 64
MAX_TIMEZONE_LENGTH = 32  # the longest IANA zone id, as Trino sizes zoned timestamps


@dataclass(frozen=True)
class Field:
    """A column of a metadata table; hidden ones appear only when a query names them."""

    name: str
    type: TrinoType
    hidden: bool = False


def _spec(names: str, hidden: str = "") -> tuple[Field, ...]:
    """Fields from `name[:type]` words (varchar unless said otherwise)."""
    types = {"bigint": BIGINT, "boolean": BOOLEAN}
    fields = []
    for words, is_hidden in ((names, False), (hidden, True)):
        for word in words.split():
            name, _, kind = word.partition(":")
            fields.append(Field(name, types.get(kind, VARCHAR), is_hidden))
    return tuple(fields)


@dataclass(frozen=True)
class ColumnInfo:
    """A column of a visible table."""

    name: str
    type: TrinoType
    comment: str | None = None


@dataclass(frozen=True)
class TableInfo:
    """A table the caller can read (or one of `information_schema`'s)."""

    schema: str
    name: str
    columns: tuple[ColumnInfo, ...]
    comment: str | None = None


INFORMATION_TABLES: dict[str, tuple[Field, ...]] = {
    "schemata": _spec("catalog_name schema_name"),
    "tables": _spec(
        "table_catalog table_schema table_name table_type",
        hidden="trino_relation_type table_comment",
    ),
    "columns": _spec(
        "table_catalog table_schema table_name column_name ordinal_position:bigint "
        "column_default is_nullable data_type",
        hidden="comment extra_info column_comment",
    ),
    "views": _spec("table_catalog table_schema table_name view_definition"),
}
SYSTEM_TABLES: dict[tuple[str, str], tuple[Field, ...]] = {
    ("jdbc", "catalogs"): _spec("table_cat"),
    ("jdbc", "schemas"): _spec("table_schem table_catalog"),
    ("jdbc", "tables"): _spec(
        "table_cat table_schem table_name table_type remarks type_cat type_schem type_name "
        "self_referencing_col_name ref_generation"
    ),
    ("jdbc", "columns"): _spec(
        "table_cat table_schem table_name column_name data_type:bigint type_name "
        "column_size:bigint buffer_length:bigint decimal_digits:bigint num_prec_radix:bigint "
        "nullable:bigint remarks column_def sql_data_type:bigint sql_datetime_sub:bigint "
        "char_octet_length:bigint ordinal_position:bigint is_nullable scope_catalog "
        "scope_schema scope_table source_data_type:bigint is_autoincrement is_generatedcolumn"
    ),
    ("jdbc", "table_types"): _spec("table_type"),
    ("jdbc", "types"): _spec(
        "type_name data_type:bigint precision:bigint literal_prefix literal_suffix "
        "create_params nullable:bigint case_sensitive:boolean searchable:bigint "
        "unsigned_attribute:boolean fixed_prec_scale:boolean auto_increment:boolean "
        "local_type_name minimum_scale:bigint maximum_scale:bigint sql_data_type:bigint "
        "sql_datetime_sub:bigint num_prec_radix:bigint"
    ),
    ("jdbc", "procedures"): _spec(
        "procedure_cat procedure_schem procedure_name undef1 undef2 undef3 remarks "
        "procedure_type:bigint specific_name"
    ),
    ("jdbc", "procedure_columns"): _spec(
        "procedure_cat procedure_schem procedure_name column_name column_type:bigint "
        "data_type:bigint type_name precision:bigint length:bigint scale:bigint radix:bigint "
        "nullable:bigint remarks column_def sql_data_type:bigint sql_datetime_sub:bigint "
        "char_octet_length:bigint ordinal_position:bigint is_nullable specific_name"
    ),
    ("jdbc", "udts"): _spec(
        "type_cat type_schem type_name class_name data_type:bigint remarks base_type:bigint"
    ),
    ("jdbc", "super_types"): _spec(
        "type_cat type_schem type_name supertype_cat supertype_schem supertype_name"
    ),
    ("jdbc", "super_tables"): _spec("table_cat table_schem table_name supertable_name"),
    ("jdbc", "attributes"): _spec(
        "type_cat type_schem type_name attr_name data_type:bigint attr_type_name "
        "attr_size:bigint decimal_digits:bigint num_prec_radix:bigint nullable:bigint remarks "
        "attr_def sql_data_type:bigint sql_datetime_sub:bigint char_octet_length:bigint "
        "ordinal_position:bigint is_nullable scope_catalog scope_schema scope_table "
        "source_data_type:bigint"
    ),
    ("jdbc", "pseudo_columns"): _spec(
        "table_cat table_schem table_name column_name data_type:bigint column_size:bigint "
        "decimal_digits:bigint num_prec_radix:bigint column_usage remarks "
        "char_octet_length:bigint is_nullable"
    ),
    ("metadata", "table_comments"): _spec("catalog_name schema_name table_name comment"),
}


@dataclass(frozen=True)
class Catalog:
    """The `gongyu` catalog as one caller sees it."""

    tables: tuple[TableInfo, ...]

    @property
    def schemas(self) -> list[str]:
        """Sectors where the caller reads at least one table, and `information_schema`."""
        return sorted({t.schema for t in self.tables} | {INFORMATION_SCHEMA})

    @property
    def listed(self) -> list[TableInfo]:
        """Every table a listing shows: the caller's views, then `information_schema`'s."""
        information = [
            TableInfo(
                INFORMATION_SCHEMA,
                name,
                tuple(ColumnInfo(f.name, f.type) for f in fields if not f.hidden),
            )
            for name, fields in sorted(INFORMATION_TABLES.items())
        ]
        return [*self.tables, *information]

    def table(self, schema: str, name: str) -> TableInfo | None:
        """A listed table by (lower-case) schema and name; None when the caller has none."""
        return next((t for t in self.listed if (t.schema, t.name) == (schema, name)), None)


# JDBC (java.sql.Types) codes, sizes and radices, as Trino's system.jdbc tables report them.
JDBC_TYPES = {
    "boolean": 16,
    "bigint": -5,
    "integer": 4,
    "smallint": 5,
    "tinyint": -6,
    "real": 7,
    "double": 8,
    "decimal": 3,
    "varchar": 12,
    "varbinary": -3,
    "date": 91,
    "time": 92,
    "timestamp": 93,
    "timestamp with time zone": 2014,
    "array": 2003,
}
JAVA_OBJECT = 2000
_SIZES = {"bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3, "real": 24, "double": 53}


def jdbc_type(t: TrinoType) -> int:
    """The java.sql.Types code of a Trino type."""
    return JDBC_TYPES.get(t.raw, JAVA_OBJECT)


def column_size(t: TrinoType) -> int | None:
    """JDBC COLUMN_SIZE: digits, characters or the printed width of a date/time."""
    if t.raw in _SIZES:
        return _SIZES[t.raw]
    if t.raw in ("decimal", "varchar"):
        return t.longs[0]
    if t.raw == "varbinary":
        return VARCHAR_UNBOUNDED
    if t.raw == "date":
        return 14
    if t.raw == "time":
        return 8 + min(t.longs[0], 1) + t.longs[0]
    if t.raw == "timestamp":
        return 21 + min(t.longs[0], 1) + t.longs[0]
    if t.raw == "timestamp with time zone":
        return 22 + min(t.longs[0], 1) + t.longs[0] + 1 + MAX_TIMEZONE_LENGTH
    return None


def decimal_digits(t: TrinoType) -> int | None:
    """JDBC DECIMAL_DIGITS: a decimal's scale, a time's or timestamp's precision."""
    if t.raw == "decimal":
        return t.longs[1]
    if t.raw in ("time", "timestamp", "timestamp with time zone"):
        return t.longs[0]
    return None


def num_prec_radix(t: TrinoType) -> int | None:
    """JDBC NUM_PREC_RADIX: 10 for integers and decimals, 2 for floating point."""
    if t.raw in ("bigint", "integer", "smallint", "tinyint", "decimal"):
        return 10
    return 2 if t.raw in ("real", "double") else None


def char_octet_length(t: TrinoType) -> int | None:
    """JDBC CHAR_OCTET_LENGTH: for text and binary types."""
    if t.raw == "varchar":
        return t.longs[0]
    return VARCHAR_UNBOUNDED if t.raw == "varbinary" else None


SIMPLE_TYPES = (
    *("bigint", "boolean", "date", "double", "integer", "real", "smallint", "tinyint"),
    "varbinary",
)
PARAMETRIC_TYPES = (
    *("array", "decimal", "map", "row", "time", "timestamp", "timestamp with time zone"),
    "varchar",
)


Row = dict[str, Any]  # a metadata row by column name; absent columns are NULL


def _types(_: Catalog) -> list[Row]:
    # Simple types are comparable (searchable 3); parametric ones are listed by name only.
    common = {"nullable": 1, "case_sensitive": False, "fixed_prec_scale": False}
    common |= {"minimum_scale": 0, "maximum_scale": 0}
    rows = []
    for name in SIMPLE_TYPES:
        t = simple(name)
        rows.append(
            {"type_name": name, "data_type": jdbc_type(t), "precision": column_size(t)}
            | {"searchable": 3, "num_prec_radix": num_prec_radix(t)}
            | common
        )
    for name in PARAMETRIC_TYPES:
        code = 2003 if name == "array" else JAVA_OBJECT
        rows.append({"type_name": name, "data_type": code, "searchable": 0} | common)
    return rows


def _empty(_: Catalog) -> list[Row]:
    return []


def _schemata(catalog: Catalog) -> list[Row]:
    return [{"catalog_name": CATALOG, "schema_name": s} for s in catalog.schemas]


def _tables(catalog: Catalog) -> list[Row]:
    return [
        {"table_catalog": CATALOG, "table_schema": t.schema, "table_name": t.name}
        | {"table_type": "BASE TABLE", "trino_relation_type": "TABLE", "table_comment": t.comment}
        for t in catalog.listed
    ]


def _columns(catalog: Catalog) -> list[Row]:
    return [
        {"table_catalog": CATALOG, "table_schema": t.schema, "table_name": t.name}
        | {"column_name": c.name, "ordinal_position": i, "is_nullable": "YES"}
        | {"data_type": c.type.name, "comment": c.comment, "column_comment": c.comment}
        for t in catalog.listed
        for i, c in enumerate(t.columns, start=1)
    ]


def _jdbc_schemas(catalog: Catalog) -> list[Row]:
    return [{"table_schem": s, "table_catalog": CATALOG} for s in catalog.schemas]


def _jdbc_tables(catalog: Catalog) -> list[Row]:
    return [
        {"table_cat": CATALOG, "table_schem": t.schema, "table_name": t.name}
        | {"table_type": "TABLE", "remarks": t.comment}
        for t in catalog.listed
    ]


def _jdbc_columns(catalog: Catalog) -> list[Row]:
    return [
        {"table_cat": CATALOG, "table_schem": t.schema, "table_name": t.name}
        | {"column_name": c.name, "data_type": jdbc_type(c.type), "type_name": c.type.name}
        | {"column_size": column_size(c.type), "buffer_length": 0}
        | {"decimal_digits": decimal_digits(c.type), "num_prec_radix": num_prec_radix(c.type)}
        | {"nullable": 2, "remarks": c.comment, "char_octet_length": char_octet_length(c.type)}
        | {"ordinal_position": i, "is_nullable": ""}
        for t in catalog.listed
        for i, c in enumerate(t.columns, start=1)
    ]


def _table_comments(catalog: Catalog) -> list[Row]:
    return [
        {"catalog_name": CATALOG, "schema_name": t.schema, "table_name": t.name}
        | {"comment": t.comment}
        for t in catalog.listed
    ]


ROWS: dict[tuple[str, str], Callable[[Catalog], list[Row]]] = {
    (INFORMATION_SCHEMA, "schemata"): _schemata,
    (INFORMATION_SCHEMA, "tables"): _tables,
    (INFORMATION_SCHEMA, "columns"): _columns,
    ("jdbc", "catalogs"): lambda _: [{"table_cat": CATALOG}],
    ("jdbc", "schemas"): _jdbc_schemas,
    ("jdbc", "tables"): _jdbc_tables,
    ("jdbc", "columns"): _jdbc_columns,
    ("jdbc", "table_types"): lambda _: [{"table_type": "TABLE"}, {"table_type": "VIEW"}],
    ("jdbc", "types"): _types,
    ("metadata", "table_comments"): _table_comments,
}
_DUCKDB_TYPES = {"varchar": "VARCHAR", "bigint": "BIGINT", "boolean": "BOOLEAN"}


def metadata_table(schema: str, name: str, catalog: Catalog, named: set[str]) -> exp.Select | None:
    """The literal query standing for a metadata table (`information_schema.<name>` or
    `system.<schema>.<name>`), or None when there is no such table. Hidden columns are
    included when `named` (the column names the statement uses) mentions them."""
    fields = INFORMATION_TABLES.get(name) if schema == INFORMATION_SCHEMA else None
    fields = fields or SYSTEM_TABLES.get((schema, name))
    if fields is None:
        return None
    rows = [tuple(r.get(f.name) for f in fields) for r in ROWS.get((schema, name), _empty)(catalog)]
    names = [f"c{i}" for i in range(len(fields))]
    shown = [(i, f) for i, f in enumerate(fields) if not f.hidden or f.name in named]
    if not rows:
        nulls = [exp.cast(exp.null(), _DUCKDB_TYPES[f.type.raw]).as_(f.name) for _, f in shown]
        return exp.select(*nulls).where(exp.false())
    casts = [
        exp.cast(exp.column(names[i]), _DUCKDB_TYPES[f.type.raw]).as_(f.name) for i, f in shown
    ]
    return exp.select(*casts).from_(exp.values(rows, alias="v", columns=names))


class Catalogs:
    """The catalog each caller sees, cached per sandbox (a sandbox changes with the data)."""

    def __init__(self, queries: QueryService) -> None:
        self.queries = queries
        self._cache: OrderedDict[tuple[int, float], Catalog] = OrderedDict()
        self._lock = threading.Lock()

    def for_principal(self, principal: Principal) -> Catalog:
        """What `principal` may see now."""
        sandbox = self.queries.sandboxes.for_principal(principal)
        key = (id(sandbox), sandbox.created)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        catalog = _build(sandbox, self.queries.platform)
        with self._lock:
            self._cache[key] = catalog
            while len(self._cache) > CACHED_CATALOGS:
                self._cache.popitem(last=False)
        return catalog


def _build(sandbox: Sandbox, platform: Platform) -> Catalog:
    tables = []
    for (schema, name), policy in sorted(sandbox.views.items()):
        # The view's own result schema: exactly the types its queries return.
        execution = sandbox.execute(
            f"SELECT * FROM {quote(schema)}.{quote(name)} LIMIT 0", [(schema, name)]
        )
        schema_of_view = execution.schema  # waits for DuckDB to start it
        execution.close()
        contract = platform.contracts.get(policy.dataset_id)
        described = {c.name: c.description for c in contract.columns} if contract else {}
        columns = tuple(
            ColumnInfo(f.name, trino_type(f.type), described.get(f.name)) for f in schema_of_view
        )
        comment = contract.title if contract else None
        tables.append(TableInfo(schema, name, columns, comment))
    return Catalog(tuple(tables))
