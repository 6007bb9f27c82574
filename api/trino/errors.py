"""Errors in Trino's shape: a name and code from Trino's standard list, a type, a location.

Clients branch on them: the Python client raises `TrinoUserError` for `USER_ERROR`, JDBC maps
them to SQLExceptions with the code. Messages never carry a stack trace or a file path.
"""

from __future__ import annotations

import re
from typing import Any

from gongyu.query.query import QueryError

USER_ERROR, INTERNAL_ERROR, INSUFFICIENT_RESOURCES = (
    "USER_ERROR",
    "INTERNAL_ERROR",
    "INSUFFICIENT_RESOURCES",
)
# Trino's StandardErrorCode (io.trino.spi), in its order: user errors from 0, internal errors
# from 0x10000, insufficient resources from 0x20000.
_USER_ERRORS = """
GENERIC_USER_ERROR SYNTAX_ERROR ABANDONED_QUERY USER_CANCELED PERMISSION_DENIED NOT_FOUND
FUNCTION_NOT_FOUND INVALID_FUNCTION_ARGUMENT DIVISION_BY_ZERO INVALID_CAST_ARGUMENT
OPERATOR_NOT_FOUND INVALID_VIEW ALREADY_EXISTS NOT_SUPPORTED INVALID_SESSION_PROPERTY
INVALID_WINDOW_FRAME CONSTRAINT_VIOLATION TRANSACTION_CONFLICT INVALID_TABLE_PROPERTY
NUMERIC_VALUE_OUT_OF_RANGE UNKNOWN_TRANSACTION NOT_IN_TRANSACTION TRANSACTION_ALREADY_ABORTED
READ_ONLY_VIOLATION MULTI_CATALOG_WRITE_CONFLICT AUTOCOMMIT_WRITE_CONFLICT
UNSUPPORTED_ISOLATION_LEVEL INCOMPATIBLE_CLIENT SUBQUERY_MULTIPLE_ROWS PROCEDURE_NOT_FOUND
INVALID_PROCEDURE_ARGUMENT QUERY_REJECTED AMBIGUOUS_FUNCTION_CALL INVALID_SCHEMA_PROPERTY
SCHEMA_NOT_EMPTY QUERY_TEXT_TOO_LARGE UNSUPPORTED_SUBQUERY EXCEEDED_FUNCTION_MEMORY_LIMIT
ADMINISTRATIVELY_KILLED INVALID_COLUMN_PROPERTY QUERY_HAS_TOO_MANY_STAGES
INVALID_SPATIAL_PARTITIONING INVALID_ANALYZE_PROPERTY TYPE_NOT_FOUND CATALOG_NOT_FOUND
SCHEMA_NOT_FOUND TABLE_NOT_FOUND COLUMN_NOT_FOUND ROLE_NOT_FOUND SCHEMA_ALREADY_EXISTS
TABLE_ALREADY_EXISTS COLUMN_ALREADY_EXISTS ROLE_ALREADY_EXISTS DUPLICATE_NAMED_QUERY
DUPLICATE_COLUMN_NAME MISSING_COLUMN_NAME MISSING_CATALOG_NAME MISSING_SCHEMA_NAME TYPE_MISMATCH
INVALID_LITERAL COLUMN_TYPE_UNKNOWN MISMATCHED_COLUMN_ALIASES AMBIGUOUS_NAME
INVALID_COLUMN_REFERENCE MISSING_GROUP_BY MISSING_ORDER_BY MISSING_OVER NESTED_AGGREGATION
NESTED_WINDOW EXPRESSION_NOT_IN_DISTINCT TOO_MANY_GROUPING_SETS FUNCTION_NOT_WINDOW
FUNCTION_NOT_AGGREGATE EXPRESSION_NOT_AGGREGATE EXPRESSION_NOT_SCALAR EXPRESSION_NOT_CONSTANT
INVALID_ARGUMENTS TOO_MANY_ARGUMENTS INVALID_PRIVILEGE DUPLICATE_PROPERTY
INVALID_PARAMETER_USAGE VIEW_IS_STALE VIEW_IS_RECURSIVE NULL_TREATMENT_NOT_ALLOWED
INVALID_ROW_FILTER INVALID_COLUMN_MASK MISSING_TABLE INVALID_RECURSIVE_REFERENCE
MISSING_COLUMN_ALIASES NESTED_RECURSIVE INVALID_LIMIT_CLAUSE INVALID_ORDER_BY
"""
_INTERNAL_ERRORS = """
GENERIC_INTERNAL_ERROR TOO_MANY_REQUESTS_FAILED PAGE_TOO_LARGE PAGE_TRANSPORT_ERROR
PAGE_TRANSPORT_TIMEOUT NO_NODES_AVAILABLE REMOTE_TASK_ERROR COMPILER_ERROR REMOTE_TASK_MISMATCH
SERVER_SHUTTING_DOWN FUNCTION_IMPLEMENTATION_MISSING REMOTE_BUFFER_CLOSE_FAILED
SERVER_STARTING_UP FUNCTION_IMPLEMENTATION_ERROR INVALID_PROCEDURE_DEFINITION
PROCEDURE_CALL_FAILED AMBIGUOUS_FUNCTION_IMPLEMENTATION ABANDONED_TASK
CORRUPT_SERIALIZED_IDENTITY CORRUPT_PAGE OPTIMIZER_TIMEOUT OUT_OF_SPILL_SPACE REMOTE_HOST_GONE
CONFIGURATION_INVALID CONFIGURATION_UNAVAILABLE INVALID_RESOURCE_GROUP SERIALIZATION_ERROR
"""
_RESOURCE_ERRORS = """
GENERIC_INSUFFICIENT_RESOURCES EXCEEDED_GLOBAL_MEMORY_LIMIT QUERY_QUEUE_FULL EXCEEDED_TIME_LIMIT
CLUSTER_OUT_OF_MEMORY EXCEEDED_CPU_LIMIT EXCEEDED_SPILL_LIMIT EXCEEDED_LOCAL_MEMORY_LIMIT
ADMINISTRATIVELY_PREEMPTED EXCEEDED_SCAN_LIMIT
"""
CODES: dict[str, tuple[int, str]] = {
    name: (base + number, kind)
    for names, base, kind in (
        (_USER_ERRORS, 0, USER_ERROR),
        (_INTERNAL_ERRORS, 0x10000, INTERNAL_ERROR),
        (_RESOURCE_ERRORS, 0x20000, INSUFFICIENT_RESOURCES),
    )
    for number, name in enumerate(names.split())
}


class TrinoError(Exception):
    """A statement that failed, as a Trino client sees it."""

    def __init__(self, name: str, message: str, location: tuple[int, int] | None = None) -> None:
        if location:
            message = f"line {location[0]}:{location[1]}: {message}"
        super().__init__(message)
        self.name = name
        self.message = message
        self.location = location

    @property
    def user_error(self) -> bool:
        """True when the caller's statement is at fault (not the server)."""
        return CODES[self.name][1] == USER_ERROR

    def body(self) -> dict[str, Any]:
        """The `error` object of a QueryResults document."""
        code, kind = CODES[self.name]
        where = (
            {"lineNumber": self.location[0], "columnNumber": self.location[1]}
            if self.location
            else None
        )
        failure: dict[str, Any] = {
            "type": "io.trino.spi.TrinoException",
            "message": self.message,
            "suppressed": [],
            "stack": [],
        }
        error: dict[str, Any] = {
            "message": self.message,
            "errorCode": code,
            "errorName": self.name,
            "errorType": kind,
            "failureInfo": failure,
        }
        if where:
            error["errorLocation"] = failure["errorLocation"] = where
        return error


def location(sql: str, offset: int) -> tuple[int, int]:
    """(line, column), both from 1, of a character offset in `sql`."""
    line = sql.count("\n", 0, offset) + 1
    return line, offset - (sql.rfind("\n", 0, offset) + 1) + 1


# DuckDB's errors as Trino words them: (pattern of DuckDB's first line, Trino's name, message).
# The message is a template of the pattern's groups; types are written as Trino names them.
_DUCKDB: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), name, message)
    for pattern, name, message in (
        (
            r'^Binder Error: Referenced column "(.+?)" not found',
            "COLUMN_NOT_FOUND",
            "Column '{0}' cannot be resolved",
        ),
        (
            r'^Binder Error: (?:Table|Values list) "(.+?)" does not have a column named "(.+?)"',
            "COLUMN_NOT_FOUND",
            "Column '{0}.{1}' cannot be resolved",
        ),
        (
            r'^Binder Error: Referenced table "(.+?)" not found',
            "COLUMN_NOT_FOUND",
            "Column '{0}' cannot be resolved",
        ),
        (
            r'^Binder Error: Ambiguous reference to column name "(.+?)"',
            "AMBIGUOUS_NAME",
            "Column '{0}' is ambiguous",
        ),
        (
            r"^Catalog Error: \w+ Function with name (\S+?) does not exist",
            "FUNCTION_NOT_FOUND",
            "Function '{0}' not registered",
        ),
        (
            r"^Binder Error: No function matches the given name and argument types '(\w+)\((.*)\)'",
            "FUNCTION_NOT_FOUND",
            "Unexpected parameters ({1}) for function {0}",
        ),
        (
            r"^Binder Error: Could not choose a best candidate function for the function call "
            r'"([^\w\s(]+)\((.+?), (.+?)\)"',
            "TYPE_MISMATCH",
            "Cannot apply operator: {1} {0} {2}",
        ),
        (
            r"^Binder Error: Could not choose a best candidate function for the function call "
            r'"(\w+)\((.*?)\)"',
            "FUNCTION_NOT_FOUND",
            "Unexpected parameters ({1}) for function {0}",
        ),
        (
            r"^Binder Error: Cannot compare values of type (\S+) and(?: type)? (\S+?)(?: -|$)",
            "TYPE_MISMATCH",
            "Cannot apply operator: {0} = {1}",
        ),
        (
            r"^Binder Error: column \"(.+?)\" must appear in the GROUP BY clause",
            "EXPRESSION_NOT_AGGREGATE",
            "'{0}' must be an aggregate expression or appear in GROUP BY clause",
        ),
        (
            r"^Binder Error: aggregate function calls cannot be nested",
            "NESTED_AGGREGATION",
            "Cannot nest aggregations inside aggregation",
        ),
        (
            r"^Binder Error: WHERE clause cannot contain aggregates",
            "EXPRESSION_NOT_SCALAR",
            "WHERE clause cannot contain aggregations, window functions or grouping operations",
        ),
        (
            r"^Catalog Error: Table with name (\S+?) does not exist",
            "TABLE_NOT_FOUND",
            "Table '" + "gongyu" + ".{0}' does not exist",
        ),
        (r"^Invalid Input Error: Division by zero", "DIVISION_BY_ZERO", "Division by zero"),
        (
            r"^Invalid Input Error: (Cannot add hour, minutes or seconds to a date)",
            "INVALID_FUNCTION_ARGUMENT",
            "{0}",
        ),
        (
            r"^Conversion Error: Could not convert string '(.*)' to (\w+)",
            "INVALID_CAST_ARGUMENT",
            "Cannot cast '{0}' to {1}",
        ),
        (
            r'^Conversion Error: invalid (date|timestamp) field format: "(.*?)"',
            "INVALID_CAST_ARGUMENT",
            "Value cannot be cast to {0}: {1}",
        ),
        (
            r"^Conversion Error: (?:Type )?(\w+) (?:with value )?(\S+) can't be cast because "
            r"the value is out of range for the destination type (\w+)",
            "NUMERIC_VALUE_OUT_OF_RANGE",
            "Out of range for {2}: {1}",
        ),
        (
            r"^Out of Range Error: Overflow in (addition|subtraction|multiplication) of (\w+) "
            r"\((.+)\)",
            "NUMERIC_VALUE_OUT_OF_RANGE",
            "{1} {0} overflow: {2}",
        ),
        (r"^Parser Error: (.*)", "SYNTAX_ERROR", "{0}"),
        (r"^Conversion Error: (.*)", "INVALID_CAST_ARGUMENT", "{0}"),
        (r"^Out of Range Error: (.*)", "NUMERIC_VALUE_OUT_OF_RANGE", "{0}"),
        (r"^Invalid Input Error: (.*)", "INVALID_FUNCTION_ARGUMENT", "{0}"),
        (r"^Not implemented Error: (.*)", "NOT_SUPPORTED", "{0}"),
        (r"^Out of Memory Error: (.*)", "EXCEEDED_LOCAL_MEMORY_LIMIT", "{0}"),
        (r"^Binder Error: (.*(?:type|TYPE).*)", "TYPE_MISMATCH", "{0}"),
        (r"^(?:Binder|Catalog) Error: (.*)", "GENERIC_USER_ERROR", "{0}"),
        (r"^[A-Z][A-Za-z ]* Error: (.*)", "GENERIC_INTERNAL_ERROR", "{0}"),
    )
)
# DuckDB's type names as Trino's.
_TYPE_NAMES = {
    "INT8": "tinyint",
    "TINYINT": "tinyint",
    "INT16": "smallint",
    "SMALLINT": "smallint",
    "INT32": "integer",
    "INTEGER": "integer",
    "INT": "integer",
    "INT64": "bigint",
    "BIGINT": "bigint",
    "INT128": "decimal(38,0)",
    "HUGEINT": "decimal(38,0)",
    "FLOAT": "real",
    "DOUBLE": "double",
    "VARCHAR": "varchar",
    "STRING_LITERAL": "varchar",
    "INTEGER_LITERAL": "integer",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp(6)",
    "TIMESTAMP WITH TIME ZONE": "timestamp(6) with time zone",
    "BLOB": "varbinary",
    "INTERVAL": "interval day to second",
    "UUID": "uuid",
    "TIME": "time(6)",
}
# Trino's words for a type in its cast messages.
_CAST_NAMES = {"INT8": "TINYINT", "INT16": "SMALLINT", "INT32": "INT", "INT64": "BIGINT"}
_TYPE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _TYPE_NAMES), key=len, reverse=True)) + r")\b"
)


def _trino_types(text: str) -> str:
    return _TYPE.sub(lambda m: _TYPE_NAMES[m[1]], text)


def duckdb_error(message: str) -> TrinoError:
    """A DuckDB error as Trino's: its name and its wording (never DuckDB's error class, its
    `LINE 1:` excerpt, its candidate lists or hints)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, name, template in _DUCKDB:
        match = pattern.search(first)
        if match is None:
            continue
        groups = [g or "" for g in match.groups()]
        if name == "INVALID_CAST_ARGUMENT" and len(groups) == 2 and template.startswith("Cannot"):
            groups[1] = _CAST_NAMES.get(groups[1], groups[1])
        elif name == "NUMERIC_VALUE_OUT_OF_RANGE" and "overflow" in template:
            groups[1] = _TYPE_NAMES.get(groups[1], groups[1].lower())
        elif name in ("TYPE_MISMATCH", "FUNCTION_NOT_FOUND", "NUMERIC_VALUE_OUT_OF_RANGE"):
            groups = [_trino_types(g) for g in groups]
        text = template.format(*groups).rstrip("!").strip()
        return TrinoError(name, text)
    return TrinoError("GENERIC_INTERNAL_ERROR", first.rstrip("!"))


_REFUSED: tuple[tuple[str, str], ...] = (
    ("Parser Error", "SYNTAX_ERROR"),
    ("Catalog Error: Table with name", "TABLE_NOT_FOUND"),
    ("statement too long", "QUERY_TEXT_TOO_LARGE"),
)


# The query service's own limits: no slot to run in, the process's memory budget, a close.
_RESOURCES = {
    "busy": "QUERY_QUEUE_FULL",
    "memory": "EXCEEDED_GLOBAL_MEMORY_LIMIT",
    "cancelled": "USER_CANCELED",
}


def from_query_error(exc: QueryError) -> TrinoError:
    """The Trino error for a failure of the query service (refusal, SQL error, a limit)."""
    message = exc.message.strip()
    if exc.kind == "timeout":
        return TrinoError("EXCEEDED_TIME_LIMIT", f"Query exceeded the time limit: {message}")
    if exc.kind == "unavailable":
        return TrinoError("PERMISSION_DENIED", f"Access Denied: {message}")
    if exc.kind in _RESOURCES:
        return TrinoError(_RESOURCES[exc.kind], message)
    if exc.kind == "refused":
        name = next((n for prefix, n in _REFUSED if message.startswith(prefix)), None)
        if name is None:
            return TrinoError("PERMISSION_DENIED", f"Access Denied: {message}")
        if name == "QUERY_TEXT_TOO_LARGE":
            return TrinoError(name, message)
        return duckdb_error(message)
    if exc.kind == "sql":
        return duckdb_error(message)
    return TrinoError("GENERIC_USER_ERROR", message)
