"""What each statement a Trino client sends becomes: a query to run, or an answer at once.

Queries go through `api.trino.dialect`, after the Trino functions DuckDB lacks or answers
differently (`format`, `format_datetime`, `parse_datetime`, `to_iso8601`, `date_format` and
`date_parse` with their Java and MySQL patterns, `count_if`) are written as DuckDB expressions.
`SHOW CATALOGS | SCHEMAS | TABLES | COLUMNS | CREATE TABLE | SESSION | FUNCTIONS | STATS` and
`DESCRIBE` become queries over the metadata tables or the caller's own view; `EXPLAIN` becomes a
query that checks the statement as it would run and answers with a plan drawn from the
statement itself (tables the caller reads, their columns and the caller's own expressions: never
DuckDB's plan, which names files and views). Session statements (`USE`, `SET`/`RESET SESSION`,
`START TRANSACTION`, `COMMIT`, `ROLLBACK`, `PREPARE`, `DEALLOCATE PREPARE`) are answered with the
headers Trino would send; `EXECUTE` and `EXECUTE IMMEDIATE` bind their parameters and plan the
statement; `CALL system.runtime.kill_query` becomes a `Kill` for the live statements to carry out.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote_plus

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.time import format_time
from sqlglot.tokens import Token, TokenType

from api.trino.dialect import (
    SYSTEM,
    TIME_ZONE_PROPERTY,
    VERSION,
    Session,
    check_session,
    header_safe,
    parse_query,
    require_schema,
    require_table,
    set_time_zone,
    translate,
)
from api.trino.errors import TrinoError, location
from api.trino.metadata import (
    FUNCTIONS,
    INFORMATION_SCHEMA,
    INFORMATION_TABLES,
    SYSTEM_TABLES,
    Catalog,
    Field,
    TableInfo,
    literal_table,
)
from api.trino.types import BOOLEAN, VARCHAR
from catalog.access.statements import CATALOG


@dataclass(frozen=True)
class Run:
    """A query to run in the caller's sandbox, in DuckDB's dialect; `tree` is the Trino query it
    was written from, as the caller wrote it (what `EXPLAIN` draws; kept only for it)."""

    sql: str
    tree: exp.Query | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Kill:
    """`CALL system.runtime.kill_query`: fail one of the caller's running statements."""

    query_id: str
    message: str | None


@dataclass(frozen=True)
class Done:
    """A session statement, answered at once: its update type and the headers to send."""

    update_type: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The headers carry names the client chose: only what a header can hold goes back.
        if not all(header_safe(value) for value in self.headers.values()):
            raise TrinoError(
                "NOT_SUPPORTED",
                f"{self.update_type} with a name of control or non-ASCII characters is not "
                "supported",
            )


class _Tokenizer(Trino.Tokenizer):
    # sqlglot folds SHOW, EXECUTE and the like into one opaque token; here every word counts.
    COMMANDS: ClassVar[set[TokenType]] = set()


@dataclass(frozen=True)
class _Word:
    kind: str  # word, name (quoted identifier), string, placeholder or other
    text: str
    start: int
    end: int


class _Words:
    """The tokens of one statement, read left to right by a small recursive-descent parser."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        try:
            tokens = _Tokenizer(dialect=Trino()).tokenize(sql)
        except TokenError as exc:
            raise TrinoError("SYNTAX_ERROR", str(exc).splitlines()[0]) from None
        self.words = [w for t in tokens for w in _words(t)]
        self.at = 0

    def peek(self) -> str:
        """The next word in upper case ('' at the end or for anything but a word)."""
        if self.at < len(self.words) and self.words[self.at].kind == "word":
            return self.words[self.at].text.upper()
        return ""

    def accept(self, *words: str) -> bool:
        """Consume `words` if they come next."""
        ahead = self.words[self.at : self.at + len(words)]
        if len(ahead) == len(words) and all(
            w.kind == "word" and w.text.upper() == want
            for w, want in zip(ahead, words, strict=True)
        ):
            self.at += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        """Consume `words` or fail as Trino's parser would."""
        if not self.accept(*words):
            self.fail(" ".join(words))

    def symbol(self, text: str) -> bool:
        """Consume a punctuation token (`.`, `=`) if it comes next."""
        if self.at < len(self.words) and self.words[self.at].text == text:
            self.at += 1
            return True
        return False

    def _take(self, kinds: tuple[str, ...], expected: str) -> _Word:
        if self.at < len(self.words) and self.words[self.at].kind in kinds:
            self.at += 1
            return self.words[self.at - 1]
        self.fail(expected)

    def name(self) -> str:
        """One identifier, lower-cased as Trino does."""
        return self._take(("word", "name"), "<identifier>").text.lower()

    def qualified(self) -> list[str]:
        """A dotted name."""
        parts = [self.name()]
        while self.symbol("."):
            parts.append(self.name())
        return parts

    def string(self) -> str:
        """A string literal's value."""
        return self._take(("string",), "<string>").text

    def remaining(self) -> list[_Word]:
        """The tokens not read yet."""
        return self.words[self.at :]

    def rest(self) -> str:
        """The statement's text from the next token on."""
        return self.sql[self.words[self.at].start :] if self.at < len(self.words) else ""

    def end(self) -> None:
        """Fail unless the statement is over."""
        if self.at < len(self.words):
            self.fail("<EOF>")

    def fail(self, expected: str) -> NoReturn:
        """Raise the syntax error for the next token."""
        if self.at < len(self.words):
            word = self.words[self.at]
            found, where = word.text, location(self.sql, word.start)
        else:
            found, where = "<EOF>", location(self.sql, len(self.sql))
        raise TrinoError(
            "SYNTAX_ERROR", f"mismatched input '{found}'. Expecting: {expected}", where
        )


def _words(token: Token) -> list[_Word]:
    kind = {
        TokenType.STRING: "string",
        TokenType.IDENTIFIER: "name",
        TokenType.PLACEHOLDER: "placeholder",
    }.get(token.token_type)
    if kind:
        return [_Word(kind, token.text, token.start, token.end)]
    if token.text[:1].isalpha() or token.text[:1] == "_":
        # A few keywords come as one token ("DESCRIBE OUTPUT"); the parser wants each word.
        return [_Word("word", part, token.start, token.end) for part in token.text.split()]
    return [_Word("other", token.text, token.start, token.end)]


def plan(
    sql: str,
    session: Session,
    catalog: Catalog,
    *,
    prepared: bool = False,
    explained: bool = False,
) -> Run | Done | Kill:
    """What to do for one statement; raises TrinoError for anything Trino would refuse.
    `explained`: the statement is EXPLAIN's, its Run keeps the query as written."""
    check_session(session)
    text = sql.strip()
    while text.endswith(";"):  # clients and people paste statements with their terminator
        text = text[:-1].rstrip()
    words = _Words(text)
    first = words.peek()
    if first == "SHOW":
        return _run(show(words, session, catalog), session, catalog)
    if first in ("DESCRIBE", "DESC"):
        return _describe(words, session, catalog)
    if first in ("EXECUTE", "PREPARE", "DEALLOCATE") and prepared:
        raise TrinoError("NOT_SUPPORTED", f"Invalid statement type for prepared statement: {first}")
    if first in _SESSION_STATEMENTS:
        return _SESSION_STATEMENTS[first](words, session, catalog)
    if first == "EXECUTE":
        return _execute(words, session, catalog)
    if first == "EXPLAIN":
        return _explain(words, session, catalog)
    if first == "CALL":
        return _call(words, session)
    if not words.words:
        words.fail("<statement>")
    tree = parse_query(text)
    statement = tree.copy() if explained else None
    rewrite_functions(tree, session, catalog)
    return Run(translate(tree, session, catalog, text), statement)


def _run(tree: exp.Query, session: Session, catalog: Catalog) -> Run:
    """A query standing for a statement (SHOW, DESCRIBE) as DuckDB SQL, with the query as it
    was before translation (what EXPLAIN draws)."""
    statement = tree.copy()
    return Run(translate(tree, session, catalog), statement)


def _schema_of(parts: list[str], session: Session, words: _Words) -> str:
    """The schema a `[catalog.]schema` names, or the session's."""
    if len(parts) > 2:
        words.fail("<schema name>")
    if len(parts) == 2 and parts[0] != CATALOG:
        raise TrinoError("CATALOG_NOT_FOUND", f"Catalog '{parts[0]}' not found")
    schema = parts[-1] if parts else session.schema
    if not schema:
        raise TrinoError(
            "MISSING_SCHEMA_NAME", "Schema must be specified when session schema is not set"
        )
    return schema


def _table_of(parts: list[str], session: Session, words: _Words) -> tuple[str, str]:
    """(schema, table) a `[[catalog.]schema.]table` names."""
    if not 1 <= len(parts) <= 3:
        words.fail("<table name>")
    return _schema_of(parts[:-1], session, words), parts[-1]


def _like(words: _Words, column: str, query: exp.Select, *, quoted: bool = False) -> exp.Select:
    """`LIKE 'pattern' [ESCAPE 'c']`, if given, as a filter on `column`."""
    if not words.accept("LIKE"):
        return query
    condition: exp.Expression = exp.Like(
        this=exp.column(column, quoted=quoted), expression=exp.Literal.string(words.string())
    )
    if words.accept("ESCAPE"):
        condition = exp.Escape(this=condition, expression=exp.Literal.string(words.string()))
    return query.where(condition)


def _metadata(name: str) -> exp.Table:
    schema, table = name.split(".")
    if schema == INFORMATION_SCHEMA:
        return exp.table_(table, db=schema, catalog=CATALOG)
    return exp.table_(table, db=schema, catalog=SYSTEM)


def show(words: _Words, session: Session, catalog: Catalog) -> exp.Query:
    """`SHOW CATALOGS | SCHEMAS | TABLES | COLUMNS | CREATE TABLE | SESSION | FUNCTIONS |
    STATS FOR` as a query."""
    words.expect("SHOW")
    if words.accept("CATALOGS"):
        query = exp.select(exp.column("table_cat").as_("Catalog", quoted=True))
        query = _like(words, "table_cat", query.from_(_metadata("jdbc.catalogs"))).order_by(
            "1", dialect="trino"
        )
    elif words.accept("SCHEMAS"):
        if words.accept("FROM") or words.accept("IN"):
            given = words.name()
            if given != CATALOG:
                raise TrinoError("CATALOG_NOT_FOUND", f"Catalog '{given}' not found")
        query = exp.select(exp.column("schema_name").as_("Schema", quoted=True))
        query = query.from_(_metadata("information_schema.schemata"))
        query = _like(words, "schema_name", query).order_by("1", dialect="trino")
    elif words.accept("TABLES"):
        parts = words.qualified() if words.accept("FROM") or words.accept("IN") else []
        schema = _schema_of(parts, session, words)
        require_schema(catalog, schema)
        query = exp.select(exp.column("table_name").as_("Table", quoted=True))
        query = query.from_(_metadata("information_schema.tables"))
        query = query.where(exp.column("table_schema").eq(schema))
        query = _like(words, "table_name", query).order_by("1", dialect="trino")
    elif words.accept("COLUMNS"):
        if not (words.accept("FROM") or words.accept("IN")):
            words.fail("FROM")
        query = _columns(*_table_of(words.qualified(), session, words), catalog)
        query = _like(words, "column_name", query)
    elif words.accept("CREATE", "TABLE"):
        query = _create_table(*_table_of(words.qualified(), session, words), catalog)
    elif words.accept("CREATE", "VIEW"):
        # Gongyu has tables only: one the caller reads is not a view, any other is missing.
        schema, name = _table_of(words.qualified(), session, words)
        shown = f"{CATALOG}.{schema}.{name}"
        if catalog.table(schema, name) is None or schema == INFORMATION_SCHEMA:
            raise TrinoError("TABLE_NOT_FOUND", f"View '{shown}' does not exist")
        raise TrinoError("NOT_SUPPORTED", f"Relation '{shown}' is a table, not a view")
    elif words.accept("SESSION"):
        rows = [
            {"Name": p.name, "Value": p.value, "Default": p.value, "Type": p.type}
            | {"Description": p.description}
            for p in catalog.properties
        ]
        query = _listing(_SESSION_FIELDS, rows, words)
    elif words.accept("FUNCTIONS"):
        if words.accept("FROM") or words.accept("IN"):
            # Trino lists a catalog schema's own functions there: Gongyu has none.
            schema = _schema_of(words.qualified(), session, words)
            require_schema(catalog, schema)
            rows = []
        else:
            rows = [
                {"Function": f.name, "Return Type": f.return_type}
                | {"Argument Types": f.argument_types, "Function Type": f.kind}
                | {"Deterministic": f.deterministic, "Description": f.description}
                for f in FUNCTIONS
            ]
        query = _listing(_FUNCTION_FIELDS, rows, words)
    elif words.accept("STATS"):
        words.expect("FOR")
        if words.symbol("("):
            raise TrinoError(
                "NOT_SUPPORTED", "SHOW STATS for a query is not supported: name a table"
            )
        query = _stats(*_table_of(words.qualified(), session, words), catalog)
    else:
        words.fail("CATALOGS, SCHEMAS, TABLES, COLUMNS, CREATE TABLE, SESSION, FUNCTIONS, STATS")
    words.end()
    return query


def _fields(spec: str) -> tuple[Field, ...]:
    return tuple(
        Field(name, BOOLEAN if name == "Deterministic" else VARCHAR) for name in spec.split(",")
    )


_SESSION_FIELDS = _fields("Name,Value,Default,Type,Description")
_FUNCTION_FIELDS = _fields(
    "Function,Return Type,Argument Types,Function Type,Deterministic,Description"
)


def _listing(fields: tuple[Field, ...], rows: list[dict[str, Any]], words: _Words) -> exp.Select:
    """A listing of literal rows, filtered by `LIKE … [ESCAPE …]` on its first column, in order."""
    listed = exp.select("*").from_(literal_table(fields, rows, set()).subquery("listing"))
    query = _like(words, fields[0].name, listed, quoted=True)
    return query.order_by(*(exp.column(f.name, quoted=True) for f in fields[:3]))


# Types whose smallest and largest values SHOW STATS reports, as Trino does.
_ORDERED = {"tinyint", "smallint", "integer", "bigint", "real", "double", "decimal", "date"}
_ORDERED |= {"time", "timestamp", "timestamp with time zone"}


def _stats(schema: str, name: str, catalog: Catalog) -> exp.Query:
    """`SHOW STATS FOR table`: Trino's columns, computed over the caller's own view of the table
    (its row filters and masks applied), so they say nothing the caller could not count."""
    require_table(catalog, schema, name)
    table = catalog.table(schema, name)
    assert table is not None  # require_table ensured it
    source = exp.table_(name, db=schema, catalog=CATALOG)
    measures: list[exp.Expression] = [exp.Count(this=exp.Star()).as_("r")]
    for i, c in enumerate(table.columns):
        column = exp.column(c.name, quoted=True)
        measures += [
            exp.Count(this=column.copy()).as_(f"n{i}"),
            exp.Count(this=exp.Distinct(expressions=[column.copy()])).as_(f"d{i}"),
        ]
        if c.type.raw in ("varchar", "varbinary"):
            length = exp.Anonymous(this="STRLEN", expressions=[column.copy()])
            if c.type.raw == "varbinary":
                length = exp.Anonymous(this="OCTET_LENGTH", expressions=[column.copy()])
            measures.append(exp.Sum(this=length).as_(f"s{i}"))
        if c.type.raw in _ORDERED:
            measures += [
                exp.cast(exp.Min(this=column.copy()), "VARCHAR").as_(f"lo{i}"),
                exp.cast(exp.Max(this=column.copy()), "VARCHAR").as_(f"hi{i}"),
            ]
    measured = exp.select(*measures).from_(source)

    def double(value: exp.Expression) -> exp.Expression:
        return exp.cast(value, "DOUBLE")

    def null(kind: str) -> exp.Expression:
        return exp.cast(exp.null(), kind)

    rows: list[exp.Select] = []
    for i, c in enumerate(table.columns):
        nulls = exp.Div(
            this=double(exp.column("r") - exp.column(f"n{i}")), expression=exp.column("r")
        )
        fraction = exp.Case(ifs=[exp.If(this=exp.column("r").eq(0), true=null("DOUBLE"))])
        has_size = c.type.raw in ("varchar", "varbinary")
        ordered = c.type.raw in _ORDERED
        rows.append(
            exp.select(
                exp.Literal.number(i).as_("o"),
                exp.Literal.string(c.name).as_("column_name"),
                (double(exp.column(f"s{i}")) if has_size else null("DOUBLE")).as_("data_size"),
                double(exp.column(f"d{i}")).as_("distinct_values_count"),
                fraction.else_(nulls).as_("nulls_fraction"),
                null("DOUBLE").as_("row_count"),
                (exp.column(f"lo{i}") if ordered else null("VARCHAR")).as_("low_value"),
                (exp.column(f"hi{i}") if ordered else null("VARCHAR")).as_("high_value"),
            ).from_("m")
        )
    rows.append(
        exp.select(
            exp.Literal.number(len(table.columns)).as_("o"),
            null("VARCHAR").as_("column_name"),
            null("DOUBLE").as_("data_size"),
            null("DOUBLE").as_("distinct_values_count"),
            null("DOUBLE").as_("nulls_fraction"),
            double(exp.column("r")).as_("row_count"),
            null("VARCHAR").as_("low_value"),
            null("VARCHAR").as_("high_value"),
        ).from_("m")
    )
    union: exp.Query = rows[0]
    for row in rows[1:]:
        union = exp.union(union, row, distinct=False)
    names = (
        "column_name",
        "data_size",
        "distinct_values_count",
        "nulls_fraction",
        "row_count",
        "low_value",
        "high_value",
    )
    return exp.select(*names).from_(union.subquery("stats")).order_by("o").with_("m", as_=measured)


def _columns(schema: str, name: str, catalog: Catalog) -> exp.Select:
    require_table(catalog, schema, name)
    return (
        exp.select(
            exp.column("column_name").as_("Column", quoted=True),
            exp.column("data_type").as_("Type", quoted=True),
            exp.Literal.string("").as_("Extra", quoted=True),
            exp.column("comment").as_("Comment", quoted=True),
        )
        .from_(_metadata("information_schema.columns"))
        .where(exp.column("table_schema").eq(schema))
        .where(exp.column("table_name").eq(name))
        .order_by("ordinal_position", dialect="trino")
    )


def _create_table(schema: str, name: str, catalog: Catalog) -> exp.Select:
    require_table(catalog, schema, name)
    table = catalog.table(schema, name)
    assert table is not None  # require_table ensured it

    def comment(text: str | None) -> str:
        return "" if text is None else " COMMENT " + exp.Literal.string(text).sql("trino")

    columns = ",\n".join(
        f"   {exp.to_identifier(c.name).sql('trino')} {c.type.name}{comment(c.comment)}"
        for c in table.columns
    )
    ddl = f"CREATE TABLE {CATALOG}.{schema}.{name} (\n{columns}\n)"
    if table.comment:
        ddl += "\nCOMMENT " + exp.Literal.string(table.comment).sql("trino")
    return exp.select(exp.Literal.string(ddl).as_("Create Table", quoted=True))


def _describe(words: _Words, session: Session, catalog: Catalog) -> Run:
    if not words.accept("DESCRIBE"):
        words.expect("DESC")
    if words.peek() in ("INPUT", "OUTPUT"):
        raise TrinoError("NOT_SUPPORTED", f"DESCRIBE {words.peek()} is not supported")
    query = _columns(*_table_of(words.qualified(), session, words), catalog)
    words.end()
    return _run(query, session, catalog)


def _use(words: _Words, session: Session, catalog: Catalog) -> Done:
    words.expect("USE")
    parts = words.qualified()
    words.end()
    schema = _schema_of(parts, session, words)
    require_schema(catalog, schema)
    headers = {"X-Trino-Set-Schema": schema}
    if len(parts) == 2:
        headers["X-Trino-Set-Catalog"] = parts[0]
    return Done("USE", headers)


def _start(words: _Words, session: Session, catalog: Catalog) -> Done:
    # Every statement reads one consistent snapshot; a transaction adds nothing, so it is
    # accepted (clients that do not run in autocommit start one) and its modes are ignored.
    words.expect("START", "TRANSACTION")
    return Done("START TRANSACTION", {"X-Trino-Started-Transaction-Id": str(uuid.uuid4())})


def _end_transaction(words: _Words, session: Session, catalog: Catalog) -> Done:
    kind = words.peek()
    words.expect(kind)
    words.accept("WORK")
    words.end()
    return Done(kind, {"X-Trino-Clear-Transaction-Id": "true"})


def _set(words: _Words, session: Session, catalog: Catalog) -> Done:
    # Session properties tune Trino's engine; Gongyu's limits are its own, so they are noted
    # in the client's session (as Trino would) and have no effect.
    if words.accept("SET", "TIME", "ZONE"):  # the session's time zone: it does have effect
        zone = quote_plus(set_time_zone(words.rest()))
        return Done("SET TIME ZONE", {"X-Trino-Set-Session": f"{TIME_ZONE_PROPERTY}={zone}"})
    words.expect("SET", "SESSION")
    name = ".".join(words.qualified())
    if not words.symbol("="):
        words.fail("=")
    rest = words.remaining()
    if not rest:
        words.fail("<expression>")
    value = rest[0].text if len(rest) == 1 and rest[0].kind == "string" else words.rest()
    return Done("SET SESSION", {"X-Trino-Set-Session": f"{name}={quote_plus(value)}"})


def _reset(words: _Words, session: Session, catalog: Catalog) -> Done:
    words.expect("RESET", "SESSION")
    name = ".".join(words.qualified())
    words.end()
    return Done("RESET SESSION", {"X-Trino-Clear-Session": name})


def _prepare(words: _Words, session: Session, catalog: Catalog) -> Done:
    words.expect("PREPARE")
    name = words.name()
    words.expect("FROM")
    statement = words.rest()
    if not statement:
        words.fail("<statement>")
    return Done("PREPARE", {"X-Trino-Added-Prepare": f"{name}={quote_plus(statement)}"})


def _deallocate(words: _Words, session: Session, catalog: Catalog) -> Done:
    words.expect("DEALLOCATE", "PREPARE")
    name = words.name()
    words.end()
    return Done("DEALLOCATE", {"X-Trino-Deallocated-Prepare": name})


_SESSION_STATEMENTS = {
    "USE": _use,
    "START": _start,
    "COMMIT": _end_transaction,
    "ROLLBACK": _end_transaction,
    "SET": _set,
    "RESET": _reset,
    "PREPARE": _prepare,
    "DEALLOCATE": _deallocate,
}


def _execute(words: _Words, session: Session, catalog: Catalog) -> Run | Done | Kill:
    """`EXECUTE name [USING …]` or `EXECUTE IMMEDIATE '…' [USING …]`: bind, then plan."""
    words.expect("EXECUTE")
    if words.accept("IMMEDIATE"):
        statement = words.string()
    else:
        name = words.name()
        if name not in session.prepared:
            raise TrinoError("NOT_FOUND", f"Prepared statement not found: {name}")
        statement = session.prepared[name]
    params: list[str] = []
    if words.accept("USING"):
        text = words.rest()
        if not text:
            words.fail("<expression>")
        try:
            select = sqlglot.parse_one(f"SELECT {text}", read="trino")
        except (ParseError, TokenError) as exc:
            raise TrinoError("SYNTAX_ERROR", str(exc).splitlines()[0]) from None
        clauses = {k for k, v in select.args.items() if v} - {"expressions"}
        if not isinstance(select, exp.Select) or clauses:
            raise TrinoError("SYNTAX_ERROR", "USING takes a list of expressions")
        params = [e.sql(dialect="trino") for e in select.expressions]
    else:
        words.end()
    return plan(_bind(statement, params), session, catalog, prepared=True)


def _bind(statement: str, params: list[str]) -> str:
    """The statement with each `?` replaced by its parameter, in the order they appear."""
    holes = [w for w in _Words(statement).words if w.kind == "placeholder"]
    if len(holes) != len(params):
        raise TrinoError(
            "INVALID_PARAMETER_USAGE",
            f"Incorrect number of parameters: expected {len(holes)} but found {len(params)}",
        )
    out, last = [], 0
    for hole, param in zip(holes, params, strict=True):
        out += [statement[last : hole.start], param]
        last = hole.end + 1
    return "".join([*out, statement[last:]])


# --- CALL -------------------------------------------------------------------------------------

_PROCEDURES = {("system", "runtime", "kill_query"): ("query_id", "message")}


def _call(words: _Words, session: Session) -> Kill:
    """`CALL system.runtime.kill_query(query_id => '…', message => '…')`, arguments by name or
    position; the only procedure Gongyu has."""
    words.expect("CALL")
    parts = words.qualified()
    if len(parts) == 2:
        parts = [session.catalog or CATALOG, *parts]
    procedure = tuple(parts)
    if procedure not in _PROCEDURES:
        raise TrinoError("PROCEDURE_NOT_FOUND", f"Procedure not registered: {'.'.join(parts)}")
    names = _PROCEDURES[procedure]
    given: dict[str, str | None] = {}
    if not words.symbol("("):
        words.fail("(")
    position = 0
    while not words.symbol(")"):
        if given and not words.symbol(","):
            words.fail(", or )")
        name = names[position] if position < len(names) else None
        ahead = words.remaining()
        if len(ahead) > 1 and ahead[1].text == "=>":
            name = words.name()
            words.symbol("=>")
        value = None if words.accept("NULL") else words.string()
        if name not in names:
            raise TrinoError(
                "INVALID_PROCEDURE_ARGUMENT",
                f"Unknown argument name: {name}" if name else "Too many arguments for procedure",
            )
        if name in given:
            raise TrinoError("INVALID_PROCEDURE_ARGUMENT", f"Duplicate procedure argument: {name}")
        given[name] = value
        position += 1
    words.end()
    query_id = given.get("query_id")
    if not query_id:
        raise TrinoError(
            "INVALID_PROCEDURE_ARGUMENT", "Required procedure argument 'query_id' is missing"
        )
    if not re.fullmatch(r"[a-z0-9_]+", query_id):
        raise TrinoError("INVALID_PROCEDURE_ARGUMENT", f"Invalid query id: {query_id}")
    return Kill(query_id, given.get("message"))


# --- EXPLAIN ----------------------------------------------------------------------------------

_EXPLAIN_TYPES = ("LOGICAL", "DISTRIBUTED", "VALIDATE", "IO")
_EXPLAIN_FORMATS = ("TEXT", "GRAPHVIZ", "JSON")


def _explain(words: _Words, session: Session, catalog: Catalog) -> Run:
    """`EXPLAIN [(TYPE …, FORMAT …)] statement`: the statement is planned and checked as it would
    run (so a table the caller may not read fails as missing), then answered with a plan drawn
    from the statement itself."""
    words.expect("EXPLAIN")
    if words.peek() == "ANALYZE":
        raise TrinoError("NOT_SUPPORTED", "EXPLAIN ANALYZE is not supported: it runs the statement")
    kind, shape = "DISTRIBUTED", "TEXT"
    ahead = words.remaining()
    if len(ahead) > 1 and ahead[0].text == "(" and ahead[1].text.upper() in ("TYPE", "FORMAT"):
        words.symbol("(")
        while True:
            if words.accept("TYPE"):
                kind = words.peek()
                if kind not in _EXPLAIN_TYPES:
                    words.fail(", ".join(_EXPLAIN_TYPES))
            elif words.accept("FORMAT"):
                shape = words.peek()
                if shape not in _EXPLAIN_FORMATS:
                    words.fail(", ".join(_EXPLAIN_FORMATS))
            else:
                words.fail("TYPE, FORMAT")
            words.at += 1
            if words.symbol(")"):
                break
            if not words.symbol(","):
                words.fail(", or )")
    statement = words.rest()
    if not statement:
        words.fail("<statement>")
    if words.peek() == "EXPLAIN":
        raise TrinoError("NOT_SUPPORTED", "EXPLAIN of EXPLAIN is not supported")
    inner = plan(statement, session, catalog, explained=True)
    if not isinstance(inner, Run) or inner.tree is None:
        raise TrinoError("NOT_SUPPORTED", f"EXPLAIN {words.peek()} is not supported")
    if shape == "GRAPHVIZ":
        raise TrinoError("NOT_SUPPORTED", "EXPLAIN format GRAPHVIZ is not supported")
    if kind == "VALIDATE":
        return Run(_checked(exp.true().sql(dialect="duckdb"), "Valid", inner.sql))
    if kind == "IO":
        if shape != "JSON":
            raise TrinoError("NOT_SUPPORTED", "EXPLAIN (TYPE IO) is only available as FORMAT JSON")
        return Run(_checked(_io_plan(inner.tree, session, catalog), "Query Plan", inner.sql))
    root = _plan_tree(inner.tree, session, catalog)
    if shape == "JSON":
        document = root.json() if kind == "LOGICAL" else {"0": root.json()}
        text = json.dumps(document, indent=3, ensure_ascii=False)
    else:
        lines = [f"Trino version: {VERSION}"]
        if kind == "DISTRIBUTED":
            names = ", ".join(name for name, _ in root.layout)
            lines += ["Fragment 0 [SINGLE]", f"    Output layout: [{names}]"]
            lines += ["    Output partitioning: SINGLE []"]
            lines += ["    " + line for line in root.text()]
        else:
            lines += root.text()
        text = "\n".join(lines)
    return Run(_checked(exp.Literal.string(text).sql(dialect="duckdb"), "Query Plan", inner.sql))


def _checked(value: str, name: str, sql: str) -> str:
    """A one-row answer (`value`, DuckDB SQL, as column `name`) that DuckDB gives only after
    binding `sql`, which it never runs: errors in the statement surface as when it runs."""
    column = exp.to_identifier(name, quoted=True).sql(dialect="duckdb")
    return (
        f"SELECT {value} AS {column} WHERE NOT EXISTS (SELECT 1 FROM ({sql}) AS explained LIMIT 0)"
    )


@dataclass
class _Node:
    """A node of a Trino-shaped plan."""

    name: str
    descriptor: dict[str, str] = field(default_factory=dict)
    layout: list[tuple[str, str]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)

    def head(self) -> str:
        args = ", ".join(f"{k} = {v}" for k, v in self.descriptor.items())
        return f"{self.name}[{args}]"

    def text(self) -> list[str]:
        """The node and its children as Trino prints them (└─ for the last child)."""
        lines = [self.head()]
        more = "│   " if self.children else "    "
        layout = ", ".join(f"{n}:{t}" for n, t in self.layout)
        lines.append(f"{more}Layout: [{layout}]")
        lines += [f"{more}{d}" for d in self.details]
        for i, child in enumerate(self.children):
            last = i == len(self.children) - 1
            first, rest = ("└─ ", "   ") if last else ("├─ ", "│  ")
            body = child.text()
            lines.append(first + body[0])
            lines += [rest + line for line in body[1:]]
        return lines

    def json(self, ids: list[int] | None = None) -> dict[str, Any]:
        ids = ids if ids is not None else [0]
        ids[0] += 1
        return {
            "id": str(ids[0] - 1),
            "name": self.name,
            "descriptor": self.descriptor,
            "outputs": [{"symbol": n, "type": t} for n, t in self.layout],
            "details": self.details,
            "estimates": [],
            "children": [child.json(ids) for child in self.children],
        }


def _typed(tree: exp.Query, catalog: Catalog, session: Session | None = None) -> exp.Query | None:
    """A copy of `tree` with columns qualified and types annotated against the caller's tables
    and the metadata tables, or None when sqlglot cannot type it."""
    tables: dict[str, dict[str, dict[str, str]]] = {CATALOG: {}, SYSTEM: {}}
    for t in catalog.listed:
        tables[CATALOG].setdefault(t.schema, {})[t.name] = {c.name: c.type.name for c in t.columns}
    for (schema, name), fields in SYSTEM_TABLES.items():
        tables[SYSTEM].setdefault(schema, {})[name] = {f.name: f.type.name for f in fields}
    try:
        typed = qualify(
            tree.copy(),
            schema=tables,
            catalog=(session.catalog if session else None) or CATALOG,
            db=session.schema if session else None,
            dialect="trino",
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        return annotate_types(typed, schema=tables, dialect="trino")
    except (SqlglotError, RecursionError, KeyError, ValueError):
        return None


def _type_name(node: exp.Expression) -> str:
    kind = node.type
    if kind is None or kind.this == exp.DataType.Type.UNKNOWN:
        return "unknown"
    return kind.sql(dialect="trino").lower()


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect="trino")


def _plan_tree(tree: exp.Query, session: Session, catalog: Catalog) -> _Node:
    """The plan Trino would print for a query: Output over the query's nodes."""
    tree = tree.copy()
    select: exp.Expression = tree
    while isinstance(select, exp.SetOperation | exp.Subquery):
        select = select.this
    if isinstance(select, exp.Select):  # unnamed columns are _col<position>, as in Trino
        for position, expression in enumerate(select.expressions):
            if not isinstance(expression, exp.Alias | exp.Column | exp.Star):
                expression.replace(exp.alias_(expression.copy(), f"_col{position}"))
    typed = _typed(tree, catalog, session) or tree
    body = _query_node(typed, _Scope(session, catalog), {})
    # Names as the statement gives them (qualifying may alias an unnamed column by its text).
    named = [name for name, _ in _outputs(tree)]
    outputs = [(n, t) for n, (_, t) in zip(named, _outputs(typed), strict=False)] or _outputs(tree)
    root = _Node("Output", {"columnNames": f"[{', '.join(n for n, _ in outputs)}]"}, outputs)
    root.children.append(body)
    return root


def _outputs(query: exp.Expression) -> list[tuple[str, str]]:
    while isinstance(query, exp.SetOperation):
        query = query.this
    if isinstance(query, exp.Subquery):
        return _outputs(query.this)
    if not isinstance(query, exp.Select):
        return []
    return [(_output_name(e, i), _type_name(e)) for i, e in enumerate(query.expressions)]


def _output_name(expression: exp.Expression, position: int) -> str:
    if isinstance(expression, exp.Alias | exp.Column):
        return expression.alias_or_name
    return f"_col{position}"


@dataclass(frozen=True)
class _Scope:
    """What a plan's table names resolve against."""

    session: Session
    catalog: Catalog

    def table(self, table: exp.Table, ctes: dict[str, exp.Expression]) -> tuple[str, str, str]:
        """(catalog, schema, name) of a table the statement names; ('', '', cte) for a CTE."""
        name, schema, given = table.name.lower(), table.db.lower(), table.catalog.lower()
        if not schema and not given and name in ctes:
            return "", "", name
        catalog = given or self.session.catalog or CATALOG
        schema = schema or (self.session.schema or "")
        return catalog, schema, name


def _query_node(query: exp.Expression, scope: _Scope, ctes: dict[str, exp.Expression]) -> _Node:
    ctes = dict(ctes)
    with_ = query.args.get("with_") or query.args.get("with")
    if isinstance(with_, exp.With):
        for cte in with_.expressions:
            ctes[cte.alias_or_name.lower()] = cte.this
    if isinstance(query, exp.Subquery):
        return _query_node(query.this, scope, ctes)
    if isinstance(query, exp.SetOperation):
        name = {exp.Union: "Union", exp.Intersect: "Intersect", exp.Except: "Except"}[type(query)]
        node = _Node(name, {}, _outputs(query))
        node.children = [_query_node(query.this, scope, ctes)]
        node.children.append(_query_node(query.expression, scope, ctes))
        if not isinstance(query, exp.Union) or query.args.get("distinct"):
            node = _Node(
                "Aggregate",
                {"keys": f"[{', '.join(n for n, _ in node.layout)}]"},
                node.layout,
                children=[node],
            )
        return node
    if isinstance(query, exp.Values):
        return _Node("Values", {"rows": str(len(query.expressions))}, [])
    if not isinstance(query, exp.Select):
        return _Node("Values", {}, [])
    layout = _outputs(query)
    node = _source_node(query, scope, ctes)
    if where := query.args.get("where"):
        node = _Node("Filter", {"filterPredicate": _sql(where.this)}, node.layout, children=[node])
    aggregates = [
        a
        for e in query.expressions
        for a in e.find_all(exp.AggFunc)
        if not a.find_ancestor(exp.Window)
    ]
    group = query.args.get("group")
    if group or aggregates:
        keys = [_sql(k) for k in group.expressions] if group else []
        details = [f"{_sql(a)}" for a in aggregates]
        node = _Node("Aggregate", {"keys": f"[{', '.join(keys)}]"}, layout, details, [node])
    if having := query.args.get("having"):
        node = _Node("Filter", {"filterPredicate": _sql(having.this)}, layout, children=[node])
    windows = [w for e in query.expressions for w in e.find_all(exp.Window)]
    if windows:
        node = _Node("Window", {}, layout, [_sql(w) for w in windows], [node])
    computed = [
        f"{e.alias_or_name} := {_sql(e.this if isinstance(e, exp.Alias) else e)}"
        for e in query.expressions
        if not isinstance(e.this if isinstance(e, exp.Alias) else e, exp.Column)
    ]
    if computed:
        node = _Node("Project", {}, layout, computed, [node])
    if query.args.get("distinct"):
        node = _Node(
            "Aggregate", {"keys": f"[{', '.join(n for n, _ in layout)}]"}, layout, children=[node]
        )
    order = query.args.get("order")
    limit = query.args.get("limit")
    count = _sql(limit.expression) if isinstance(limit, exp.Limit) and limit.expression else None
    if order:
        by = f"[{', '.join(_sql(o) for o in order.expressions)}]"
        if count is not None:
            node = _Node("TopN", {"count": count, "orderBy": by}, layout, children=[node])
        else:
            node = _Node("Sort", {"orderBy": by}, layout, children=[node])
    elif count is not None:
        node = _Node("Limit", {"count": count}, layout, children=[node])
    if offset := query.args.get("offset"):
        node = _Node("Offset", {"count": _sql(offset.expression)}, layout, children=[node])
    return node


def _source_node(query: exp.Select, scope: _Scope, ctes: dict[str, exp.Expression]) -> _Node:
    from_ = query.args.get("from_") or query.args.get("from")
    if not isinstance(from_, exp.From):
        return _Node("Values", {"rows": "1"}, [])
    node = _relation_node(from_.this, query, scope, ctes)
    for join in query.args.get("joins") or []:
        right = _relation_node(join.this, query, scope, ctes)
        on = join.args.get("on")
        side = (join.side or join.kind or "").upper()
        name = {"LEFT": "LeftJoin", "RIGHT": "RightJoin", "FULL": "FullJoin"}.get(side, "InnerJoin")
        if on is None and not join.args.get("using"):
            node = _Node("CrossJoin", {}, node.layout + right.layout, children=[node, right])
            continue
        criteria = _sql(on) if on is not None else ", ".join(_sql(u) for u in join.args["using"])
        node = _Node(
            name, {"criteria": f"({criteria})"}, node.layout + right.layout, children=[node, right]
        )
    return node


def _relation_node(
    relation: exp.Expression, query: exp.Select, scope: _Scope, ctes: dict[str, exp.Expression]
) -> _Node:
    if isinstance(relation, exp.Table) and isinstance(relation.this, exp.Identifier):
        catalog_name, schema, name = scope.table(relation, ctes)
        if not catalog_name:
            return _query_node(ctes[name], scope, ctes)
        if catalog_name == SYSTEM or schema == INFORMATION_SCHEMA:
            fields = (
                INFORMATION_TABLES.get(name, ())
                if catalog_name != SYSTEM
                else SYSTEM_TABLES.get((schema, name), ())
            )
            columns = [(f.name, f.type.name) for f in fields if not f.hidden]
        else:
            table = scope.catalog.table(schema, name)
            columns = [(c.name, c.type.name) for c in table.columns] if table else []
        alias = relation.alias_or_name
        named = {c.name for c in query.find_all(exp.Column) if not c.table or c.table == alias}
        layout = [c for c in columns if c[0] in named] or columns[:1]
        return _Node(
            "TableScan",
            {"table": f"{catalog_name}:{schema}.{name}"},
            layout,
            [f"{n} := {n}" for n, _ in layout],
        )
    if isinstance(relation, exp.Subquery):
        return _query_node(relation.this, scope, ctes)
    if isinstance(relation, exp.Values):
        return _Node("Values", {"rows": str(len(relation.expressions))}, [])
    if isinstance(relation, exp.Unnest) or isinstance(relation.this, exp.Unnest):
        return _Node("Unnest", {}, [])
    return _Node("Values", {}, [])


def _io_plan(tree: exp.Query, session: Session, catalog: Catalog) -> str:
    """`EXPLAIN (TYPE IO, FORMAT JSON)`: Trino's IoPlan document, the input tables being the
    caller's views the query reads, each with its row count as the caller sees it (counted when
    the answer is made); sizes and costs are not estimated ("NaN", as Trino says when unknown)."""
    scope = _Scope(session, catalog)
    ctes = {cte.alias_or_name.lower(): cte.this for cte in tree.find_all(exp.CTE)}
    inputs: list[TableInfo] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        catalog_name, schema, name = scope.table(table, ctes)
        info = catalog.table(schema, name) if catalog_name == CATALOG else None
        if info is not None and info.schema != INFORMATION_SCHEMA and info not in inputs:
            inputs.append(info)
    unknown = "NaN"

    def estimate(rows: Any) -> dict[str, Any]:
        return {
            "outputRowCount": rows,
            "outputSizeInBytes": unknown,
            "cpuCost": unknown,
            "maxMemory": 0.0,
            "networkCost": 0.0,
        }

    holes = [f"@@gongyu-rows-{i}@@" for i in range(len(inputs))]
    document = {
        "inputTableColumnInfos": [
            {
                "table": {
                    "catalog": CATALOG,
                    "schemaTable": {"schema": info.schema, "table": info.name},
                },
                "constraint": {"none": False, "columnConstraints": []},
                "estimate": estimate(hole),
            }
            for info, hole in zip(inputs, holes, strict=True)
        ],
        "estimate": estimate(unknown),
    }
    text = json.dumps(document, indent=2, ensure_ascii=False)
    parts: list[str] = []
    for info, hole in zip(inputs, holes, strict=True):
        before, _, text = text.partition(f'"{hole}"')
        parts.append(exp.Literal.string(before).sql(dialect="duckdb"))
        source = f"{_quoted(info.schema)}.{_quoted(info.name)}"
        parts.append(f"CAST(CAST((SELECT count(*) FROM {source}) AS DOUBLE) AS VARCHAR)")
    parts.append(exp.Literal.string(text).sql(dialect="duckdb"))
    return " || ".join(parts)


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


# --- Functions --------------------------------------------------------------------------------


def rewrite_functions(tree: exp.Expression, session: Session, catalog: Catalog) -> None:
    """Write the Trino functions DuckDB lacks or answers differently as DuckDB expressions, in
    place: `format` (Java format strings), `format_datetime` / `parse_datetime` (Joda patterns),
    `date_format` / `date_parse` (MySQL patterns), `to_iso8601` of dates and timestamps,
    `count_if` (a bigint), `chr` of a bigint and `arbitrary` / `any_value`. Patterns must be
    literals. Formatting is written as DuckDB's strftime of the value itself (sqlglot's
    TimeToStr), so a zoned value is formatted in its zone by the analysis that gives zones
    their meaning (`api.trino.semantics`); the zone-dependent pieces (a zone's name or offset,
    `to_iso8601` of a zoned value) are left to it."""
    nodes = [node for node in tree.find_all(exp.Func) if _rewriter(node) is not None]
    if not nodes:
        return
    for number, node in enumerate(nodes):
        node.meta[_ARGUMENT] = number
    types: dict[int, exp.DataType | None] = {}
    typed = _typed(tree if isinstance(tree, exp.Query) else exp.select(tree), catalog, session)
    for node in typed.find_all(exp.Func) if typed is not None else ():
        number = node.meta.get(_ARGUMENT)
        argument = _first_argument(node)
        if number is not None and argument is not None:
            types[number] = argument.type
    for number, node in reversed(list(enumerate(nodes))):  # innermost first
        node.meta.pop(_ARGUMENT, None)
        rewriter = _rewriter(node)
        assert rewriter is not None
        written = rewriter(node, types.get(number))
        if written is not node:
            node.replace(written)


_ARGUMENT = "gongyu_argument"  # marks a function whose first argument's type is wanted
_Rewriter = Callable[[exp.Func, "exp.DataType | None"], exp.Expression]


def _rewriter(node: exp.Expression) -> _Rewriter | None:
    if isinstance(node, exp.Anonymous):
        return {
            "format_datetime": _format_datetime,
            "to_iso8601": _to_iso8601,
        }.get(node.name.lower())
    if node.meta.get(_DONE):
        return None
    return {
        exp.Format: _format,
        exp.TimeToStr: _date_format,
        exp.StrToTime: _date_parse,
        exp.ParseDatetime: _parse_datetime,
        exp.CountIf: _count_if,
        exp.AnyValue: _any_value,
        exp.Chr: _chr,
    }.get(type(node))


_DONE = "gongyu_written"  # a node this module wrote: never rewritten again


def _first_argument(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Anonymous):
        return node.expressions[0] if node.expressions else None
    return node.this if isinstance(node.this, exp.Expression) else None


def _arguments(node: exp.Func, count: int, name: str) -> list[exp.Expression]:
    arguments = list(node.expressions) if isinstance(node, exp.Anonymous) else []
    if not isinstance(node, exp.Anonymous):
        arguments = [node.this, node.args.get("format")]
    if len(arguments) != count or any(a is None for a in arguments):
        raise TrinoError(
            "FUNCTION_NOT_FOUND",
            f"Unexpected parameters for function {name}: it takes {count} arguments",
        )
    return [a for a in arguments if a is not None]


def _pattern(argument: exp.Expression, name: str) -> str:
    if not (isinstance(argument, exp.Literal) and argument.is_string):
        raise TrinoError("NOT_SUPPORTED", f"{name}: the pattern must be a string literal here")
    return argument.this


def _call_sql(name: str, *arguments: exp.Expression) -> exp.Expression:
    """A DuckDB function call, written as it is."""
    call = exp.Anonymous(this=name, expressions=[a.copy() for a in arguments])
    call.meta[_DONE] = True
    return call


def _zoned(kind: exp.DataType | None) -> bool:
    return kind is not None and kind.this in (
        exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.TIMESTAMPLTZ,
    )


def _strptime(value: exp.Expression, text: str) -> exp.Expression:
    """DuckDB's strptime of the text (a StrToTime node: a timestamp, as Trino's date_parse)."""
    node = exp.StrToTime(this=value.copy(), format=exp.Literal.string(text))
    node.meta[_DONE] = True
    return node


def _strftime(value: exp.Expression, text: str) -> exp.Expression:
    """DuckDB's strftime of the value (a TimeToStr node, whose zone is the value's)."""
    node = exp.TimeToStr(this=value.copy(), format=exp.Literal.string(text))
    node.meta[_DONE] = True
    return node


# A pattern as pieces: strftime text (DuckDB's), or an expression of the (UTC) value.
_Piece = str | Callable[[exp.Expression], exp.Expression]


def _formatted(value: exp.Expression, pieces: list[_Piece]) -> exp.Expression:
    """The value formatted piece by piece: runs of strftime text as one STRFTIME, joined by ||."""
    parts: list[exp.Expression] = []
    text = ""
    for piece in [*pieces, None]:
        if isinstance(piece, str):
            text += piece
            continue
        if text or (piece is None and not parts):
            parts.append(_strftime(value, text))
            text = ""
        if piece is not None:
            parts.append(piece(value))
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part, safe=True)
    return exp.Paren(this=result) if len(parts) > 1 else result


def _duck(template: str, value: exp.Expression) -> exp.Expression:
    """A DuckDB expression of the value (`v` in the template)."""
    tree = sqlglot.parse_one(template, read="duckdb")
    for column in list(tree.find_all(exp.Column)):
        if column.name == "v":
            column.replace(value.copy())
    for node in tree.find_all(exp.Func):
        node.meta[_DONE] = True
    return tree


def _literal_piece(text: str) -> str:
    return text.replace("%", "%%")


def _padded(template: str, width: int) -> Callable[[exp.Expression], exp.Expression]:
    """A number zero-padded to at least `width` digits (never cut, as Joda pads)."""
    return lambda v: _duck(f"PRINTF('%0{width}d', CAST({template} AS BIGINT))", v)


_ORDINAL = (
    "CAST(DAY(v) AS VARCHAR) || CASE WHEN DAY(v) % 100 IN (11, 12, 13) THEN 'th' "
    "WHEN DAY(v) % 10 = 1 THEN 'st' WHEN DAY(v) % 10 = 2 THEN 'nd' "
    "WHEN DAY(v) % 10 = 3 THEN 'rd' ELSE 'th' END"
)

# MySQL's date_format specifiers as DuckDB's strftime, as Trino reads them; %D is computed.
_MYSQL = {
    "a": "%a",
    "b": "%b",
    "c": "%-m",
    "d": "%d",
    "e": "%-d",
    "f": "%f",
    "H": "%H",
    "h": "%I",
    "I": "%I",
    "i": "%M",
    "j": "%j",
    "k": "%-H",
    "l": "%-I",
    "M": "%B",
    "m": "%m",
    "p": "%p",
    "r": "%I:%M:%S %p",
    "S": "%S",
    "s": "%S",
    "T": "%H:%M:%S",
    "v": "%V",
    "W": "%A",
    "x": "%G",
    "Y": "%Y",
    "y": "%y",
    "%": "%%",
}
_MYSQL_REFUSED = "UuVwX"  # Trino refuses these too
_MYSQL_UNPARSED = "DvxUuVwX"  # and these when parsing


def _mysql(pattern: str, parsing: bool) -> list[_Piece]:
    pieces: list[_Piece] = []
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char != "%" or at + 1 == len(pattern):
            pieces.append(_literal_piece(char))
            at += 1
            continue
        spec = pattern[at + 1]
        at += 2
        if spec in (_MYSQL_UNPARSED if parsing else _MYSQL_REFUSED):
            raise TrinoError(
                "INVALID_FUNCTION_ARGUMENT", f"%{spec} not supported in date format string"
            )
        if spec == "D":
            pieces.append(lambda v: _duck(_ORDINAL, v))
        else:
            pieces.append(_MYSQL.get(spec, _literal_piece(spec)))
    return pieces


def _mysql_pattern(node: exp.Func, name: str) -> str:
    """The MySQL pattern of date_format / date_parse (sqlglot keeps it as strftime text)."""
    text = _pattern(node.args["format"], name)
    return format_time(text, Trino.INVERSE_TIME_MAPPING, Trino.INVERSE_TIME_TRIE) or ""


def _date_format(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    pieces = _mysql(_mysql_pattern(node, "date_format"), parsing=False)
    return _formatted(node.this, pieces)


def _date_parse(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    pieces = _mysql(_mysql_pattern(node, "date_parse"), parsing=True)
    text = "".join(p for p in pieces if isinstance(p, str))
    return _strptime(node.this, text)


def _joda_runs(pattern: str) -> list[tuple[str, int | str]]:
    """A Joda pattern as (letter, count) runs and ('', text) literals."""
    runs: list[tuple[str, int | str]] = []
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char == "'":
            end = at + 1
            text = ""
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text += "'"
                        end += 2
                        continue
                    break
                text += pattern[end]
                end += 1
            runs.append(("", text or ("'" if end == at + 1 else "")))
            at = end + 1
        elif char.isascii() and char.isalpha():
            end = at
            while end < len(pattern) and pattern[end] == char:
                end += 1
            runs.append((char, end - at))
            at = end
        else:
            runs.append(("", char))
            at += 1
    return runs


def _joda_common(count: int) -> dict[str, str]:
    """The strftime directive of each Joda letter that formats and parses alike."""
    return {
        "M": {1: "%-m", 2: "%m", 3: "%b"}.get(count, "%B"),
        "d": "%-d" if count == 1 else "%d",
        "H": "%-H" if count == 1 else "%H",
        "h": "%-I" if count == 1 else "%I",
        "m": "%-M" if count == 1 else "%M",
        "s": "%-S" if count == 1 else "%S",
        "a": "%p",
        "E": "%a" if count <= 3 else "%A",
        "y": "%y" if count == 2 else "%Y",
        "Y": "%y" if count == 2 else "%Y",
    }


def _joda_format_piece(letter: str, count: int, zoned: bool = False) -> _Piece:
    simple = _joda_common(count) | {
        "x": "%G",
        "e": "%u" if count == 1 else "0%u",
        "D": {1: "%-j", 3: "%j"}.get(count, "%j"),
        "w": "%V",
    }
    if letter == "S":
        if count <= 3:
            return lambda v: _duck(f"LEFT(STRFTIME(v, '%g'), {count})", v)
        return "%g" + "0" * (count - 3)
    if letter == "w" and count == 1:
        return lambda v: _duck("LTRIM(STRFTIME(v, '%V'), '0')", v)
    if letter == "x" and count == 2:
        return lambda v: _duck("RIGHT(STRFTIME(v, '%G'), 2)", v)
    if letter == "D" and count == 2:
        return _padded("DAYOFYEAR(v)", 2)
    if letter == "K":
        return _padded("HOUR(v) % 12", count)
    if letter == "k":
        return _padded("CASE WHEN HOUR(v) = 0 THEN 24 ELSE HOUR(v) END", count)
    if letter == "C":
        return _padded("YEAR(v) // 100", count)
    if letter == "G":
        return lambda v: _duck("CASE WHEN YEAR(v) > 0 THEN 'AD' ELSE 'BC' END", v)
    if letter in "zZ" and zoned:
        raise TrinoError(
            "NOT_SUPPORTED",
            "format_datetime: the zone of a timestamp with time zone (pattern letters z, Z) "
            "is not supported; format it AT TIME ZONE 'UTC' without them",
        )
    if letter == "z":  # a timestamp without zone is formatted as UTC, as Trino does
        return "UTC" if count < 4 else "Coordinated Universal Time"
    if letter == "Z":
        return {1: "+0000", 2: "+00:00"}.get(count, "UTC")
    if letter in simple:
        return simple[letter]
    raise TrinoError("INVALID_FUNCTION_ARGUMENT", f"Illegal pattern component: {letter * count}")


def _format_datetime(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    value, pattern_node = _arguments(node, 2, "format_datetime")
    pieces = [
        _literal_piece(str(count))
        if not letter
        else _joda_format_piece(letter, int(count), _zoned(kind))
        for letter, count in _joda_runs(_pattern(pattern_node, "format_datetime"))
    ]
    return _formatted(value, pieces)


def _joda_parse_piece(letter: str, count: int) -> str:
    simple = _joda_common(count) | {
        "D": "%j",
        "S": "%g" if count == 3 else "%f",
    }
    if letter == "Z" and count < 3:  # an offset: +0900, +09:00
        return "%z"
    if letter not in simple:
        raise TrinoError(
            "NOT_SUPPORTED", f"parse_datetime: pattern letter {letter!r} is not supported"
        )
    return simple[letter]


def _parse_datetime(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    pattern = _pattern(node.args["format"], "parse_datetime")
    runs = _joda_runs(pattern)
    text = "".join(
        _literal_piece(str(count)) if not letter else _joda_parse_piece(letter, int(count))
        for letter, count in runs
    )
    parsed = _strptime(node.this, text)
    if any(letter == "Z" for letter, _ in runs):
        return parsed  # DuckDB gives a zoned timestamp when the text has an offset
    # Without an offset, the text is a time in the session's zone, as Trino reads it.
    return exp.cast(parsed, exp.DataType.build("TIMESTAMP WITH TIME ZONE", dialect="trino"))


def _to_iso8601(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    (value,) = _arguments(node, 1, "to_iso8601")
    types = exp.DataType.Type
    if kind is not None and kind.this == types.DATE:
        return _strftime(value, "%Y-%m-%d")
    if kind is not None and kind.this == types.TIMESTAMP:
        precision = 3  # Trino's `timestamp` is timestamp(3)
        if kind.expressions:
            precision = int(kind.expressions[0].this.name)
        pieces: list[_Piece] = ["%Y-%m-%dT%H:%M:%S"]
        if precision:
            pieces += [".", _fraction(precision)]
        return _formatted(value, pieces)
    if _zoned(kind):
        return node  # the offset is the zone's: left to whatever knows the value's zone
    # Untyped: DuckDB's own text of the value, ISO-shaped.
    text = exp.cast(value.copy(), "VARCHAR")
    return _call_sql("REPLACE", text, exp.Literal.string(" "), exp.Literal.string("T"))


def _fraction(digits: int) -> _Piece:
    """The fraction of a second to `digits` digits (DuckDB keeps microseconds)."""
    if digits in (3, 6):
        return "%g" if digits == 3 else "%f"
    if digits < 6:
        return lambda v: _duck(f"LEFT(STRFTIME(v, '%f'), {digits})", v)
    return "%f" + "0" * (digits - 6)


def _any_value(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    # arbitrary / any_value: any non-null value of the group. DuckDB's any_value reads back as
    # IGNORE NULLS, which the query check refuses; the largest value is as good an answer.
    written = exp.Max(this=node.this.copy())
    written.meta[_DONE] = True
    return written


def _chr(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    # Trino's chr takes a bigint; DuckDB's an integer.
    return _call_sql("CHR", exp.cast(node.expressions[0].copy(), "INTEGER"))


def _count_if(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    # Trino counts in bigint; DuckDB's count_if is a HUGEINT (a decimal(38,0) to clients).
    node.meta[_DONE] = True
    return exp.cast(node.copy(), "BIGINT")


# Java's Formatter specifiers: %[index$][flags][width][.precision]conversion
_JAVA = re.compile(r"%(\d+\$|<)?([-#+ 0,(]*)(\d+)?(\.\d+)?([a-zA-Z%])")


def _format(node: exp.Func, kind: exp.DataType | None) -> exp.Expression:
    """Trino's format (Java's String.format) as DuckDB's printf; each specifier gets its own
    argument, converted where Java and printf differ (%s of any type, %b, %S)."""
    pattern = _pattern(node.this, "format")
    values = list(node.expressions)
    out: list[str] = []
    arguments: list[exp.Expression] = []
    at, ordinary, previous = 0, 0, -1
    for match in _JAVA.finditer(pattern):
        out.append(_literal_piece(pattern[at : match.start()]))
        at = match.end()
        index, flags, width, precision, conversion = match.groups()
        if conversion == "%":
            out.append("%%")
            continue
        if conversion == "n":
            out.append("\n")
            continue
        if conversion.lower() in "cht" or conversion == "a" or "(" in flags or "#" in flags:
            raise TrinoError(
                "NOT_SUPPORTED", f"format: the specifier {match.group(0)!r} is not supported"
            )
        if conversion not in "bBsSdoxXeEfgG":
            raise TrinoError("INVALID_FUNCTION_ARGUMENT", f"Conversion = '{conversion}'")
        if index == "<":
            position = previous
        elif index:
            position = int(index[:-1]) - 1
        else:
            position, ordinary = ordinary, ordinary + 1
        if not 0 <= position < len(values):
            raise TrinoError("INVALID_FUNCTION_ARGUMENT", f"Format specifier '{match.group(0)}'")
        previous = position
        value = values[position]
        spec = f"%{flags}{width or ''}{precision or ''}"
        if conversion in "sS":
            text: exp.Expression = exp.func(
                "COALESCE", exp.cast(value.copy(), "VARCHAR"), exp.Literal.string("null")
            )
            arguments.append(exp.Upper(this=text) if conversion == "S" else text)
            out.append(spec + "s")
        elif conversion in "bB":
            # Java: null is false, a boolean is itself, anything else is true.
            truth = _duck(
                "CASE WHEN v IS NULL OR CAST(v AS VARCHAR) = 'false' THEN 'false' ELSE 'true' END",
                value,
            )
            arguments.append(exp.Upper(this=truth) if conversion == "B" else truth)
            out.append(spec + "s")
        else:
            arguments.append(value.copy())
            out.append(spec + conversion)
    tail = pattern[at:]
    if "%" in tail:
        unknown = tail[tail.index("%") + 1 :][:1] or "%"
        raise TrinoError("INVALID_FUNCTION_ARGUMENT", f"Conversion = '{unknown}'")
    out.append(_literal_piece(tail))
    return _call_sql("PRINTF", exp.Literal.string("".join(out)), *arguments)
