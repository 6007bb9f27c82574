"""Overlaps across agencies: projects that look alike, and published datasets that hold the same
things — the secretariats' candidates for joint promotion, each with the evidence.

Projects. A pair's score (0–1) joins independent lines of evidence so that each one raises it
and none lowers it (a noisy-or: 1 − Π(1 − wᵢ·sᵢ)):
- text: TF-IDF cosine of the title (counted twice), purpose, outputs and problems, over Kiwi's
  terms (`catalog.ledger.korean_text`), blended with the cosine over character bigrams, read
  against `TEXT_FULL`;
- datasets: Jaccard of the Gongyu datasets and products both use;
- models: Jaccard of the models both use or made (one reusing the other's model counts);
- sectors: Jaccard of their sectors (weak: a sector holds many unrelated projects).
A component neither project states (no datasets on either side) is left out, not counted as 0.
The board lists pairs of different lead agencies only: an agency knows its own portfolio, and
joint promotion is across agencies. `similar_projects`, shown while a project is registered,
keeps the lead's own projects too, marked `across_agencies=False`.

Datasets. Pairs of published datasets of different agencies, scored from their schema (each
column's names and description as Korean-aware terms; columns matched one to one) and the value
overlap of identifier-like columns (primary key, unique, or named like a code or number),
estimated with MinHash over at most `ROWS_PER_COLUMN` rows of the current snapshot. Direct
identifiers (stored as pseudonyms) and sensitive columns are never compared: linking people
across agencies is not this board's business.

Speed: Kiwi's terms are cached per text and the MinHash sketches per table snapshot, so a board
for 200 projects is computed in tens of milliseconds once each text has been analysed.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field
from pyiceberg.exceptions import NoSuchTableError

from catalog.access.grants import Grants
from catalog.access.policy import may_read, may_see
from catalog.access.principal import Principal
from catalog.lakehouse import Lakehouse
from catalog.ledger.korean_text import bigrams, name_terms, terms
from catalog.ledger.projects import ProjectLedger, ProjectSpec
from contracts.model import Classification, Contract, LogicalType
from sectors.registry import Registry

# Weights of the lines of evidence (noisy-or), tuned on tests/catalog/overlap_pairs.yaml: a
# shared dataset alone is a relation (two uses of one dataset), not yet the same project.
TEXT, DATASETS, MODELS, SECTORS = 0.9, 0.35, 0.35, 0.1
# Two offices describing the same project in their own words rarely pass a TF-IDF cosine of
# 0.5 (the labelled set's similar pairs: 0.17–0.52; unrelated ones below 0.07): the text counts
# in full at TEXT_FULL.
TEXT_FULL = 0.5
TERMS_SHARE = 0.7  # of the text similarity: Kiwi terms; the rest is character bigrams
TITLE_TIMES = 2  # a title says what a project is: its terms count twice
MIN_PROJECT_SCORE = 0.25  # below it a pair is no candidate (the labelled unrelated: ≤ 0.12)
SHARED_TERMS = 8  # terms shown as evidence, those contributing most first

SCHEMA, VALUES = 0.7, 0.8
COLUMN_MATCH = 0.5  # cosine at which two columns count as the same thing
ROWS_PER_COLUMN = 200_000  # rows read of each table for MinHash: a bound on the work per table
MIN_DISTINCT = 20  # fewer distinct values is a category (시·도), not an identifier
MIN_JACCARD = 0.05  # MinHash's error with 128 permutations is about ±0.04
NUM_PERM = 128
MIN_DATASET_SCORE = 0.2
KEY_NAME = re.compile(
    r"(^|_)(id|code|cd|no|num|number|key)($|_)|코드|번호|식별|아이디", re.IGNORECASE
)


class Sources(Protocol):
    """What the detector reads (the platform, seen from the catalog's floor)."""

    @property
    def projects(self) -> ProjectLedger: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def contracts(self) -> Mapping[str, Contract]: ...

    @property
    def lakehouse(self) -> Lakehouse: ...

    @property
    def grants(self) -> Grants: ...


class ProjectRef(BaseModel):
    """One side of a project pair, as the board names it."""

    id: str
    title: str
    title_en: str | None = None
    lead: str
    partners: list[str]
    sectors: list[str]
    status: str


class ProjectScores(BaseModel):
    """Each line of evidence's similarity (0–1); None where neither project states any."""

    text: float
    terms: float = Field(description="TF-IDF cosine over Kiwi's terms.")
    characters: float = Field(description="TF-IDF cosine over character bigrams.")
    datasets: float | None
    models: float | None
    sectors: float


class Overlap(BaseModel):
    """Two projects that look alike, with why."""

    a: ProjectRef
    b: ProjectRef
    score: float = Field(ge=0, le=1)
    across_agencies: bool = Field(description="False when both have the same lead agency.")
    shared_terms: list[str]
    shared_datasets: list[str]
    shared_models: list[str]
    shared_sectors: list[str]
    components: ProjectScores


class DatasetRef(BaseModel):
    """One side of a dataset pair."""

    id: str
    title: str
    agency: str
    sector: str
    access: str


class ColumnMatch(BaseModel):
    """Two columns that hold the same thing: by their description, and by their values when
    both look like identifiers."""

    a: str
    b: str
    similarity: float = Field(description="Cosine of the columns' names and descriptions.")
    jaccard: float | None = Field(
        None, description="Estimated Jaccard of the columns' distinct values (MinHash)."
    )


class DatasetOverlap(BaseModel):
    """Two published datasets of different agencies that hold the same things."""

    a: DatasetRef
    b: DatasetRef
    score: float = Field(ge=0, le=1)
    schema_similarity: float
    value_overlap: float | None = Field(
        description="The largest estimated Jaccard of identifier-like columns (None: no pair "
        "of such columns to compare)."
    )
    columns: list[ColumnMatch]
    rows_read: int = Field(description=f"Rows read per table, at most {ROWS_PER_COLUMN:,}.")


# --- vectors ---------------------------------------------------------------------------------


def tfidf(docs: Sequence[Counter[str]]) -> tuple[np.ndarray, list[str]]:
    """Rows of L2-normalised TF-IDF weights (sublinear tf, smoothed idf), and the vocabulary."""
    vocabulary = sorted({t for d in docs for t in d})
    index = {t: i for i, t in enumerate(vocabulary)}
    matrix = np.zeros((len(docs), len(vocabulary)), dtype=np.float64)
    for row, doc in enumerate(docs):
        for term, n in doc.items():
            matrix[row, index[term]] = 1.0 + math.log(n)
    df = (matrix > 0).sum(axis=0)
    matrix *= np.log((1 + len(docs)) / (1 + df)) + 1.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0), vocabulary


def jaccard(sets: Sequence[frozenset[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise Jaccard of the sets, and where it is defined (either set non-empty)."""
    items = sorted(set().union(*sets)) if sets else []
    index = {x: i for i, x in enumerate(items)}
    member = np.zeros((len(sets), len(items)), dtype=np.float64)
    for row, found in enumerate(sets):
        member[row, [index[x] for x in found]] = 1.0
    both = member @ member.T
    sizes = member.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - both
    return np.divide(both, union, out=np.zeros_like(both), where=union > 0), union > 0


def noisy_or(*evidence: tuple[float, np.ndarray, np.ndarray | None]) -> np.ndarray:
    """1 − Π(1 − w·s) over the lines of evidence (weight, similarity, where it is defined)."""
    remaining = None
    for weight, similarity, defined in evidence:
        factor = 1.0 - weight * (
            similarity if defined is None else np.where(defined, similarity, 0)
        )
        remaining = factor if remaining is None else remaining * factor
    assert remaining is not None
    return np.clip(1.0 - remaining, 0.0, 1.0)


# --- projects --------------------------------------------------------------------------------


def _texts(spec: ProjectSpec) -> list[str]:
    return [spec.title] * TITLE_TIMES + [spec.purpose, spec.outputs or "", spec.problems or ""]


def _ref(spec: ProjectSpec) -> ProjectRef:
    return ProjectRef(
        id=spec.id,
        title=spec.title,
        title_en=spec.title_en,
        lead=spec.lead,
        partners=list(spec.partners),
        sectors=list(spec.sectors),
        status=str(spec.status),
    )


class ProjectIndex:
    """Every pair of a set of projects, scored at once (numpy); `pair` writes the evidence."""

    def __init__(self, specs: Sequence[ProjectSpec]) -> None:
        self.specs = list(specs)
        term_docs = [Counter(t for text in _texts(s) for t in terms(text)) for s in self.specs]
        char_docs = [Counter(g for text in _texts(s) for g in bigrams(text)) for s in self.specs]
        self.term_vectors, self.vocabulary = tfidf(term_docs)
        char_vectors, _ = tfidf(char_docs)
        self.terms = self.term_vectors @ self.term_vectors.T
        self.characters = char_vectors @ char_vectors.T
        self.text = TERMS_SHARE * self.terms + (1 - TERMS_SHARE) * self.characters
        self.datasets, self.has_datasets = jaccard([frozenset(s.datasets) for s in self.specs])
        models = [frozenset([*s.models_used, *s.models_made]) for s in self.specs]
        self.models, self.has_models = jaccard(models)
        self.sectors, _ = jaccard([frozenset(s.sectors) for s in self.specs])
        self.score = noisy_or(
            (TEXT, np.minimum(self.text / TEXT_FULL, 1.0), None),
            (DATASETS, self.datasets, self.has_datasets),
            (MODELS, self.models, self.has_models),
            (SECTORS, self.sectors, None),
        )

    def pair(self, i: int, j: int) -> Overlap:
        """The overlap of projects i and j, with its evidence."""
        a, b = self.specs[i], self.specs[j]
        contribution = self.term_vectors[i] * self.term_vectors[j]
        top = [k for k in np.argsort(-contribution)[:SHARED_TERMS] if contribution[k] > 0]

        def rounded(x: float) -> float:
            return round(float(x), 4)

        return Overlap(
            a=_ref(a),
            b=_ref(b),
            score=rounded(self.score[i, j]),
            across_agencies=a.lead != b.lead,
            shared_terms=[self.vocabulary[k] for k in top],
            shared_datasets=sorted(set(a.datasets) & set(b.datasets)),
            shared_models=sorted(
                {*a.models_used, *a.models_made} & {*b.models_used, *b.models_made}
            ),
            shared_sectors=sorted(set(a.sectors) & set(b.sectors)),
            components=ProjectScores(
                text=rounded(self.text[i, j]),
                terms=rounded(self.terms[i, j]),
                characters=rounded(self.characters[i, j]),
                datasets=rounded(self.datasets[i, j]) if self.has_datasets[i, j] else None,
                models=rounded(self.models[i, j]) if self.has_models[i, j] else None,
                sectors=rounded(self.sectors[i, j]),
            ),
        )

    def ranked(self, keep: np.ndarray, limit: int, min_score: float = 0.0) -> list[Overlap]:
        """The best pairs i < j where `keep[i, j]`, best first, at least `min_score`."""
        rows, cols = np.nonzero(np.triu(keep & (self.score >= min_score), k=1))
        order = np.argsort(-self.score[rows, cols], kind="stable")[:limit]
        return [self.pair(int(rows[k]), int(cols[k])) for k in order]


def similar_projects(
    platform: Sources, spec: ProjectSpec, limit: int = 5, *, viewer: Principal | None = None
) -> list[Overlap]:
    """The registered projects most like `spec` (before it is saved), best first; `a` is the
    spec. With `viewer`, only projects the caller may see (`ProjectLedger.may_see`); without,
    the platform's own view of every project."""
    ledger = platform.projects
    others = [
        p.spec
        for p in ledger.list()
        if p.id != spec.id and (viewer is None or ledger.may_see(viewer, p.spec))
    ]
    if not others:
        return []
    index = ProjectIndex([spec, *others])
    keep = np.zeros_like(index.score, dtype=bool)
    keep[0, 1:] = True
    return index.ranked(keep, limit, MIN_PROJECT_SCORE)


def project_overlaps(
    platform: Sources,
    sector: str | None = None,
    limit: int = 50,
    *,
    viewer: Principal | None = None,
) -> list[Overlap]:
    """Pairs of projects of different lead agencies that look alike, best first: those touching
    `sector` (either project in it) or all; only projects `viewer` may see when given
    (`ProjectLedger.may_see`: a non-public one only to its agencies, its sectors' secretariats
    and operators)."""
    ledger = platform.projects
    specs = [p.spec for p in ledger.list() if viewer is None or ledger.may_see(viewer, p.spec)]
    return overlaps_among(specs, sector, limit)


def overlaps_among(
    specs: Sequence[ProjectSpec], sector: str | None = None, limit: int = 50
) -> list[Overlap]:
    """`project_overlaps` over a given set of projects (files, a test's set)."""
    if len(specs) < 2:
        return []
    index = ProjectIndex(specs)
    leads = np.array([s.lead for s in specs])
    keep = leads[:, None] != leads[None, :]
    if sector is not None:
        touching = np.array([sector in s.sectors for s in specs])
        keep &= touching[:, None] | touching[None, :]
    return index.ranked(keep, limit, MIN_PROJECT_SCORE)


# --- datasets --------------------------------------------------------------------------------


class ColumnSketch(BaseModel):
    """A column's distinct values as a MinHash (its hash values), and how many there were."""

    hashvalues: list[int]
    distinct: int


class TableSketch(BaseModel):
    """The sketches of one table snapshot's identifier-like columns (None: too few distinct
    values to be an identifier), and the rows read for them."""

    rows: int
    columns: dict[str, ColumnSketch | None]


_sketches: dict[tuple[str, int], TableSketch] = {}
_sketch_lock = threading.Lock()
MAX_SKETCHES = 1024  # table snapshots kept before the cache starts over


def key_like(column_name: str, contract: Contract) -> bool:
    """True for a column that may identify things shared across agencies: a primary key,
    unique, or named like a code or number; never a pseudonymised or sensitive one."""
    column = contract.column(column_name)
    if column.classification in (Classification.direct_identifier, Classification.sensitive):
        return False
    if column.logical_type not in (LogicalType.string, LogicalType.integer):
        return False
    named = KEY_NAME.search(column.name) or KEY_NAME.search(column.physical_name)
    return bool(column.primary_key_position is not None or column.unique or named)


def running_number(values: set[str]) -> bool:
    """True for a row counter (1, 2, 3 … with hardly a gap): every table numbering its rows
    holds the same values, which says nothing about what the rows are."""
    if not all(v.isdigit() for v in values):
        return False
    numbers = [int(v) for v in values]
    return min(numbers) <= 1 and max(numbers) - min(numbers) + 1 <= len(numbers) * 1.1


def _sketch(values: Iterable[object]) -> ColumnSketch | None:
    from datasketch import MinHash

    distinct = {str(v).strip() for v in values if v is not None and str(v).strip()}
    if len(distinct) < MIN_DISTINCT or running_number(distinct):
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=1)
    minhash.update_batch([v.encode("utf-8") for v in distinct])
    return ColumnSketch(hashvalues=[int(h) for h in minhash.hashvalues], distinct=len(distinct))


def sketches(
    lakehouse: Lakehouse, contract: Contract, columns: Sequence[str]
) -> TableSketch | None:
    """MinHash sketches of the columns in the dataset's current snapshot, at most
    `ROWS_PER_COLUMN` rows read and cached per snapshot; None while nothing is published."""
    try:
        table = lakehouse.catalog.load_table(contract.table)
    except NoSuchTableError:
        return None
    snapshot = table.current_snapshot()
    if snapshot is None:
        return None
    key = (table.location(), snapshot.snapshot_id)
    with _sketch_lock:
        cached = _sketches.get(key)
    missing = [c for c in columns if cached is None or c not in cached.columns]
    if cached is None or missing:
        rows, found = 0, {}
        if missing:
            data = table.scan(
                snapshot_id=snapshot.snapshot_id,
                selected_fields=tuple(missing),
                limit=ROWS_PER_COLUMN,
            ).to_arrow()
            rows, found = data.num_rows, {c: _sketch(data.column(c).to_pylist()) for c in missing}
        cached = TableSketch(
            rows=max(rows, cached.rows if cached else 0),
            columns={**(cached.columns if cached else {}), **found},
        )
        with _sketch_lock:
            if len(_sketches) >= MAX_SKETCHES:
                _sketches.clear()
            _sketches[key] = cached
    return cached


def estimated_jaccard(a: ColumnSketch, b: ColumnSketch) -> float:
    """MinHash's estimate: the share of equal hash values."""
    return float(np.mean(np.array(a.hashvalues) == np.array(b.hashvalues)))


def _column_docs(contract: Contract) -> tuple[list[Counter[str]], list[Counter[str]]]:
    term_docs, char_docs = [], []
    for c in contract.columns:
        words = [*name_terms(c.name), *name_terms(c.physical_name), *terms(c.description or "")]
        term_docs.append(Counter(words))
        char_docs.append(Counter([*bigrams(c.physical_name), *bigrams(c.description or "")]))
    return term_docs, char_docs


def _inputs(contract: Contract) -> set[str]:
    """The datasets a joint product reads (`<sector>.<table>` or ids), as dataset ids."""
    if contract.product is None:
        return set()
    return {name.rsplit(".", 1)[-1] for name in contract.product.inputs}


def _match(similarity: np.ndarray) -> list[tuple[int, int, float]]:
    """Columns matched one to one, most similar first, at least `COLUMN_MATCH` alike."""
    rows, cols = np.nonzero(similarity >= COLUMN_MATCH)
    pairs = sorted(
        ((float(similarity[i, j]), i, j) for i, j in zip(rows, cols, strict=True)), reverse=True
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = []
    for s, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matched.append((int(i), int(j), s))
    return matched


def dataset_overlaps(
    platform: Sources,
    limit: int = 50,
    *,
    sector: str | None = None,
    viewer: Principal | None = None,
) -> list[DatasetOverlap]:
    """Pairs of published datasets of different agencies that hold the same things, best
    first: those touching `sector` or all; only datasets `viewer` may see when given."""
    contracts = [
        c
        for c in platform.contracts.values()
        if viewer is None or may_see(viewer, c, platform.registry)
    ]
    published: list[tuple[Contract, dict[str, ColumnSketch], int]] = []
    for contract in sorted(contracts, key=lambda c: c.id):
        keys = [c.name for c in contract.columns if key_like(c.name, contract)]
        found = sketches(platform.lakehouse, contract, keys)
        if found is None:
            continue
        usable = {c: s for c in keys if (s := found.columns.get(c)) is not None}
        if viewer is not None and not may_read(
            viewer, contract, platform.registry, platform.grants.active(viewer.agency, contract.id)
        ):
            # Its values are not the viewer's to read: not even as an overlap estimate. The
            # schema (metadata every viewer of the catalog sees) still counts.
            usable = {}
        published.append((contract, usable, found.rows))
    if len(published) < 2:
        return []
    term_docs: list[Counter[str]] = []
    char_docs: list[Counter[str]] = []
    spans = []
    for contract, _, _ in published:
        docs = _column_docs(contract)
        spans.append((len(term_docs), len(term_docs) + len(docs[0])))
        term_docs += docs[0]
        char_docs += docs[1]
    term_vectors, _ = tfidf(term_docs)
    char_vectors, _ = tfidf(char_docs)
    columns = TERMS_SHARE * (term_vectors @ term_vectors.T) + (1 - TERMS_SHARE) * (
        char_vectors @ char_vectors.T
    )
    found_pairs = []
    for i, (a, a_sketches, a_rows) in enumerate(published):
        for j in range(i + 1, len(published)):
            b, b_sketches, b_rows = published[j]
            if a.agency == b.agency or a.id in _inputs(b) or b.id in _inputs(a):
                continue
            if sector is not None and sector not in (a.sector, b.sector):
                continue
            pair = _dataset_pair(
                a, b, columns[slice(*spans[i]), slice(*spans[j])], a_sketches, b_sketches
            )
            if pair.score >= MIN_DATASET_SCORE:
                found_pairs.append(pair.model_copy(update={"rows_read": max(a_rows, b_rows)}))
    found_pairs.sort(key=lambda p: (-p.score, p.a.id, p.b.id))
    return found_pairs[:limit]


def _dataset_ref(contract: Contract) -> DatasetRef:
    return DatasetRef(
        id=contract.id,
        title=contract.title,
        agency=contract.agency,
        sector=contract.sector,
        access=str(contract.access),
    )


def _dataset_pair(
    a: Contract,
    b: Contract,
    similarity: np.ndarray,
    a_sketches: Mapping[str, ColumnSketch],
    b_sketches: Mapping[str, ColumnSketch],
) -> DatasetOverlap:
    matched = _match(similarity)
    schema = sum(s for _, _, s in matched) / math.sqrt(len(a.columns) * len(b.columns))
    # Every pair of identifier-like columns is compared: a code may be named apart.
    values: dict[tuple[str, str], float] = {}
    for name_a, sketch_a in a_sketches.items():
        for name_b, sketch_b in b_sketches.items():
            estimate = estimated_jaccard(sketch_a, sketch_b)
            if estimate >= MIN_JACCARD:
                values[name_a, name_b] = estimate
    listed = {(a.columns[i].name, b.columns[j].name): s for i, j, s in matched}
    for names in values:
        listed.setdefault(names, float(similarity[_at(a, names[0]), _at(b, names[1])]))
    compared = bool(a_sketches and b_sketches)
    value_overlap = max(values.values(), default=0.0) if compared else None
    score = 1 - (1 - SCHEMA * min(schema, 1.0)) * (1 - VALUES * (value_overlap or 0.0))
    return DatasetOverlap(
        a=_dataset_ref(a),
        b=_dataset_ref(b),
        score=round(score, 4),
        schema_similarity=round(min(schema, 1.0), 4),
        value_overlap=None if value_overlap is None else round(value_overlap, 4),
        columns=[
            ColumnMatch(
                a=name_a,
                b=name_b,
                similarity=round(s, 4),
                jaccard=round(values[name_a, name_b], 4) if (name_a, name_b) in values else None,
            )
            for (name_a, name_b), s in sorted(
                listed.items(), key=lambda kv: (-(values.get(kv[0]) or 0), -kv[1])
            )
        ],
        rows_read=0,
    )


def _at(contract: Contract, name: str) -> int:
    return next(i for i, c in enumerate(contract.columns) if c.name == name)
