"""Catalog search in Korean and English: partial words, no spaces needed, ranked by BM25.

Korean compounds carry no spaces (미세먼지농도) and no offline tokenizer splits them reliably;
SQLite FTS5's trigram tokenizer cannot answer the 1–2-syllable queries people type (먼지, 대기,
음주) from its index. So this module makes the terms and FTS5 indexes and ranks them:

- text is normalised (NFKC, case folded);
- a run of Hangul syllables (spaces inside it dropped: Korean spacing varies) becomes its
  overlapping bigrams, then its last syllable. A Hangul query word becomes the phrase of its
  bigrams, and consecutive bigrams match exactly where the word occurs inside the text; a
  single syllable matches as the start of a term;
- Latin letters and digits stay whole words (ids split at `_`); a query word matches as a
  word's prefix ("air qual").

Every query word must match (AND). FTS5's BM25 ranks, with field weights: title > tags >
columns > description > publisher. Joint products are indexed like datasets; a product never
ranks (or scores) above a matching dataset it reads: whoever looks for 음주 or 미세먼지 finds
the agency's own data first, then what was built on it (a product repeats its inputs' words in
its title and tags, so it would otherwise score about the same, often a little higher).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from contracts.model import Contract
from sectors.registry import Registry

FIELDS = ("title", "tags", "columns", "description", "publisher")
WEIGHTS = (5.0, 3.0, 2.0, 1.0, 1.0)
_HANGUL = "\uac00-\ud7a3"
_TERMS = re.compile(rf"(?P<hangul>[{_HANGUL}]+(?:\s+[{_HANGUL}]+)*)|(?P<word>[^\W_{_HANGUL}]+)")
_WORDS = re.compile(rf"(?P<hangul>[{_HANGUL}]+)|(?P<word>[^\W_{_HANGUL}]+)")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Text as it is indexed and searched: NFKC (full-width forms, ㎍), case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _hangul_terms(run: str) -> list[str]:
    syllables = _SPACE.sub("", run)
    return [syllables[i : i + 2] for i in range(len(syllables) - 1)] + [syllables[-1]]


def terms(text: str) -> str:
    """The indexed terms of a text, space-separated in text order (what FTS5 stores)."""
    out: list[str] = []
    for match in _TERMS.finditer(normalise(text)):
        if match.group("hangul"):
            out += _hangul_terms(match.group("hangul"))
        else:
            out.append(match.group("word"))
    return " ".join(out)


@dataclass(frozen=True)
class QueryWord:
    """One word of a query: Hangul (matched inside text) or a Latin/digit word prefix."""

    text: str
    hangul: bool

    def fts(self) -> str:
        """This word as an FTS5 expression; words hold only letters and digits, so quoting
        them cannot break out of the phrase."""
        if self.hangul and len(self.text) > 1:
            pairs = [self.text[i : i + 2] for i in range(len(self.text) - 1)]
            return '"' + " ".join(pairs) + '"'
        return f'"{self.text}"*'

    def found_in(self, form: str) -> bool:
        """True when the word occurs in a field's searchable form (see `Document.forms`)."""
        if self.hangul:
            return self.text in form
        return re.search(rf"(?<![^\W_]){re.escape(self.text)}", form) is not None


def query_words(query: str) -> list[QueryWord]:
    """The words of a query: split at spaces too (each must match), unlike indexed text."""
    return [
        QueryWord(m.group(0), hangul=m.group("hangul") is not None)
        for m in _WORDS.finditer(normalise(query))
    ]


@dataclass(frozen=True)
class Document:
    """A dataset as search sees it: its texts per field and the values filters look at."""

    dataset_id: str
    sector: str
    agency: str
    access: str
    texts: tuple[str, ...]
    kind: str = "dataset"
    inputs: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        """Each field normalised with the spaces between Hangul syllables dropped."""
        return tuple(
            _TERMS.sub(
                lambda m: _SPACE.sub("", m.group(0)) if m.group("hangul") else m.group(0),
                normalise(t),
            )
            for t in self.texts
        )


def document(contract: Contract, registry: Registry) -> Document:
    """What of a contract is searched: title and id; tags; columns (names, file headers,
    descriptions); purpose, usage and limitations; agency and sector names. A product keeps
    its kind and the datasets it reads, for the filter and the order."""
    odcs = contract.odcs
    described = odcs.description
    agency = registry.agency(contract.agency)
    sector = registry.sector(contract.sector)
    columns = " ".join(
        f"{c.name} {c.physical_name} {c.description or ''}" for c in contract.columns
    )
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
    return Document(
        dataset_id=contract.id,
        sector=contract.sector,
        agency=contract.agency,
        access=contract.access.value,
        kind=contract.kind,
        inputs=contract.product.inputs if contract.product else (),
        texts=(
            f"{contract.title} {contract.id}",
            " ".join(odcs.tags or []),
            columns,
            description,
            publisher,
        ),
    )


class Match(NamedTuple):
    """A dataset that matched and its BM25 score (higher is better). A tuple: a broad query
    matches thousands, and only the page shown becomes anything more."""

    row: int
    dataset_id: str
    score: float


def sources_first(matches: list[Match], inputs: dict[int, tuple[str, ...]]) -> list[Match]:
    """`matches` (best first) with each product (a row in `inputs`, with the datasets it reads)
    moved after the matching datasets it reads and scored no higher than they are, so the
    order holds wherever results are sorted by score."""
    pending = {m.dataset_id for m in matches}
    scores: dict[str, float] = {}
    out: list[Match] = []
    waiting: list[tuple[Match, set[str]]] = []
    for match in matches:
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
    """An in-memory FTS5 index of the catalog; build a new one when the contracts change."""

    def __init__(self, contracts: Iterable[Contract], registry: Registry) -> None:
        # Sorted by title: an empty query lists in this order, and equal scores keep it.
        self._docs = sorted((document(c, registry) for c in contracts), key=lambda d: d.texts[0])
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        indexed = ", ".join(FIELDS)
        # Contentless: texts and filter values stay in `_docs` (FTS5 would take ~10 ms to read
        # a stored column back for a few thousand matches); FTS5 keeps its index only.
        self._db.execute(
            f"CREATE VIRTUAL TABLE docs USING fts5({indexed}, content = '', "
            "tokenize = 'unicode61 remove_diacritics 0')"
        )
        with self._db:
            self._db.executemany(
                f"INSERT INTO docs (rowid, {indexed}) VALUES (?, {', '.join('?' * len(FIELDS))})",
                ((i, *(terms(t) for t in d.texts)) for i, d in enumerate(self._docs)),
            )
        self.size = len(self._docs)
        self._inputs = {row: d.inputs for row, d in enumerate(self._docs) if d.inputs}

    def search(
        self,
        query: str,
        *,
        sector: str | None = None,
        agency: str | None = None,
        access: str | None = None,
        kind: str | None = None,
    ) -> list[Match]:
        """Every match, best first (no words: every dataset, by title), within the filters;
        `kind` is `dataset` or `product`."""
        words = query_words(query)
        if words:
            weights = ", ".join(str(w) for w in WEIGHTS)
            sql = (
                f"SELECT rowid, -bm25(docs, {weights}) FROM docs WHERE docs MATCH ? "
                "ORDER BY 2 DESC, 1"
            )
            with self._lock:
                ranked = self._db.execute(sql, [" AND ".join(w.fts() for w in words)]).fetchall()
        else:
            ranked = [(row, 0.0) for row in range(self.size)]
        docs = self._docs
        return sources_first(
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

    def fields(self, match: Match, query: str) -> list[str]:
        """The fields in which a word of the query occurs (asked for the hits shown only)."""
        words = query_words(query)
        forms = self._docs[match.row].forms
        return [
            f for f, form in zip(FIELDS, forms, strict=True) if any(w.found_in(form) for w in words)
        ]
