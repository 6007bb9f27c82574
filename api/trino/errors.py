"""Errors in Trino's shape: a name and code from Trino's standard list, a type, a location.

Clients branch on them: the Python client raises `TrinoUserError` for `USER_ERROR`, JDBC maps
them to SQLExceptions with the code. Messages never carry a stack trace or a file path.
"""

from __future__ import annotations

import re
from typing import Any

from api.sql.query import QueryError

USER_ERROR, INTERNAL_ERROR, INSUFFICIENT_RESOURCES = (
    "USER_ERROR",
    "INTERNAL_ERROR",
    "INSUFFICIENT_RESOURCES",
)
# Trino's StandardErrorCode values for the errors Gongyu reports.
CODES: dict[str, tuple[int, str]] = {
    "GENERIC_USER_ERROR": (0, USER_ERROR),
    "SYNTAX_ERROR": (1, USER_ERROR),
    "ABANDONED_QUERY": (2, USER_ERROR),
    "USER_CANCELED": (3, USER_ERROR),
    "PERMISSION_DENIED": (4, USER_ERROR),
    "NOT_FOUND": (5, USER_ERROR),
    "FUNCTION_NOT_FOUND": (6, USER_ERROR),
    "INVALID_FUNCTION_ARGUMENT": (7, USER_ERROR),
    "INVALID_CAST_ARGUMENT": (9, USER_ERROR),
    "NOT_SUPPORTED": (13, USER_ERROR),
    "NUMERIC_VALUE_OUT_OF_RANGE": (19, USER_ERROR),
    "QUERY_TEXT_TOO_LARGE": (35, USER_ERROR),
    "CATALOG_NOT_FOUND": (44, USER_ERROR),
    "SCHEMA_NOT_FOUND": (45, USER_ERROR),
    "TABLE_NOT_FOUND": (46, USER_ERROR),
    "COLUMN_NOT_FOUND": (47, USER_ERROR),
    "MISSING_SCHEMA_NAME": (57, USER_ERROR),
    "TYPE_MISMATCH": (58, USER_ERROR),
    "INVALID_PARAMETER_USAGE": (80, USER_ERROR),
    "GENERIC_INTERNAL_ERROR": (65536, INTERNAL_ERROR),
    "EXCEEDED_GLOBAL_MEMORY_LIMIT": (131073, INSUFFICIENT_RESOURCES),
    "QUERY_QUEUE_FULL": (131074, INSUFFICIENT_RESOURCES),
    "EXCEEDED_TIME_LIMIT": (131075, INSUFFICIENT_RESOURCES),
    "EXCEEDED_LOCAL_MEMORY_LIMIT": (131079, INSUFFICIENT_RESOURCES),
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


# DuckDB's error classes (the text before the colon) and messages, mapped to Trino's names.
_DUCKDB: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"^Parser Error", "SYNTAX_ERROR"),
        (r"^Binder Error: Referenced column|^Binder Error: .*not found in", "COLUMN_NOT_FOUND"),
        (r"^Binder Error: No function matches|^Catalog Error: \w+ Function", "FUNCTION_NOT_FOUND"),
        (r"^Catalog Error: Table with name", "TABLE_NOT_FOUND"),
        (r"^Binder Error: Cannot compare|^Binder Error: .*type", "TYPE_MISMATCH"),
        (r"^Conversion Error", "INVALID_CAST_ARGUMENT"),
        (r"^Out of Range Error", "NUMERIC_VALUE_OUT_OF_RANGE"),
        (r"^Invalid Input Error", "INVALID_FUNCTION_ARGUMENT"),
        (r"^Out of Memory Error", "EXCEEDED_LOCAL_MEMORY_LIMIT"),
        (r"^(Binder|Catalog) Error", "GENERIC_USER_ERROR"),
    )
)
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
        return TrinoError(name, message)
    if exc.kind == "sql":
        name = next((n for pattern, n in _DUCKDB if pattern.search(message)), None)
        return TrinoError(name or "GENERIC_INTERNAL_ERROR", message)
    return TrinoError("GENERIC_USER_ERROR", message)
