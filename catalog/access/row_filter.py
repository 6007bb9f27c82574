"""A grant's row filter: an Iceberg filter expression over the published table's columns.

Written as Iceberg's (and Spark's, Trino's) filter strings are — `sido = '부산'`,
`age_band IN ('60-64', '65-69')`, `n >= 10 AND NOT (kind = '기타')`, `name LIKE '김%'`,
`x IS NULL`, `a BETWEEN 1 AND 9` — and parsed by pyiceberg, never by the SQL engine that runs
queries: a filter is data, not SQL, so it cannot call a function or read a table. It is bound to
the *published* schema (generalised and pseudonymised columns as the lakehouse holds them), so a
literal of the wrong type is refused when the grant is made, and the sandbox applies the bound
expression to the data files as an Arrow filter before any caller's SQL sees a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import reduce

import pyarrow.compute as pc
from pyiceberg.expressions import BooleanExpression, Or
from pyiceberg.expressions.parser import parse
from pyiceberg.expressions.visitors import bind, extract_field_ids
from pyiceberg.io.pyarrow import expression_to_pyarrow
from pyiceberg.schema import Schema
from pyparsing import ParseException

EXAMPLES = "sido = '부산', age_band IN ('60-64', '65-69'), n >= 10 AND NOT (kind = '기타')"


class RowFilterError(ValueError):
    """A row filter that cannot be used; the message says why and how to write it."""


def parse_row_filter(text: str) -> BooleanExpression:
    """The filter's expression; RowFilterError when it does not parse."""
    try:
        return parse(text)
    except ParseException:
        raise RowFilterError(
            "행 필터를 읽을 수 없습니다. "
            f"The row filter does not parse: {text!r}. "
            f"Write conditions such as {EXAMPLES}; put a column name that is not plain ASCII "
            "in double quotes (\"성별\" = '여자')."
        ) from None
    except ValueError as exc:  # e.g. a LIKE pattern with a wildcard not at its end
        raise RowFilterError(f"행 필터 오류. Row filter {text!r}: {exc}") from None


def columns_of(text: str, schema: Schema) -> set[str]:
    """The columns a filter reads (it must bind to `schema`)."""
    bound = _bind(parse_row_filter(text), schema, text)
    return {schema.find_column_name(i) or "" for i in extract_field_ids(bound)}


def _bind(expression: BooleanExpression, schema: Schema, text: str) -> BooleanExpression:
    try:
        return bind(schema, expression, case_sensitive=True)
    except (ValueError, TypeError) as exc:
        known = ", ".join(f"{f.name} ({f.field_type})" for f in schema.fields)
        raise RowFilterError(
            f"행 필터가 게시된 표와 맞지 않습니다. Row filter {text!r} does not fit the "
            f"published table: {exc}. Its columns as published: {known}."
        ) from None


def check_row_filter(text: str, schema: Schema, visible: Iterable[str]) -> None:
    """Refuse a filter that does not bind to the published `schema`, or that reads a column
    the grantee cannot see (filtering on a hidden column would reveal its values)."""
    hidden = sorted(columns_of(text, schema) - set(visible))
    if hidden:
        raise RowFilterError(
            f"행 필터가 공개되지 않는 열을 씁니다: {', '.join(hidden)}. "
            f"Row filter {text!r} reads column(s) {', '.join(hidden)} that the grantee cannot "
            "see: name them in the grant's columns, or filter on columns it can see."
        )


def arrow_filter(filters: Sequence[str], schema: Schema) -> pc.Expression:
    """Several grants' filters as one Arrow expression: a row passes when any filter lets it."""
    bound = [_bind(parse_row_filter(f), schema, f) for f in filters]
    return expression_to_pyarrow(reduce(Or, bound))
