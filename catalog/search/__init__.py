"""Catalog search in Korean and English: partial words without spaces, particles and endings
dropped, synonyms across languages, 초성, typos corrected; ranked by BM25.

- `analysis`: indexed terms (Hangul bigrams, Latin words) and Kiwi's analysis of query words;
- `synonyms` (+ `synonyms.yaml`, versioned): curated groups (미세먼지 ↔ PM10 ↔ fine dust,
  agencies' names and abbreviations) and stopwords (데이터, 알려줘), expanded at query time;
- `chosung`: ㅁㅅㅁㅈ finds 미세먼지; `typos`: 미세먼저 finds 미세먼지 (jamo edit distance);
- `index`: the FTS5 index, updated per contract, and the query plan: each content word must
  match through any of its forms (the word, its synonyms), a predicate (심했던) is optional,
  stopwords are dropped; BM25 ranks with field weights title > tags > columns > description >
  publisher, and a joint product never ranks above a matching dataset it reads.
"""

from catalog.search.analysis import QueryWord, normalise, query_words, terms
from catalog.search.index import (
    FIELDS,
    WEIGHTS,
    Document,
    Match,
    Plan,
    SearchIndex,
    document,
    sources_first,
)

__all__ = [
    "FIELDS",
    "WEIGHTS",
    "Document",
    "Match",
    "Plan",
    "QueryWord",
    "SearchIndex",
    "document",
    "normalise",
    "query_words",
    "sources_first",
    "terms",
]
