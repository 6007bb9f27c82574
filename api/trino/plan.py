"""What each statement a Trino client sends becomes: a query to run, or an answer at once.

Queries go through `api.trino.dialect`. `SHOW CATALOGS | SCHEMAS | TABLES | COLUMNS | CREATE TABLE |
SESSION` and `DESCRIBE` become queries over the metadata tables; session statements (`USE`,
`SET`/`RESET SESSION`, `START TRANSACTION`, `COMMIT`, `ROLLBACK`, `PREPARE`, `DEALLOCATE
PREPARE`) are answered with the headers Trino would send; `EXECUTE` and `EXECUTE IMMEDIATE` bind
their parameters and plan the statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import ClassVar, NoReturn
from urllib.parse import quote_plus

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from api.sql.check import CATALOG
from api.trino.dialect import (
    SYSTEM,
    Session,
    check_session,
    header_safe,
    parse_query,
    require_schema,
    require_table,
    translate,
)
from api.trino.errors import TrinoError, location
from api.trino.metadata import INFORMATION_SCHEMA, Catalog


@dataclass(frozen=True)
class Run:
    """A query to run in the caller's sandbox, in DuckDB's dialect."""

    sql: str


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


def plan(sql: str, session: Session, catalog: Catalog, *, prepared: bool = False) -> Run | Done:
    """What to do for one statement; raises TrinoError for anything Trino would refuse."""
    check_session(session)
    text = sql.strip()
    while text.endswith(";"):  # clients and people paste statements with their terminator
        text = text[:-1].rstrip()
    words = _Words(text)
    first = words.peek()
    if first == "SHOW":
        return Run(translate(show(words, session, catalog), session, catalog))
    if first in ("DESCRIBE", "DESC"):
        return _describe(words, session, catalog)
    if first in ("EXECUTE", "PREPARE", "DEALLOCATE") and prepared:
        raise TrinoError("NOT_SUPPORTED", f"Invalid statement type for prepared statement: {first}")
    if first in _SESSION_STATEMENTS:
        return _SESSION_STATEMENTS[first](words, session, catalog)
    if first == "EXECUTE":
        return _execute(words, session, catalog)
    if not words.words:
        words.fail("<statement>")
    return Run(translate(parse_query(text), session, catalog, text))


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


def _like(words: _Words, column: str, query: exp.Select) -> exp.Select:
    """`LIKE 'pattern' [ESCAPE 'c']`, if given, as a filter on `column`."""
    if not words.accept("LIKE"):
        return query
    condition: exp.Expression = exp.Like(
        this=exp.column(column), expression=exp.Literal.string(words.string())
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
    """`SHOW CATALOGS | SCHEMAS | TABLES | COLUMNS | CREATE TABLE | SESSION` as a query."""
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
    elif words.accept("SESSION"):
        names = ("Name", "Value", "Default", "Type", "Description")
        query = exp.select(*(exp.cast(exp.null(), "VARCHAR").as_(n, quoted=True) for n in names))
        query = query.where(exp.false())
    else:
        words.fail("CATALOGS, SCHEMAS, TABLES, COLUMNS, CREATE TABLE, SESSION")
    words.end()
    return query


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
    return Run(translate(query, session, catalog))


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


def _execute(words: _Words, session: Session, catalog: Catalog) -> Run | Done:
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
