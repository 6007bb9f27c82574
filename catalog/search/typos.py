"""Typo correction against the index's vocabulary: edit distance over jamo for Hangul (미세먼저
→ 미세먼지 is one jamo away), over letters for Latin words (dsut → dust), with `rapidfuzz`."""

from __future__ import annotations

from rapidfuzz import process
from rapidfuzz.distance import OSA

_FIRST, _LAST = 0xAC00, 0xD7A3


def jamo(word: str) -> str:
    """Hangul syllables split into their jamo (initial, vowel, final), as private characters
    per position so an initial ㅇ and a final ㅇ differ; other characters stay."""
    out: list[str] = []
    for c in word:
        code = ord(c) - _FIRST
        if 0 <= code <= _LAST - _FIRST:
            out.append(chr(0xE000 + code // 588))
            out.append(chr(0xE100 + code % 588 // 28))
            if code % 28:
                out.append(chr(0xE200 + code % 28))
        else:
            out.append(c)
    return "".join(out)


def allowed(word: str) -> int:
    """The edits a word may carry: none under 3 syllables or 4 letters (such words have too
    many real neighbours: 먼저, 먼지), one up to 12 jamo or letters, then one more per 6."""
    hangul = any(_FIRST <= ord(c) <= _LAST for c in word)
    if len(word) < (3 if hangul else 4):
        return 0
    size = len(jamo(word))
    return 1 if size <= 12 else 1 + (size - 7) // 6


class Corrector:
    """The closest vocabulary word to a misspelt one (the vocabulary: words with counts)."""

    def __init__(self, vocabulary: dict[str, int]) -> None:
        self.vocabulary = vocabulary
        self._keys: dict[str, str] | None = None

    def invalidate(self) -> None:
        """Forget the jamo forms (the vocabulary changed)."""
        self._keys = None

    def correct(self, word: str) -> str | None:
        """The vocabulary word fewest edits away (ties: the most common), or None."""
        limit = allowed(word)
        if not limit or word in self.vocabulary:
            return None
        if self._keys is None:
            self._keys = {w: jamo(w) for w in self.vocabulary}
        found = process.extract(
            jamo(word),
            self._keys,
            scorer=OSA.distance,
            score_cutoff=limit,
            limit=20,
        )
        if not found:
            return None
        best = min(found, key=lambda f: (f[1], -self.vocabulary[f[2]], f[2]))
        return best[2]
