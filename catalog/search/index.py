"""The catalog's search index: SQLite FTS5 over Hangul bigrams and Latin words, BM25-ranked,
queried through an analysed, expanded plan (see the package's docstring)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from catalog.kiwi import kiwi, tokenize
from catalog.search import chosung
from catalog.search.analysis import (
    QueryWord,
    Role,
    analyse,
    normalise,
    phrase_words,
    query_words,
    searchable,
    terms,
)
from catalog.search.synonyms import synonyms
from catalog.search.typos import Corrector
from contracts.model import Contract
from sectors.registry import Registry

FIELDS = ("title", "tags", "columns", "description", "publisher")
WEIGHTS = (5.0, 3.0, 2.0, 1.0, 1.0)
PLANS = 4096  # query plans kept (until the index changes)
EXPLAINED = 20  # matches whose columns `search` names (a page; `columns` for any other)
_NOUNS = ("NNG", "NNP")
_WORD = re.compile(r"[\uac00-\ud7a3]+|[^\W_\uac00-\ud7a3]+")


@dataclass(frozen=True)
class Document:
    """A dataset as search sees it: its texts per field, its columns (name, header and
    description) and the values filters look at."""

    dataset_id: str
    sector: str
    agency: str
    access: str
    texts: tuple[str, ...]
    kind: str = "dataset"
    inputs: tuple[str, ...] = ()
    columns: tuple[tuple[str, str, str], ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        """Each field normalised with the spaces between Hangul syllables dropped."""
        return tuple(searchable(t) for t in self.texts)

    @property
    def words(self) -> frozenset[str]:
        """Its vocabulary: the words of its title, tags and column names and headers."""
        return vocabulary_words(
            [self.texts[0], self.texts[1], *(f"{n} {h}" for n, h, _ in self.columns)]
        )


@lru_cache(maxsize=65536)
def _parts(word: str) -> tuple[str, ...]:
    """A Hangul vocabulary word's nouns and adjacent-noun compounds (대기오염도 → 대기, 오염,
    대기오염): corrections and 초성 reach inside compounds."""
    found: list[str] = []
    run = ""
    for token in tokenize(word):
        if token.tag in _NOUNS:
            run += token.form
            found += [token.form, run] if run != token.form else [token.form]
        else:
            run = ""
    return tuple(w for w in dict.fromkeys(found) if len(w) > 1 and w != word)


def vocabulary_words(texts: Iterable[str]) -> frozenset[str]:
    """The words of titles, tags and column names a typo is corrected to: normalised Hangul
    and Latin words (2+ characters), and the nouns inside Hangul compounds."""
    words = {w for w in _WORD.findall(normalise(" ".join(texts))) if len(w) > 1 and not w.isdigit()}
    for word in list(words):
        if len(word) > 2 and "\uac00" <= word[0] <= "\ud7a3":
            words.update(_parts(word))
    return frozenset(words)


def document(contract: Contract, registry: Registry) -> Document:
    """What of a contract is searched: title and id; tags; columns (names, file headers,
    descriptions); purpose, usage and limitations; agency and sector names. A product keeps
    its kind and the datasets it reads, for the filter and the order."""
    odcs = contract.odcs
    described = odcs.description
    agency = registry.agency(contract.agency)
    sector = registry.sector(contract.sector)
    columns = tuple((c.name, c.physical_name, c.description or "") for c in contract.columns)
    description = " ".join(
        t
        for t in (
            described.purpose if described else contract.description,
            described.usage if described else None,
            described.limitations if described else None,
        )
        if t
    )
    publisher = " ".join(
        [agency.name, agency.name_en] * bool(agency) + [sector.name, sector.name_en] * bool(sector)
    )
    tags = " ".join(odcs.tags or [])
    return Document(
        dataset_id=contract.id,
        sector=contract.sector,
        agency=contract.agency,
        access=contract.access.value,
        kind=contract.kind,
        inputs=contract.product.inputs if contract.product else (),
        texts=(
            f"{contract.title} {contract.id}",
            tags,
            " ".join(" ".join(c) for c in columns),
            description,
            publisher,
        ),
        columns=columns,
    )


class Match(NamedTuple):
    """A dataset that matched, its BM25 score (higher is better) and the columns where a query
    word (or its synonym) occurs. A tuple: a broad query matches thousands."""

    row: int
    dataset_id: str
    score: float
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    """What one word of a query may match: any of its forms (each form: words all found)."""

    forms: tuple[tuple[QueryWord, ...], ...]

    def fts(self) -> str:
        """The group as an FTS5 expression (an OR of ANDs)."""
        return (
            "("
            + " OR ".join("(" + " AND ".join(w.fts() for w in f) + ")" for f in self.forms)
            + ")"
        )

    def found_in(self, text: str) -> bool:
        """True when one form's words all occur in a searchable text."""
        return any(all(w.found_in(text) for w in form) for form in self.forms)


@dataclass(frozen=True)
class Plan:
    """A query as the index runs it: required groups (all must match), optional ones (named
    in fields and columns only), the corrected query (None: nothing corrected), and whether a
    required word can match nothing at all."""

    required: tuple[Group, ...]
    optional: tuple[Group, ...]
    corrected: str | None
    hopeless: bool

    @property
    def groups(self) -> tuple[Group, ...]:
        return self.required + self.optional


class _Unit(NamedTuple):
    text: str  # as typed (corrected), normalised
    form: str  # without particles and endings
    role: Role
    hangul: bool
    typed: bool  # a typed word (Latin: matched as a prefix) or a synonym's phrase
    choices: tuple[str, ...] = ()  # the vocabulary words a 초성 word stands for


def sources_first(matches: list[Match], inputs: dict[int, tuple[str, ...]]) -> list[Match]:
    """`matches` (best first) with each product (a row in `inputs`, with the datasets it reads)
    moved after the matching datasets it reads and scored no higher than they are, so the
    order holds wherever results are sorted by score."""
    pending = {m.dataset_id for m in matches}
    scores: dict[str, float] = {}
    out: list[Match] = []
    waiting: list[tuple[Match, set[str]]] = []
    for match in matches:
        if match.row not in inputs and not waiting:
            # A dataset nothing waits for (most matches): it stays as it is.
            out.append(match)
            scores[match.dataset_id] = match.score
            pending.discard(match.dataset_id)
            continue
        needs = set(inputs.get(match.row, ())) & pending
        if needs:
            waiting.append((match, needs))
            continue
        ready = [match]
        while ready:
            done = ready.pop(0)
            read = [scores[i] for i in inputs.get(done.row, ()) if i in scores]
            done = done._replace(score=min([done.score, *read]))
            out.append(done)
            scores[done.dataset_id] = done.score
            pending.discard(done.dataset_id)
            for _, needs in waiting:
                needs.discard(done.dataset_id)
            ready += [held for held, needs in waiting if not needs]
            waiting = [(held, needs) for held, needs in waiting if needs]
    # Left waiting only by products that read each other (never buildable): last, in order.
    return out + [held for held, _ in waiting]


class SearchIndex:
    """An in-memory FTS5 index of the catalog, updated contract by contract (`add`, `remove`)."""

    def __init__(self, contracts: Iterable[Contract], registry: Registry) -> None:
        self.registry = registry
        kiwi()  # its model loads here (seconds), not in a query
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.RLock()
        # Contentless: texts and filter values stay in `_docs` (FTS5 would take ~10 ms to read
        # a stored column back for a few thousand matches); FTS5 keeps its index only.
        self._db.execute(
            f"CREATE VIRTUAL TABLE docs USING fts5({', '.join(FIELDS)}, content = '', "
            "tokenize = 'unicode61 remove_diacritics 0')"
        )
        self._docs: dict[int, Document] = {}
        self._rows: dict[str, int] = {}
        self._inputs: dict[int, tuple[str, ...]] = {}
        self.vocabulary: Counter[str] = Counter(dict.fromkeys(synonyms().words(), 0))
        self._corrector = Corrector(self.vocabulary)
        self._plans: dict[str, Plan] = {}
        self._order: list[int] | None = None
        self._next = 0
        # Sorted by title: equal scores keep the order rows were added in.
        docs = sorted((document(c, registry) for c in contracts), key=lambda d: d.texts[0])
        with self._db:
            for doc in docs:
                self._insert(doc)

    @property
    def size(self) -> int:
        """How many datasets are indexed."""
        return len(self._docs)

    def _insert(self, doc: Document) -> None:
        row = self._next
        self._next += 1
        self._db.execute(
            f"INSERT INTO docs (rowid, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})",
            (row, *(terms(t) for t in doc.texts)),
        )
        self._docs[row] = doc
        self._rows[doc.dataset_id] = row
        if doc.inputs:
            self._inputs[row] = doc.inputs
        self.vocabulary.update(doc.words)

    def _changed(self) -> None:
        self._plans.clear()
        self._order = None
        self._corrector.invalidate()

    def add(self, contract: Contract) -> None:
        """Index a contract (a dataset's earlier version, if indexed, is replaced)."""
        doc = document(contract, self.registry)
        with self._lock:
            with self._db:
                self._delete(contract.id)
                self._insert(doc)
            self._changed()

    def remove(self, dataset_id: str) -> None:
        """Drop a dataset from the index (nothing happens when it is not there)."""
        with self._lock:
            with self._db:
                self._delete(dataset_id)
            self._changed()

    def _delete(self, dataset_id: str) -> None:
        row = self._rows.pop(dataset_id, None)
        if row is None:
            return
        doc = self._docs.pop(row)
        self._inputs.pop(row, None)
        # A contentless table forgets a row given the values it was indexed with.
        self._db.execute(
            f"INSERT INTO docs (docs, rowid, {', '.join(FIELDS)}) "
            f"VALUES ('delete', ?{', ?' * len(FIELDS)})",
            (row, *(terms(t) for t in doc.texts)),
        )
        self.vocabulary.subtract(doc.words)
        for word in doc.words:
            if self.vocabulary[word] <= 0 and not synonyms().of(word):
                del self.vocabulary[word]

    # Queries.

    def _exists(self, expression: str) -> bool:
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM docs WHERE docs MATCH ? LIMIT 1", [expression]
                ).fetchone()
                is not None
            )

    def _units(self, query: str) -> tuple[list[_Unit], bool]:
        """A query's words (corrected where they find nothing) grouped into synonym phrases;
        and whether a word was corrected."""
        words = query_words(query)
        texts: list[str] = []
        hangul: list[bool] = []
        corrected = False
        for word in words:
            text = word.text
            if not chosung.is_chosung(text):
                form = analyse(text)[0] if word.hangul else text
                unknown = form not in self.vocabulary
                if unknown and not self._exists(QueryWord(form, word.hangul).fts()):
                    better = self._corrector.correct(form)
                    if better is not None:
                        text, corrected = better, True
            texts.append(text)
            hangul.append(word.hangul)
        units: list[_Unit] = []
        index = 0
        table = synonyms()
        while index < len(texts):
            for size in range(min(table.longest, len(texts) - index), 1, -1):
                phrase = " ".join(texts[index : index + size])
                if table.of(phrase):
                    units.append(_Unit(phrase, phrase, Role.required, False, False))
                    index += size
                    break
            else:
                text = texts[index]
                if chosung.is_chosung(text):
                    choices = tuple(chosung.expand(text, self._hangul_vocabulary()))
                    units.append(_Unit(text, text, Role.required, True, True, choices))
                else:
                    korean = hangul[index]
                    form, role = analyse(text) if korean else (text, Role.required)
                    units.append(_Unit(text, form, role, korean, True))
                index += 1
        return units, corrected

    def _hangul_vocabulary(self) -> dict[str, int]:
        return {w: n for w, n in self.vocabulary.items() if "\uac00" <= w[0] <= "\ud7a3"}

    def _group(self, unit: _Unit) -> Group:
        if unit.choices or chosung.is_chosung(unit.text):
            return Group(tuple((QueryWord(w, hangul=True),) for w in unit.choices))
        typed = (
            (QueryWord(unit.form, unit.hangul),) if unit.typed else tuple(phrase_words(unit.form))
        )
        forms = [typed]
        for synonym in synonyms().of(unit.form):
            form = tuple(phrase_words(synonym))
            if form and form not in forms:
                forms.append(form)
        return Group(tuple(forms))

    def plan(self, query: str) -> Plan:
        """How a query runs (cached until the index changes)."""
        with self._lock:
            cached = self._plans.get(query)
            if cached is None:
                cached = self._plans[query] = self._plan(query)
            return cached

    def _plan(self, query: str) -> Plan:
        units, corrected = self._units(query)
        table = synonyms()
        kept = [u for u in units if not table.stop(u.form) and not table.stop(u.text)]
        if not kept:
            kept = units  # a query of stopwords only ("데이터") looks for them
        required = [u for u in kept if u.role is Role.required] or kept
        optional = [u for u in kept if u not in required]
        groups = tuple(self._group(u) for u in required)
        hopeless = any(not g.forms or not self._exists(g.fts()) for g in groups)
        if len(self._plans) > PLANS:
            self._plans.clear()  # a crude bound: plans are cheap to make again
        return Plan(
            required=groups,
            optional=tuple(self._group(u) for u in optional),
            corrected=" ".join(u.text for u in units) if corrected else None,
            hopeless=hopeless,
        )

    def suggest(self, query: str) -> str | None:
        """A "did you mean" query: the words that find nothing corrected against the index's
        vocabulary; None when nothing was corrected."""
        return self.plan(query).corrected

    def _ordered(self) -> list[int]:
        if self._order is None:
            self._order = sorted(self._docs, key=lambda row: self._docs[row].texts[0])
        return self._order

    def search(
        self,
        query: str,
        *,
        sector: str | None = None,
        agency: str | None = None,
        access: str | None = None,
        kind: str | None = None,
        explain: int = EXPLAINED,
    ) -> list[Match]:
        """Every match, best first (no words: every dataset, by title), within the filters;
        `kind` is `dataset` or `product`. The first `explain` matches name their columns."""
        with self._lock:
            plan = self.plan(query)
            if plan.required:
                ranked = self._ranked(plan)
            else:
                ranked = [(row, 0.0) for row in self._ordered()]
            docs = self._docs
            found = sources_first(
                [
                    Match(row, docs[row].dataset_id, score)
                    for row, score in ranked
                    if (sector is None or docs[row].sector == sector)
                    and (agency is None or docs[row].agency == agency)
                    and (access is None or docs[row].access == access)
                    and (kind is None or docs[row].kind == kind)
                ],
                self._inputs,
            )
            if not explain:
                return found
            head = [m._replace(columns=self.columns(m, query)) for m in found[:explain]]
            return head + found[explain:]

    def _ranked(self, plan: Plan) -> list[tuple[int, float]]:
        """Rows and BM25 scores of the datasets matching every required word; when none does
        and the query has several, those matching most of them (at least half), more words
        first: a question names words no dataset uses ("…이 궁금합니다", "…할 수 있는 곳")."""
        weights = ", ".join(str(w) for w in WEIGHTS)
        sql = (
            f"SELECT rowid, -bm25(docs, {weights}) FROM docs WHERE docs MATCH ? ORDER BY 2 DESC, 1"
        )
        if not plan.hopeless:
            ranked = self._db.execute(sql, [" AND ".join(g.fts() for g in plan.required)])
            found = ranked.fetchall()
            if found or len(plan.required) < 2:
                return found
        elif len(plan.required) < 2:
            return []
        counts: dict[int, list[float]] = {}
        for group in plan.required:
            if group.forms:
                for row, score in self._db.execute(sql, [group.fts()]):
                    count = counts.setdefault(row, [0.0, 0.0])
                    count[0] += 1
                    count[1] += score
        need = (len(plan.required) + 1) // 2
        most = sorted(
            ((row, c) for row, c in counts.items() if c[0] >= need),
            key=lambda item: (-item[1][0], -item[1][1], item[0]),
        )
        return [(row, c[1]) for row, c in most]

    def fields(self, match: Match, query: str) -> list[str]:
        """The fields in which a word of the query occurs (asked for the hits shown only)."""
        groups = self.plan(query).groups
        forms = self._docs[match.row].forms
        return [
            f
            for f, form in zip(FIELDS, forms, strict=True)
            if any(g.found_in(form) for g in groups)
        ]

    def columns(self, match: Match, query: str) -> tuple[str, ...]:
        """The columns whose name, header or description holds a query word or its synonym."""
        groups = self.plan(query).groups
        doc = self._docs.get(match.row)
        if doc is None or not groups:
            return ()
        return tuple(
            name
            for name, header, description in doc.columns
            if any(g.found_in(searchable(f"{name} {header} {description}")) for g in groups)
        )
