"""Search relevance: MRR@10 and recall@5 of catalog search over a labelled set of queries.

    ./dev bench relevance [--json] [--show-all]

The set (`tests/catalog/relevance/queries.yaml`): everyday queries in Korean and English as
officials type them (words, sentences, particles, spacing, abbreviations, typos, 초성, synonyms,
questions), each with the 1–3 datasets that should answer it. The catalogue: the shipped
contracts plus the generated ones of `tests/catalog/relevance/extra_contracts.yaml` (realistic
public-data titles, many close to a shipped dataset). Prints the figures overall and per kind,
then the queries whose answers are not all in the top five. `tests/catalog/test_relevance.py`
holds the same figures to a floor.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from bench import REPO
from bench.report import table
from catalog.search import SearchIndex
from contracts.loader import load_contracts, parse_contract
from contracts.model import Contract
from sectors.registry import default_registry

SET_DIR = REPO / "tests" / "catalog" / "relevance"
QUERIES = SET_DIR / "queries.yaml"
EXTRA = SET_DIR / "extra_contracts.yaml"
Kind = Literal[
    "word",
    "sentence",
    "particle",
    "spacing",
    "abbreviation",
    "english",
    "typo",
    "chosung",
    "synonym",
    "question",
]


class Query(BaseModel):
    """One labelled query: what is typed, what should answer it, and how it is phrased."""

    q: str
    relevant: list[str] = Field(min_length=1, max_length=3)
    kind: Kind


class Extra(BaseModel):
    """A generated dataset: enough of a contract for search to see what it is about."""

    id: str
    sector: str
    agency: str
    title: str
    tags: list[str]
    purpose: str
    usage: str
    columns: list[tuple[str, str]]


class Scored(BaseModel):
    """A query's outcome: its top ten and the rank (1-based) of its first answer, if any."""

    query: Query
    top: list[str]
    first: int | None

    @property
    def reciprocal_rank(self) -> float:
        return 1 / self.first if self.first else 0.0

    @property
    def recall(self) -> float:
        return len(set(self.top[:5]) & set(self.query.relevant)) / len(self.query.relevant)


class Figures(BaseModel):
    """MRR@10 and recall@5 over some queries."""

    queries: int
    mrr10: float
    recall5: float


def queries(path: Path = QUERIES) -> list[Query]:
    """The labelled set."""
    return [Query.model_validate(q) for q in yaml.safe_load(path.read_text(encoding="utf-8"))]


def _odcs(extra: Extra) -> dict[str, object]:
    """The ODCS document of a generated dataset (what a steward would have written)."""
    agency = default_registry().agency(extra.agency)
    assert agency is not None, extra.agency
    return {
        "apiVersion": "v3.2.0",
        "kind": "DataContract",
        "id": extra.id,
        "name": extra.title,
        "version": "1.0.0",
        "status": "active",
        "tags": extra.tags,
        "description": {"purpose": extra.purpose, "usage": extra.usage},
        "team": {"name": agency.name, "members": [{"username": agency.contact}]},
        "customProperties": [
            {"property": "sector", "value": extra.sector},
            {"property": "agency", "value": extra.agency},
            {"property": "accessLevel", "value": "public"},
        ],
        "schema": [
            {
                "name": extra.id,
                "physicalType": "file",
                "properties": [
                    {"name": name, "physicalName": header, "logicalType": "string"}
                    for name, header in extra.columns
                ],
            }
        ],
    }


@cache
def extra_contracts(path: Path = EXTRA) -> tuple[Contract, ...]:
    """The generated datasets as contracts, parsed as any contract file is."""
    extras = [Extra.model_validate(e) for e in yaml.safe_load(path.read_text(encoding="utf-8"))]
    return tuple(
        parse_contract(yaml.safe_dump(_odcs(e), allow_unicode=True), path.with_name(e.id))
        for e in extras
    )


def catalogue() -> list[Contract]:
    """The shipped contracts and the generated ones."""
    return [*load_contracts(), *extra_contracts()]


def build_index() -> SearchIndex:
    """The search index the set is measured on."""
    return SearchIndex(catalogue(), default_registry())


def score(index: SearchIndex, query: Query) -> Scored:
    """A query's top ten and the rank of its first relevant dataset within them."""
    top = [m.dataset_id for m in index.search(query.q)[:10]]
    first = next((i + 1 for i, d in enumerate(top) if d in query.relevant), None)
    return Scored(query=query, top=top, first=first)


def figures(scored: Iterable[Scored]) -> Figures:
    """Mean reciprocal rank at 10 and mean recall at 5."""
    done = list(scored)
    n = len(done) or 1
    return Figures(
        queries=len(done),
        mrr10=sum(s.reciprocal_rank for s in done) / n,
        recall5=sum(s.recall for s in done) / n,
    )


def by_kind(scored: list[Scored]) -> dict[str, Figures]:
    """The figures per kind of phrasing, in the order kinds first appear in the set."""
    kinds = dict.fromkeys(s.query.kind for s in scored)
    return {k: figures(s for s in scored if s.query.kind == k) for k in kinds}


def measure(index: SearchIndex | None = None) -> list[Scored]:
    """Every query of the set scored on `index` (by default the catalogue's)."""
    index = index or build_index()
    return [score(index, q) for q in queries()]


def main(argv: list[str]) -> int:
    """Print MRR@10 and recall@5 overall and per kind, then the queries that miss."""
    parser = argparse.ArgumentParser(prog="bench relevance", description=__doc__)
    parser.add_argument("--json", action="store_true", help="figures as JSON")
    parser.add_argument("--show-all", action="store_true", help="every query, not only misses")
    args = parser.parse_args(argv)
    index = build_index()
    scored = measure(index)
    overall, kinds = figures(scored), by_kind(scored)
    if args.json:
        out = {
            "overall": overall.model_dump(),
            "kinds": {k: f.model_dump() for k, f in kinds.items()},
        }
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return 0
    print(f"catalogue: {index.size} datasets; set: {len(scored)} queries")
    rows = [[k, str(f.queries), f"{f.mrr10:.3f}", f"{f.recall5:.3f}"] for k, f in kinds.items()]
    rows.append(["all", str(overall.queries), f"{overall.mrr10:.3f}", f"{overall.recall5:.3f}"])
    print(table(["kind", "queries", "MRR@10", "recall@5"], rows))
    shown = [s for s in scored if args.show_all or s.recall < 1]
    if shown:
        which = "every query" if args.show_all else "queries with answers outside the top five"
        print(f"\n{which} (rank of the first answer; top three):")
    for s in shown:
        rank = str(s.first) if s.first else "-"
        print(f"  [{s.query.kind}] {s.query.q!r}: {rank}; {', '.join(s.top[:3]) or '(nothing)'}")
    return 0
