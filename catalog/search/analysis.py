"""Terms of indexed text (Hangul bigrams, Latin words) and the analysis of query words.

Korean compounds carry no spaces (미세먼지농도) and no offline tokenizer splits them reliably;
SQLite FTS5's trigram tokenizer cannot answer the 1–2-syllable queries people type (먼지, 대기,
음주) from its index. So indexed text becomes:

- normalised text (NFKC, case folded);
- a run of Hangul syllables (spaces inside it dropped: Korean spacing varies) becomes its
  overlapping bigrams, then its last syllable; a Hangul query word becomes the phrase of its
  bigrams (consecutive bigrams match exactly where the word occurs inside the text), a single
  syllable the start of a term;
- Latin letters and digits stay whole words (ids split at `_`); a typed query word matches as a
  word's prefix ("air qual"), a synonym as a whole word.

A query word is analysed with Kiwi (`catalog.kiwi`): trailing particles and endings are dropped
(미세먼지가 → 미세먼지, 교통사고는 → 교통사고) and a word that is only a predicate (심했던 →
심하) is marked optional: it describes, it does not name what is sought.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from catalog.kiwi import tokenize

_HANGUL = "\uac00-\ud7a3"
TERMS = re.compile(rf"(?P<hangul>[{_HANGUL}]+(?:\s+[{_HANGUL}]+)*)|(?P<word>[^\W_{_HANGUL}]+)")
WORDS = re.compile(rf"(?P<hangul>[{_HANGUL}]+)|(?P<word>[^\W_{_HANGUL}]+)")
SPACE = re.compile(r"\s+")
# Kiwi's tags (Sejong's) of what may end a word without meaning of its own: particles (J*),
# endings (E*), the copula, auxiliary predicates and predicate-making suffixes.
_FUNCTION = ("J", "E", "VCP", "VCN", "VX", "XSV", "XSA")
_PREDICATE = ("VV", "VA")


def normalise(text: str) -> str:
    """Text as it is indexed and searched: NFKC (full-width forms, ㎍), case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _hangul_terms(run: str) -> list[str]:
    syllables = SPACE.sub("", run)
    return [syllables[i : i + 2] for i in range(len(syllables) - 1)] + [syllables[-1]]


def terms(text: str) -> str:
    """The indexed terms of a text, space-separated in text order (what FTS5 stores)."""
    out: list[str] = []
    for match in TERMS.finditer(normalise(text)):
        if match.group("hangul"):
            out += _hangul_terms(match.group("hangul"))
        else:
            out.append(match.group("word"))
    return " ".join(out)


@lru_cache(maxsize=65536)
def searchable(text: str) -> str:
    """A text normalised with the spaces between Hangul syllables dropped (what words are
    looked for in, to name matched fields and columns)."""
    return TERMS.sub(
        lambda m: SPACE.sub("", m.group(0)) if m.group("hangul") else m.group(0), normalise(text)
    )


@dataclass(frozen=True)
class QueryWord:
    """One word to find: Hangul (matched inside text) or a Latin/digit word (as a prefix when
    typed, whole when it comes from a synonym or a correction)."""

    text: str
    hangul: bool
    prefix: bool = True

    def fts(self) -> str:
        """This word as an FTS5 expression; words hold only letters and digits, so quoting
        them cannot break out of the phrase."""
        if self.hangul and len(self.text) > 1:
            pairs = [self.text[i : i + 2] for i in range(len(self.text) - 1)]
            return '"' + " ".join(pairs) + '"'
        return f'"{self.text}"*' if self.hangul or self.prefix else f'"{self.text}"'

    def found_in(self, form: str) -> bool:
        """True when the word occurs in a searchable form (see `searchable`)."""
        if self.hangul:
            return self.text in form
        return self.text in form and _latin(self.text, self.prefix).search(form) is not None


@lru_cache(maxsize=4096)
def _latin(word: str, prefix: bool) -> re.Pattern[str]:
    """A Latin word at a word's start (and, unless a prefix, its end)."""
    end = "" if prefix else r"(?![^\W_])"
    return re.compile(rf"(?<![^\W_]){re.escape(word)}{end}")


def query_words(query: str, *, prefix: bool = True) -> list[QueryWord]:
    """The words of a query: split at spaces and scripts (each is its own word)."""
    return [
        QueryWord(m.group(0), hangul=m.group("hangul") is not None, prefix=prefix)
        for m in WORDS.finditer(normalise(query))
    ]


def phrase_words(text: str) -> list[QueryWord]:
    """A multi-word term's words, Hangul runs joined (공동 상품 → 공동상품), Latin ones whole."""
    return [
        QueryWord(SPACE.sub("", m.group(0)), hangul=True)
        if m.group("hangul")
        else QueryWord(m.group(0), hangul=False, prefix=False)
        for m in TERMS.finditer(normalise(text))
    ]


class Role(Enum):
    """What a query word does: names what is sought (required) or describes it (optional)."""

    required = "required"
    optional = "optional"


@lru_cache(maxsize=16384)
def analyse(word: str) -> tuple[str, Role]:
    """A Hangul query word without its trailing particles and endings, and its role: a word
    made of a predicate only (심했던) is optional and stands as its stem (심하)."""
    tokens = tokenize(word)
    end = len(tokens)
    while end > 1 and tokens[end - 1].tag.split("-")[0].startswith(_FUNCTION):
        end -= 1
    kept = tokens[:end]
    if all(t.tag.split("-")[0] in _PREDICATE for t in kept):
        return kept[0].form, Role.optional
    if end < len(tokens):
        cut = tokens[end].start
        return (word[:cut] or word), Role.required
    return word, Role.required
