"""What a Trino client may learn about the catalog: only the caller's own policy views.

`information_schema` and the `system.jdbc` / `system.metadata` / `system.runtime` tables that
JDBC's DatabaseMetaData, SQLAlchemy and BI tools query are answered as literal tables built from
the caller's sandbox (one `VALUES` list per query), so a table the caller may not read appears
nowhere; `system.runtime.queries` lists the caller's own statements only. Column types are the
ones the caller's views really have; comments come from the contracts. The columns of each table
follow Trino's own definitions. `FUNCTIONS` is what `SHOW FUNCTIONS` lists: the Trino functions
Gongyu answers as Trino does (each checked by a test), with the types Gongyu returns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

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
from catalog.access.statements import CATALOG
from gongyu.platform import Platform
from gongyu.query.query import QueryService
from gongyu.query.sandbox import Sandbox, quote

INFORMATION_SCHEMA = "information_schema"
CACHED_CATALOGS = 64
MAX_TIMEZONE_LENGTH = 32  # the longest IANA zone id, as Trino sizes zoned timestamps


@dataclass(frozen=True)
class Field:
    """A column of a metadata table; hidden ones appear only when a query names them."""

    name: str
    type: TrinoType
    hidden: bool = False


TIMESTAMP_TZ_MILLIS = TrinoType("timestamp with time zone", (3,))
VARCHAR_ARRAY = TrinoType("array", params=((None, VARCHAR),))
DOUBLE = TrinoType("double")


def _spec(names: str, hidden: str = "") -> tuple[Field, ...]:
    """Fields from `name[:type]` words (varchar unless said otherwise)."""
    types = {
        "bigint": BIGINT,
        "boolean": BOOLEAN,
        "double": DOUBLE,
        "timestamptz": TIMESTAMP_TZ_MILLIS,
        "varchars": VARCHAR_ARRAY,
    }
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
    ("metadata", "catalogs"): _spec("catalog_name connector_id connector_name"),
    ("runtime", "queries"): _spec(
        "query_id state user source query resource_group_id:varchars queued_time_ms:bigint "
        "analysis_time_ms:bigint planning_time_ms:bigint created:timestamptz started:timestamptz "
        "last_heartbeat:timestamptz end:timestamptz error_type error_code"
    ),
}


@dataclass(frozen=True)
class SessionProperty:
    """A row of `SHOW SESSION`: a Trino session property whose value Gongyu really applies."""

    name: str
    value: str
    type: str
    description: str


@dataclass(frozen=True)
class Catalog:
    """The `gongyu` catalog as one caller sees it; `queries` are the caller's own statements
    (rows of `system.runtime.queries`), filled in for each statement."""

    tables: tuple[TableInfo, ...]
    properties: tuple[SessionProperty, ...] = ()
    queries: tuple[dict[str, Any], ...] = field(default=(), compare=False)

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


def _catalogs(_: Catalog) -> list[Row]:
    return [
        {"catalog_name": name, "connector_id": name, "connector_name": name}
        for name in (CATALOG, "system")
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
    ("metadata", "catalogs"): _catalogs,
    ("runtime", "queries"): lambda catalog: list(catalog.queries),
}
_DUCKDB_TYPES = {
    "varchar": "VARCHAR",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
    "timestamp(3) with time zone": "TIMESTAMPTZ",
    "array(varchar)": "VARCHAR[]",
}


def metadata_table(schema: str, name: str, catalog: Catalog, named: set[str]) -> exp.Select | None:
    """The literal query standing for a metadata table (`information_schema.<name>` or
    `system.<schema>.<name>`), or None when there is no such table. Hidden columns are
    included when `named` (the column names the statement uses) mentions them."""
    fields = INFORMATION_TABLES.get(name) if schema == INFORMATION_SCHEMA else None
    fields = fields or SYSTEM_TABLES.get((schema, name))
    if fields is None:
        return None
    rows = ROWS.get((schema, name), _empty)(catalog)
    return literal_table(fields, rows, named)


def literal_table(fields: tuple[Field, ...], rows: list[Row], named: set[str]) -> exp.Select:
    """A `VALUES` query of `rows` as columns `fields` (hidden ones only when `named`)."""
    values = [tuple(r.get(f.name) for f in fields) for r in rows]
    names = [f"c{i}" for i in range(len(fields))]
    shown = [(i, f) for i, f in enumerate(fields) if not f.hidden or f.name in named]
    if not values:
        nulls = [exp.cast(exp.null(), _DUCKDB_TYPES[f.type.name]).as_(f.name) for _, f in shown]
        return exp.select(*nulls).where(exp.false())
    casts = [
        exp.cast(exp.column(names[i]), _DUCKDB_TYPES[f.type.name]).as_(f.name) for i, f in shown
    ]
    return exp.select(*casts).from_(exp.values(values, alias="v", columns=names))


@dataclass(frozen=True)
class FunctionInfo:
    """A row of `SHOW FUNCTIONS`: one signature of a function Gongyu answers as Trino does."""

    name: str
    return_type: str
    argument_types: str
    kind: str  # scalar, aggregate or window
    deterministic: bool
    description: str


# `kind name(argument types) -> return type | description`; `~` marks a non-deterministic one.
# Every signature is run by tests/api/trino/test_trino_bi_functions.py and must return its type.
_FUNCTIONS = """
aggregate any_value(T) -> T | An arbitrary non-null value of the group
aggregate approx_distinct(T) -> bigint | Approximate number of distinct non-null values
aggregate approx_percentile(bigint, double) -> bigint | Approximate percentile of the values
aggregate approx_percentile(double, double) -> double | Approximate percentile of the values
aggregate arbitrary(T) -> T | An arbitrary non-null value of the group
aggregate array_agg(T) -> array(T) | The values of the group as an array
aggregate avg(bigint) -> double | Average of the values
aggregate avg(double) -> double | Average of the values
aggregate bool_and(boolean) -> boolean | True when every value is true
aggregate bool_or(boolean) -> boolean | True when any value is true
aggregate count() -> bigint | Number of rows
aggregate count(T) -> bigint | Number of non-null values
aggregate count_if(boolean) -> bigint | Number of true values
aggregate max(T) -> T | Maximum value
aggregate max_by(V, K) -> V | The value of the first argument where the second is largest
aggregate min(T) -> T | Minimum value
aggregate min_by(V, K) -> V | The value of the first argument where the second is smallest
aggregate stddev(double) -> double | Sample standard deviation
aggregate stddev_pop(double) -> double | Population standard deviation
aggregate stddev_samp(double) -> double | Sample standard deviation
aggregate sum(bigint) -> bigint | Sum of the values
aggregate sum(decimal(p,s)) -> decimal(38,s) | Sum of the values
aggregate sum(double) -> double | Sum of the values
aggregate var_pop(double) -> double | Population variance
aggregate var_samp(double) -> double | Sample variance
aggregate variance(double) -> double | Sample variance
scalar abs(bigint) -> bigint | Absolute value
scalar abs(double) -> double | Absolute value
scalar array_join(array(T), varchar) -> varchar | Concatenates the elements with a delimiter
scalar cardinality(array(T)) -> bigint | Number of elements of an array
scalar cbrt(double) -> double | Cube root
scalar ceil(double) -> double | Rounds up to an integer value
scalar ceiling(double) -> double | Rounds up to an integer value
scalar chr(bigint) -> varchar | The character of a Unicode code point
scalar concat(varchar) -> varchar | Concatenates the strings
scalar contains(array(T), T) -> boolean | Whether an array holds the value
scalar current_date() -> date | The date the statement started, in the session's time zone
scalar date(varchar) -> date | A date from its ISO 8601 text
scalar date(timestamp(p)) -> date | The date part of a timestamp
scalar date_add(varchar, bigint, timestamp(p)) -> timestamp(p) | Adds units to a timestamp
scalar date_diff(varchar, date, date) -> bigint | Difference of two dates in a unit
scalar date_diff(varchar, timestamp(p), timestamp(p)) -> bigint | Difference in a unit
scalar date_format(timestamp(p), varchar) -> varchar | Formats a timestamp with a MySQL pattern
scalar date_parse(varchar, varchar) -> timestamp(3) | Parses a timestamp with a MySQL pattern
scalar date_trunc(varchar, timestamp(p)) -> timestamp(p) | Truncates a timestamp to a unit
scalar now() -> timestamp(3) with time zone | The time the statement started
scalar day(date) -> bigint | Day of the month
scalar day_of_month(date) -> bigint | Day of the month
scalar day_of_week(date) -> bigint | ISO day of the week (1 = Monday)
scalar day_of_year(date) -> bigint | Day of the year
scalar degrees(double) -> double | Radians to degrees
scalar dow(date) -> bigint | ISO day of the week (1 = Monday)
scalar doy(date) -> bigint | Day of the year
scalar element_at(array(E), bigint) -> E | The element at a position (from 1)
scalar exp(double) -> double | Euler's number raised to a power
scalar floor(double) -> double | Rounds down to an integer value
scalar format(varchar, T) -> varchar | Formats values with a Java format string
scalar format_datetime(timestamp(p), varchar) -> varchar | Formats with a Joda pattern
scalar from_hex(varchar) -> varbinary | Binary from hexadecimal text
scalar from_iso8601_date(varchar) -> date | Parses an ISO 8601 date
scalar from_iso8601_timestamp(varchar) -> timestamp(3) with time zone | Parses an ISO 8601 timestamp
scalar from_unixtime(double) -> timestamp(3) with time zone | Timestamp of a Unix time
scalar from_utf8(varbinary) -> varchar | Decodes UTF-8 text
scalar greatest(T, T) -> T | The largest of the values
scalar hour(timestamp(p)) -> bigint | Hour of the day
scalar is_nan(double) -> boolean | Whether a value is not-a-number
scalar last_day_of_month(date) -> date | Last day of the month
scalar least(T, T) -> T | The smallest of the values
scalar length(varchar) -> bigint | Length in characters
scalar levenshtein_distance(varchar, varchar) -> bigint | Edit distance between two strings
scalar ln(double) -> double | Natural logarithm
scalar log10(double) -> double | Logarithm to base 10
scalar log2(double) -> double | Logarithm to base 2
scalar lower(varchar) -> varchar | Lower case
scalar lpad(varchar, bigint, varchar) -> varchar | Pads on the left to a length
scalar ltrim(varchar) -> varchar | Removes leading whitespace
scalar md5(varbinary) -> varbinary | MD5 digest
scalar minute(timestamp(p)) -> bigint | Minute of the hour
scalar mod(bigint, bigint) -> bigint | Remainder of a division
scalar month(date) -> bigint | Month of the year
scalar parse_datetime(varchar, varchar) -> timestamp(3) with time zone | Parses a Joda pattern
scalar pi() -> double | The constant pi
scalar pow(double, double) -> double | A number raised to a power
scalar power(double, double) -> double | A number raised to a power
scalar quarter(date) -> bigint | Quarter of the year
scalar radians(double) -> double | Degrees to radians
~scalar rand() -> double | A random number in [0, 1)
~scalar random() -> double | A random number in [0, 1)
scalar regexp_extract(varchar, varchar) -> varchar | The first match of a regular expression
scalar regexp_like(varchar, varchar) -> boolean | Whether a regular expression matches
scalar regexp_replace(varchar, varchar, varchar) -> varchar | Replaces every regex match
scalar replace(varchar, varchar, varchar) -> varchar | Replaces every occurrence of a string
scalar reverse(varchar) -> varchar | The string reversed
scalar round(double) -> double | Rounds to the nearest integer value
scalar round(double, bigint) -> double | Rounds to a number of decimal places
scalar rpad(varchar, bigint, varchar) -> varchar | Pads on the right to a length
scalar rtrim(varchar) -> varchar | Removes trailing whitespace
scalar second(timestamp(p)) -> bigint | Second of the minute
scalar sha256(varbinary) -> varbinary | SHA-256 digest
scalar split(varchar, varchar) -> array(varchar) | Splits a string on a delimiter
scalar split_part(varchar, varchar, bigint) -> varchar | One field of a split string (from 1)
scalar sqrt(double) -> double | Square root
scalar starts_with(varchar, varchar) -> boolean | Whether a string starts with a prefix
scalar strpos(varchar, varchar) -> bigint | Position of a substring (from 1, 0 when absent)
scalar substr(varchar, bigint) -> varchar | Rest of a string from 1-based start
scalar substr(varchar, bigint, bigint) -> varchar | Substring of a length from 1-based start
scalar substring(varchar, bigint) -> varchar | Rest of a string from 1-based start
scalar substring(varchar, bigint, bigint) -> varchar | Substring of a length from 1-based start
scalar to_hex(varbinary) -> varchar | Hexadecimal text of binary
scalar to_iso8601(date) -> varchar | ISO 8601 text of a date
scalar to_iso8601(timestamp(p)) -> varchar | ISO 8601 text of a timestamp
scalar to_iso8601(timestamp(p) with time zone) -> varchar | ISO 8601 text of a zoned timestamp
scalar to_unixtime(timestamp(p)) -> double | Seconds since 1970-01-01 UTC
scalar to_utf8(varchar) -> varbinary | Encodes text as UTF-8
scalar trim(varchar) -> varchar | Removes leading and trailing whitespace
scalar truncate(double) -> double | Drops the fractional part
scalar upper(varchar) -> varchar | Upper case
scalar version() -> varchar | The Trino version Gongyu answers as
scalar week(date) -> bigint | ISO week of the year
scalar week_of_year(date) -> bigint | ISO week of the year
scalar year(date) -> bigint | Year
scalar year_of_week(date) -> bigint | ISO week-numbering year
window cume_dist() -> double | Cumulative distribution of the row in its partition
window dense_rank() -> bigint | Rank of the row without gaps
window first_value(T) -> T | The value at the first row of the window frame
window lag(T) -> T | The value at the previous row of the partition
window last_value(T) -> T | The value at the last row of the window frame
window lead(T) -> T | The value at the next row of the partition
window ntile(bigint) -> bigint | Bucket number of the row, from 1 to n
window percent_rank() -> double | Percentage rank of the row
window rank() -> bigint | Rank of the row with gaps
window row_number() -> bigint | Number of the row in its partition, from 1
"""


def _function(line: str) -> FunctionInfo:
    signature, _, description = line.partition(" | ")
    kind, _, call = signature.partition(" ")
    head, _, returns = call.partition(" -> ")
    name, _, arguments = head.partition("(")
    return FunctionInfo(
        name=name,
        return_type=returns,
        argument_types=arguments.removesuffix(")"),
        kind=kind.lstrip("~"),
        deterministic=not kind.startswith("~"),
        description=description,
    )


FUNCTIONS: tuple[FunctionInfo, ...] = tuple(
    _function(line) for line in _FUNCTIONS.strip().splitlines()
)


def session_properties(seconds: float, memory: str) -> tuple[SessionProperty, ...]:
    """The session properties whose values Gongyu applies (from its settings); `SET SESSION`
    is accepted for any property and changes none of them."""
    limit = f"{seconds:g}s"
    return (
        SessionProperty(
            "query_max_execution_time",
            limit,
            "varchar",
            "Maximum execution time of a statement (GONGYU_SQL_TIMEOUT_SECONDS; fixed)",
        ),
        SessionProperty(
            "query_max_memory_per_node",
            memory,
            "varchar",
            "Memory one statement may use (GONGYU_SQL_MEMORY_LIMIT; fixed)",
        ),
        SessionProperty(
            "query_max_run_time",
            limit,
            "varchar",
            "Maximum run time of a statement (GONGYU_SQL_TIMEOUT_SECONDS; fixed)",
        ),
    )


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
        limits = self.queries.sandboxes.limits
        catalog = _build(sandbox, self.queries.platform)
        catalog = Catalog(catalog.tables, session_properties(limits.seconds, limits.memory))
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
