"""What the search page draws besides the hits' summaries: the query's words marked in the columns
they matched, the facets' links and the filters in use, each link keeping the rest of the query.

Marks are (text, is_match) segments: the template escapes every segment and wraps the matches in
<mark>, so no text a person or a contract wrote is ever marked safe."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from catalog.entries import DatasetSummary, SearchFilters, SearchHit
from catalog.search import Plan, QueryWord, normalise

Segment = tuple[str, bool]
Params = Sequence[tuple[str, str]]
FACETS = ("sector", "agency", "access", "kind")
# Filters the page can hold, in the order their "remove" chips are shown.
FILTERS = (*FACETS, "freshness", "tag")
SHOWN_OPTIONS = 8  # per facet; the rest fold under "more"


def marked_words(plan: Plan) -> list[QueryWord]:
    """What the index looked for (the typed words as corrected, without particles and
    stopwords, and their synonyms), longest first: a longer word's mark wins where two overlap.
    A lone syllable (년 of 2022년) is marked only when the query has nothing longer."""
    found = {w for group in plan.groups for form in group.forms for w in form if w.text}
    longer = {w for w in found if not w.hangul or len(w.text) > 1}
    return sorted(longer or found, key=lambda w: (-len(w.text), w.text))


def _pattern(word: QueryWord) -> str:
    """Where a word matches, as the index finds it: Hangul anywhere, other words at a word's
    start (and, unless typed, whole)."""
    escaped = re.escape(word.text)
    if word.hangul:
        return escaped
    return rf"(?<![^\W_]){escaped}" + ("" if word.prefix else r"(?![^\W_])")


def segments(text: str | None, words: Sequence[QueryWord]) -> list[Segment]:
    """`text` cut into runs that do and do not hold one of `words` (normalised as indexed)."""
    if not text:
        return []
    # Fold each character on its own so every folded character points back to its source.
    folded, source = "", []
    for i, char in enumerate(text):
        part = normalise(char)
        folded += part
        source += [i] * len(part)
    marked = [False] * len(text)
    for word in words:
        for found in re.finditer(_pattern(word), folded):
            for k in range(found.start(), found.end()):
                marked[source[k]] = True
    runs: list[Segment] = []
    for char, mark in zip(text, marked, strict=True):
        if runs and runs[-1][1] == mark:
            runs[-1] = (runs[-1][0] + char, mark)
        else:
            runs.append((char, mark))
    return runs


@dataclass(frozen=True)
class ColumnView:
    """A matched column, each text as segments."""

    name: list[Segment]
    title: list[Segment]
    description: list[Segment]
    type: str


@dataclass(frozen=True)
class HitView:
    """A hit as the page draws it: the summary, its matched columns and a console link."""

    dataset: DatasetSummary
    matched: list[str]
    columns: list[ColumnView]
    console: str | None


def hit_view(hit: SearchHit, words: Sequence[QueryWord], console: str | None) -> HitView:
    """A hit with the query's words marked in its matched columns."""
    columns = [
        ColumnView(
            name=segments(c.name, words),
            title=segments(c.title, words),
            description=segments(c.description, words),
            type=c.type,
        )
        for c in hit.columns
    ]
    return HitView(hit.dataset, hit.matched, columns, console)


def search_href(path: str, params: Params, drop: Sequence[str] = (), **put: str) -> str:
    """`path` with the page's parameters less `drop` and the page number, plus `put`."""
    gone = {"page", *drop, *put}
    kept = [(k, v) for k, v in params if k not in gone]
    return f"{path}?{urlencode([*kept, *put.items()])}"


@dataclass(frozen=True)
class FacetOption:
    """One value of a facet: how many matches carry it, and the link that filters by it (or,
    when it is the filter in use, the link that removes it)."""

    value: str
    count: int
    href: str
    active: bool


@dataclass(frozen=True)
class Facet:
    """A facet (sector, agency, access, kind), its values most frequent first."""

    key: str
    options: list[FacetOption]

    @property
    def shown(self) -> list[FacetOption]:
        """The values shown at once."""
        return self.options[:SHOWN_OPTIONS]

    @property
    def more(self) -> list[FacetOption]:
        """The values folded under "more"."""
        return self.options[SHOWN_OPTIONS:]


@dataclass(frozen=True)
class ActiveFilter:
    """A filter in use, and the link without it."""

    key: str
    value: str
    remove: str


def facets(
    path: str, params: Params, counts: dict[str, dict[str, int]], filters: SearchFilters
) -> list[Facet]:
    """The facets with matches, each value linking to the search narrowed by it."""
    chosen = filters.model_dump(mode="json")
    made = []
    for key in FACETS:
        values = sorted(counts.get(key, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        options = [
            FacetOption(
                value=value,
                count=count,
                href=search_href(path, params, drop=[key])
                if chosen.get(key) == value
                else search_href(path, params, **{key: value}),
                active=chosen.get(key) == value,
            )
            for value, count in values
            if count > 0
        ]
        if options:
            made.append(Facet(key, options))
    return made


def active_filters(path: str, params: Params, filters: SearchFilters) -> list[ActiveFilter]:
    """The filters in use, each with the link that removes it."""
    chosen = filters.model_dump(mode="json")
    return [
        ActiveFilter(key, chosen[key], search_href(path, params, drop=[key]))
        for key in FILTERS
        if chosen.get(key) is not None
    ]
