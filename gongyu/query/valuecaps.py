"""A cap on the values a query builds, where DuckDB's memory limit does not reach.

DuckDB counts hash tables, sorts, aggregate states and materialised results against a
sandbox's `memory_limit`, but not the strings and lists that functions build row by row: one
`repeat('x', 1200000000)` takes 1.2 GB outside the limit in a single call no interrupt can
stop. So every call whose output can outgrow its input is rewritten, before the query runs,
into a guard that first works out how much the call would add and raises DuckDB's `error()`
instead of building a value past the cap:

- the size is an argument's value: repeat (strings, blobs, lists), lpad/rpad, list_resize and
  array_resize, range/generate_series as list-building scalars, bitstring, equi_width_bins,
  and printf/format field widths (only a literal format can be checked, so only a literal
  format is accepted);
- the size is a product of inputs: replace, regexp_replace, array_to_string and list
  aggregates with a separator (`list_aggr(l, 'string_agg', sep)`);
- the size doubles when a value meets itself: `||`, concat, concat_ws, list_concat (the
  recursive CTE that doubles a string each round).

A list built only to be unnested in FROM is not built at all: `FROM UNNEST(range(n)) AS
t(x)` becomes the `range` table function, whose rows stream. `tests/api/sql/test_valuecaps.py`
walks DuckDB's own function list (`duckdb_functions()`), so a function of the first kind
missing here fails the suite. Each guard binds the call's arguments once, in a one-element
list handed to a lambda, so no argument is computed twice:
`list_transform([{'a0': s, 'a1': n}], lambda __cap: CASE WHEN <added> > cap THEN error(..)
ELSE repeat(__cap.a0, __cap.a1) END)[1]`. Sizes count a value as its text (`CAST AS
VARCHAR`): a string's bytes, a list's printed form.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp

VAR = "__cap"
SETTING = "GONGYU_SQL_MAX_VALUE_BYTES"
STATEMENT_CAPS = 4  # caps one statement's guarded calls share (see `cap_values`)
LITERAL_BYTES = 1024  # a literal a lambda's concatenation may add per element


def _size(arg: str) -> str:
    """SQL for the bytes of a value as text (0 for NULL)."""
    return f"coalesce(strlen(CAST({arg} AS VARCHAR)), 0)"


def _count(args: list[str], temporal: bool) -> str:
    """SQL for the number of elements range/generate_series would list."""
    if len(args) == 1:
        return f"abs({args[0]})"
    if temporal:  # timestamps stepped by an interval: in seconds
        return f"abs((epoch({args[1]}) - epoch({args[0]})) / nullif(epoch({args[2]}), 0))"
    step = f" / nullif({args[2]}, 0)" if len(args) == 3 else ""
    return f"abs(({args[1]} - {args[0]}){step})"


def _concatenated(args: list[str], separators: int = 0) -> str:
    """SQL for what a concatenation adds to its largest input."""
    sizes = [_size(a) for a in args]
    sep = f" + {separators} * {sizes[0]}" if separators else ""
    return f"({' + '.join(sizes)}{sep} - greatest({', '.join(sizes)}))"


# What each guarded call adds beyond its input, in bytes, from its arguments (SQL over the
# lambda's fields). A list element counts 8 bytes at least (a BIGINT, a timestamp).
Added = Callable[[exp.Expression, list[str]], str]
ADDED: dict[str, Added] = {
    "repeat": lambda _, a: f"{_size(a[0])} * ({a[1]} - 1)",
    # Up to 4 bytes a character in UTF-8.
    "lpad": lambda _, a: f"4 * {a[1]} - {_size(a[0])}",
    "rpad": lambda _, a: f"4 * {a[1]} - {_size(a[0])}",
    "list_resize": lambda _, a: f"{a[1]} * greatest(8, {_size(a[2]) if len(a) > 2 else 8})",
    "array_resize": lambda _, a: f"{a[1]} * greatest(8, {_size(a[2]) if len(a) > 2 else 8})",
    "range": lambda n, a: f"8 * {_count(a, isinstance(n.args.get('step'), exp.Interval))}",
    "bitstring": lambda _, a: f"{a[1]} / 8",
    "equi_width_bins": lambda _, a: f"8 * {a[2]}",
    "replace": lambda _, a: (
        f"({_size(a[0])} / greatest(1, {_size(a[1])})) * ({_size(a[2])} - {_size(a[1])})"
    ),
    # Each match (at most one a character, and one more) becomes the replacement, whose
    # back-references repeat matched text: at most twice the product.
    "regexp_replace": lambda _, a: f"2 * ({_size(a[0])} + 1) * {_size(a[2])}",
    # The separator between each two elements; the elements themselves are input.
    "array_to_string": lambda _, a: f"(len({a[0]}) + 1) * {_size(a[1])}",
    "list_aggregate": lambda _, a: (
        f"(len({a[0]}) + 1) * greatest({', '.join(_size(x) for x in a[2:])})"
    ),
    "concat": lambda _, a: _concatenated(a),
    # concat_ws(sep, x, y, ...): the separator once between each two values.
    "concat_ws": lambda _, a: _concatenated(a, separators=max(len(a) - 3, 0)),
}
_ANONYMOUS = {
    "list_resize": "list_resize",
    "array_resize": "array_resize",
    "bitstring": "bitstring",
    "equi_width_bins": "equi_width_bins",
    "list_cat": "concat",
}
# An aggregate over a list, e.g. `list_aggr(l, 'string_agg', sep)`: extra arguments (the
# separator) repeat between elements; without them the answer is no larger than the list.
_LIST_AGGREGATES = {"list_aggregate", "list_aggr", "aggregate", "array_aggregate", "array_aggr"}
_CLASSES: dict[type[exp.Expression], str] = {
    exp.Repeat: "repeat",
    exp.GenerateSeries: "range",
    exp.Replace: "replace",
    exp.RegexpReplace: "regexp_replace",
    exp.DPipe: "concat",
    exp.Concat: "concat",
    exp.ArrayConcat: "concat",
    exp.ConcatWs: "concat_ws",
    exp.ArrayToString: "array_to_string",
}
# printf's `%-08.3f`, format's `{:>8.3}`: the numbers are widths and precisions; `*` and a
# nested `{}` take them from arguments, which cannot be checked before the call.
_PRINTF_SPEC = re.compile(r"%%|%[-+ #0']*(\*|\d*)(?:\.(\*|\d*))?")
_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def _kind(node: exp.Expression) -> str | None:
    """The guarded function `node` calls, if any."""
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name in _LIST_AGGREGATES:
            return "list_aggregate" if len(node.expressions) > 2 else None
        return _ANONYMOUS.get(name)
    if isinstance(node, exp.Pad):
        return "lpad" if node.args.get("is_left") else "rpad"
    if isinstance(node, exp.GenerateSeries) and isinstance(node.parent, exp.Table):
        return None  # the table function streams its rows: nothing is built
    return _CLASSES.get(type(node))


def _widths(fmt: str, printf: bool) -> list[str]:
    """Every width and precision a format asks for, as written (`*` or `{}`: from arguments)."""
    if printf:
        return [n for m in _PRINTF_SPEC.finditer(fmt) for n in m.groups() if n]
    found: list[str] = []
    for m in _FORMAT_FIELD.finditer(fmt):
        spec = (m.group(1) or "").partition(":")[2]
        found += ["*"] if "{" in spec else re.findall(r"\d+", spec)
    return found


def _format_error(node: exp.Expression, cap: int) -> str | None:
    """Why a printf/format call may not run, or None when its widths are within the cap."""
    printf = isinstance(node, exp.Anonymous) and node.name.lower() == "printf"
    if not (printf or isinstance(node, exp.Format)):
        return None
    name = "printf" if printf else "format"
    fmt = node.expressions[0] if printf else node.this
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return (
            f"{name}()'s format must be a string literal, so the widths it asks for can be checked"
        )
    widths = _widths(fmt.this, printf)
    if "*" in widths:
        return (
            f"{name}() may not take a width or precision from its arguments; write it in the format"
        )
    if sum(map(int, widths)) > cap:
        return f"{name}() asks for fields {'+'.join(widths)} characters wide"
    return None


def _literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def _message(what: str, cap: int, added: str | None) -> str:
    """SQL for the error a person reads: which cap, how much was asked, what to do."""
    fix = (
        f"; one value may grow by at most {cap:,} bytes here ({SETTING}, shared by the "
        "statement's value-building calls). Build smaller values, or rows instead of one long "
        "value (e.g. FROM range(n) rather than a list)"
    )
    if added is None:
        return f"error({_literal(f'value cap: {what}{fix}')})"
    asked = f"printf('%.0f', CAST(({added}) AS DOUBLE))"
    prefix, suffix = f"value cap: {what} would add ", f" bytes beyond its input{fix}"
    return f"error({_literal(prefix)} || {asked} || {_literal(suffix)})"


def _constant(arg: exp.Expression) -> bool:
    """True for a literal: it stays in the call (DuckDB wants some, e.g. regexp flags)."""
    value = arg.this if isinstance(arg, exp.Neg) else arg
    return isinstance(value, exp.Literal | exp.Null | exp.Boolean)


def _guard(node: exp.Expression, kind: str, cap: int) -> exp.Expression:
    """`node` computed only when what it adds is within `cap`, its arguments bound once."""
    args = list(node.iter_expressions())
    bound = [i for i, arg in enumerate(args) if not _constant(arg)]
    names = [
        f"{VAR}.a{i}" if i in bound else arg.sql(dialect="duckdb") for i, arg in enumerate(args)
    ]
    added = ADDED[kind](node, names)
    what = "||" if isinstance(node, exp.DPipe) else f"{kind}()"
    check = f"CASE WHEN ({added}) > {cap} THEN {_message(what, cap, added)} ELSE __call END"
    if bound:
        struct = ", ".join(f"'a{i}': __arg{i}" for i in bound)
        check = f"list_transform([{{{struct}}}], {VAR} -> {check})[1]"
    template = sqlglot.parse_one(check, read="duckdb")
    placeholders = {c.name: c for c in template.find_all(exp.Column) if c.name.startswith("__")}
    for i in bound:
        arg = args[i]
        arg.replace(exp.column(f"a{i}", table=VAR))
        placeholders[f"__arg{i}"].replace(arg)
    placeholders["__call"].replace(node)
    return template


def _streamed(node: exp.Unnest) -> exp.Table | None:
    """`FROM UNNEST(range(..)) AS t(x)` (Trino's `UNNEST(sequence(..))`) as the series table
    function it means: the same rows, streamed, where the list would be built whole first."""
    alias = node.args.get("alias")
    series = node.expressions[0] if len(node.expressions) == 1 else None
    if not (
        isinstance(node.parent, exp.From | exp.Join)
        and isinstance(series, exp.GenerateSeries)
        and not node.args.get("offset")
        and alias is not None
        and alias.columns  # named as the table function's column would not be otherwise
    ):
        return None
    return exp.Table(this=series, alias=alias)


def _bounded(node: exp.Expression, kind: str) -> bool:
    """True for a concatenation of one value with literals: it adds only the literals' bytes."""
    if kind != "concat":
        return False
    parts = list(node.flatten()) if isinstance(node, exp.DPipe) else list(node.expressions)
    return sum(not _constant(p) for p in parts) <= 1 and all(
        len(p.name) <= LITERAL_BYTES for p in parts if _constant(p)
    )


def _refusal(problem: str, cap: int) -> exp.Expression:
    # Typed: a bare error() is NULL-typed, and length(NULL) never calls it.
    return sqlglot.parse_one(f"CAST({_message(problem, cap, None)} AS VARCHAR)", read="duckdb")


def cap_values(tree: exp.Expression, cap: int) -> exp.Expression:
    """`tree` with every call that can outgrow its input guarded by the value cap (bytes).

    DuckDB evaluates an expression for 2,048 rows at a time and checks for interrupts only
    between such vectors, so what a statement may build at once is its calls' caps summed:
    the statement shares `STATEMENT_CAPS` caps among its guarded calls (each gets at most
    `cap`). A call inside a lambda runs once per list element, a number unknown before it
    runs: only a concatenation with short literals (`x -> 'Mr. ' || x`) may grow a value there.
    """
    for unnest in list(tree.find_all(exp.Unnest)):
        if (table := _streamed(unnest)) is not None:
            unnest.replace(table)
    nodes = [n for n in reversed(list(tree.walk())) if isinstance(n, exp.Func | exp.DPipe)]
    kinds = {id(n): k for n in nodes if (k := _kind(n)) is not None}
    in_lambda = {id(n) for n in nodes if n.find_ancestor(exp.Lambda) is not None}
    share = min(cap, STATEMENT_CAPS * cap // max(1, len(kinds)))
    # Innermost first: a guard's arguments are guarded already when it is built.
    for node in nodes:
        kind = kinds.get(id(node))
        if problem := _format_error(node, share):
            node.replace(_refusal(problem, share))
        elif kind is None or (id(node) in in_lambda and _bounded(node, kind)):
            continue
        elif id(node) in in_lambda:
            what = "||" if isinstance(node, exp.DPipe) else f"{kind}()"
            node.replace(
                _refusal(
                    f"{what} inside a lambda would grow a value once per list element; "
                    "unnest the list into rows (FROM unnest(...)) and build each value there",
                    share,
                )
            )
        else:
            spot = exp.Null()
            node.replace(spot)  # detached: the guard takes the call in
            spot.replace(_guard(node, kind, share))
    return tree
