"""Accept one read-only query, or refuse it with a clear reason, before DuckDB sees it.

Parsed with sqlglot, never matched as text, and run as sqlglot writes it back: what runs is what
was checked. The check is an allow-list, so a form nobody thought of is refused, not passed:
- exactly one statement, a query (SELECT, set operations, CTEs, VALUES, PIVOT over a table), or
  SUMMARIZE / DESCRIBE of a table or query (never of a string: DuckDB reads a string there as a
  table name or a file);
- every node of the tree is of a kind listed here: no statement nested anywhere (`WITH x AS
  (ATTACH …)`, `(DELETE … RETURNING *)`), no SHOW, no time travel syntax, no parameters or
  session variables;
- every table is a policy view of the caller (`<sector>.<table>`, optionally `gongyu.`), a CTE
  visible where it is named (a name DuckDB would not resolve as that CTE would be read as a
  table, or a file), or `information_schema.tables | columns | schemata` — rewritten to the
  caller's own views; a string or identifier that DuckDB could read as a file is never a table;
- table functions: only series (`range`, `generate_series`) and `unnest`;
- functions: DuckDB's own scalar and aggregate functions, minus those that read settings,
  storage statistics, variables or sequences, or sleep.
The sandbox itself can open no file the caller may not read whole; this check is the first of
two walls, and it also says which datasets a query reads, for the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

MAX_SQL_CHARS = 100_000
CATALOG = "gongyu"
"""The catalog name Trino-style clients use; DuckDB's database of policy views has it too."""

# information_schema tables a caller may read, with the columns that say whose entry a row is.
INFORMATION_SCHEMA = {
    "tables": ("table_catalog", "table_schema"),
    "columns": ("table_catalog", "table_schema"),
    "schemata": ("catalog_name", "schema_name"),
}
SAFE_TABLE_FUNCTIONS = (exp.GenerateSeries, exp.Unnest, exp.Explode)

# Nodes a query may hold besides functions and operators (checked by family below).
ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Subquery,
    exp.Values,
    exp.Tuple,
    exp.From,
    exp.Join,
    exp.Lateral,
    exp.Where,
    exp.Group,
    exp.Cube,
    exp.Rollup,
    exp.GroupingSets,
    exp.Having,
    exp.Qualify,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.LimitOptions,
    exp.Offset,
    exp.Fetch,
    exp.Distinct,
    exp.With,
    exp.CTE,
    exp.Table,
    exp.TableAlias,
    exp.TableSample,
    exp.Pivot,
    exp.PivotAlias,
    exp.UnpivotColumns,
    exp.Alias,
    exp.Aliases,
    exp.Column,
    exp.Identifier,
    exp.Star,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.RawString,
    exp.National,
    exp.ByteString,
    exp.HexString,
    exp.BitString,
    exp.DataType,
    exp.DataTypeParam,
    exp.Interval,
    exp.Var,
    exp.Window,
    exp.WindowSpec,
    exp.IgnoreNulls,  # a modifier of the function it wraps (sqlglot reads ANY_VALUE(x) so)
    exp.RespectNulls,
    exp.Filter,
    exp.WithinGroup,
    exp.Lambda,
    exp.Bracket,
    exp.Slice,
    exp.JSONPath,
    exp.JSONPathKey,
    exp.JSONPathRoot,
    exp.JSONPathSubscript,
    exp.JSONPathWildcard,
    exp.JSONPathSlice,
    exp.ColumnDef,
    exp.Summarize,
    exp.Describe,
)
# What SUMMARIZE and DESCRIBE may be of: a table (checked like any) or a query.
DESCRIBABLE = (exp.Table, exp.Query)
# Expression families: functions (names checked), operators, predicates, AND/OR.
ALLOWED_FAMILIES = (exp.Func, exp.Binary, exp.Unary, exp.Predicate, exp.Connector)
# Families that hold nodes of other kinds: a statement is never an expression here.
REFUSED_FAMILIES = (exp.DDL, exp.DML, exp.Command)

# Functions that read the server's settings, variables, sequences or storage statistics (the
# latter summarise rows a filter hides), change shared state, write logs or sleep.
DENIED_FUNCTIONS = frozenset(
    {
        "current_setting",
        "getvariable",
        "getenv",
        "stats",
        "nextval",
        "currval",
        "setseed",
        "sleep_ms",
        "pg_sleep",
        "write_log",
        "txid_current",
        "current_transaction_id",
        "current_connection_id",
        "current_query_id",
        "in_search_path",
        "finalize",
        "combine",
        "query",
        "query_table",
        "checkpoint",
        "force_checkpoint",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "parse_duckdb_log_message",
        "current_schemas",
        "current_database",
        "current_catalog",
    }
)
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
    "arrow_",
    "pandas_",
    "python_",
    "pg_",
)


class Refused(ValueError):
    """A statement the SQL API does not run; the message says why, as a SQL error would."""


class NotFound(Refused):
    """A table the caller cannot see: reported exactly as a typo is."""


@dataclass(frozen=True)
class Checked:
    """An accepted query: its tree (as it will run) and the policy views it reads."""

    tree: exp.Expression
    tables: frozenset[tuple[str, str]]


@cache
def duckdb_functions() -> frozenset[str]:
    """DuckDB's own scalar and aggregate functions and scalar macros (schema `main`)."""
    import duckdb  # here: reading the contracts (a product's definition) must not load DuckDB

    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate', 'macro') AND schema_name = 'main'"
        ).fetchall()
    return frozenset(r[0] for r in rows)


def function_name(func: exp.Func) -> str:
    """A function's name as DuckDB will be asked for it."""
    return (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()


def forbidden_function(func: exp.Func) -> str | None:
    """The function's name when the SQL API refuses it; None when it may run."""
    name = function_name(func)
    if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
        return name
    if isinstance(func, exp.Anonymous) and name not in duckdb_functions():
        return name  # not one of DuckDB's scalar functions: a table function or a macro
    return None


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
    if not isinstance(tree, exp.Query | exp.Values | exp.Pivot | exp.Summarize | exp.Describe):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else tree.name.upper()
        raise Refused(f"only queries are allowed (SELECT, WITH, set operations), not {kind}")
    return tree


def _refuse_node(node: exp.Expression) -> None:
    if isinstance(node, REFUSED_FAMILIES) or not isinstance(node, ALLOWED_NODES + ALLOWED_FAMILIES):
        kind = node.key.upper() if not isinstance(node, exp.Command) else node.name.upper()
        raise Refused(f"{kind} is not available in the SQL API: send one plain query")
    if isinstance(node, exp.Summarize | exp.Describe) and not isinstance(node.this, DESCRIBABLE):
        raise Refused(
            f"{node.key.upper()} takes a table or a query here, not a string: DuckDB would "
            "read a string as a table name or a file"
        )
    if isinstance(node, exp.Func) and (name := forbidden_function(node)):
        raise Refused(f"function {name}() is not available in the SQL API")


def check_query(sql: str, allowed: set[tuple[str, str]], dialect: str = "duckdb") -> Checked:
    """Parse `sql` and refuse anything but one read-only query over `allowed` (schema, table);
    `information_schema` tables in it are narrowed to the caller's views."""
    tree = _parse(sql, dialect)
    used: set[tuple[str, str]] = set()
    try:
        nodes = list(tree.walk())
        for node in nodes:
            _refuse_node(node)
        for node in nodes:
            if isinstance(node, exp.Table):
                used |= _table(node, allowed)
    except RecursionError:
        raise Refused("statement too deeply nested") from None
    return Checked(tree=tree, tables=frozenset(used))


def _visible_ctes(node: exp.Expression) -> set[str]:
    """The CTE names DuckDB resolves at `node`: those of every enclosing WITH defined before the
    CTE the node sits in (and that CTE itself when the WITH is RECURSIVE)."""
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            recursive = bool(parent.args.get("recursive"))
            for cte in parent.expressions:
                if cte is child:
                    if recursive:
                        names.add(cte.alias_or_name.lower())
                    break
                names.add(cte.alias_or_name.lower())
        elif (with_ := parent.args.get("with_")) is not None and child is not with_:
            names |= {cte.alias_or_name.lower() for cte in with_.expressions}
        child, parent = parent, parent.parent
    return names


def _table(node: exp.Table, allowed: set[tuple[str, str]]) -> set[tuple[str, str]]:
    target = node.this
    if isinstance(target, SAFE_TABLE_FUNCTIONS):
        return set()
    if not isinstance(target, exp.Identifier):
        name = target.sql_name() if isinstance(target, exp.Func) else type(target).__name__
        raise Refused(f"table function {name.lower()}() is not available in the SQL API")
    if node.args.get("version") or node.args.get("when"):
        raise Refused("time travel syntax is not available: send `as_of` with the query")
    name, schema, catalog = node.name.lower(), node.db.lower(), node.catalog.lower()
    shown = ".".join(p for p in (node.catalog, node.db, node.name) if p)
    if not schema:
        if not catalog and name in _visible_ctes(node):
            return set()
        raise not_found(shown)
    if catalog and catalog != CATALOG:
        raise not_found(shown)
    if schema == "information_schema" and name in INFORMATION_SCHEMA:
        _narrow_information_schema(node, name)
        return set()
    if (schema, name) not in allowed:
        raise not_found(shown)
    return {(schema, name)}


def _narrow_information_schema(node: exp.Table, name: str) -> None:
    """Replace `information_schema.<name>` with its rows about the caller's own views."""
    catalog_column, schema_column = INFORMATION_SCHEMA[name]
    rows = (
        exp.select("*")
        .from_(exp.table_(name, db="information_schema", catalog="system"))
        .where(
            exp.column(catalog_column).eq(exp.Literal.string(CATALOG))
            & exp.column(schema_column).neq(exp.Literal.string("main"))
        )
    )
    alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
    node.replace(exp.Subquery(this=rows, alias=alias))
