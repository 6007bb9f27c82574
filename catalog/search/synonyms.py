"""The curated synonyms and stopwords of `synonyms.yaml` (versioned), looked up by normalised
term: a group's words find each other, in Korean, English and abbreviations."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from pydantic import BaseModel, Field, PrivateAttr

from catalog.search.analysis import WORDS, normalise
from gongyu.ground.yamlfile import safe_load


def key(text: str) -> str:
    """A term as it is looked up: its normalised words joined by one space (PM2.5 → pm2 5)."""
    return " ".join(m.group(0) for m in WORDS.finditer(normalise(text)))


class Synonyms(BaseModel):
    """The synonym groups and stopwords, by version."""

    version: int
    stopwords: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    groups: list[list[str]]
    _by_key: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    _stop: frozenset[str] = PrivateAttr(default=frozenset())
    _longest: int = PrivateAttr(default=1)

    def model_post_init(self, _: object) -> None:
        for group in self.groups:
            for term in group:
                known = self._by_key.get(key(term), ())
                self._by_key[key(term)] = (*known, *(t for t in group if t not in known))
        self._stop = frozenset(key(w) for w in self.stopwords)
        self._longest = max((k.count(" ") + 1 for k in self._by_key), default=1)

    @property
    def longest(self) -> int:
        """The most words a term has (how far a query looks ahead for a phrase)."""
        return self._longest

    def of(self, term: str) -> tuple[str, ...]:
        """A term's group (itself included), or () when it has none."""
        return self._by_key.get(key(term), ())

    def stop(self, term: str) -> bool:
        """True when a term says nothing about which dataset is wanted."""
        return key(term) in self._stop

    def place(self, term: str) -> str | None:
        """The place a query term names (서울시 → 서울), or None."""
        return next((p for p in self.places if normalise(term).startswith(p)), None)

    def words(self) -> set[str]:
        """Every normalised word of every group's terms (typos are corrected to them too)."""
        return {w for g in self.groups for t in g for w in key(t).split(" ") if len(w) > 1}


@cache
def synonyms() -> Synonyms:
    """The shipped synonyms (read once)."""
    text = files("catalog.search").joinpath("synonyms.yaml").read_text(encoding="utf-8")
    return Synonyms.model_validate(safe_load(text))
