"""초성 (initial consonant) search: ㅁㅅㅁㅈ finds 미세먼지 by its syllables' first consonants."""

from __future__ import annotations

import re

_FIRST, _LAST = 0xAC00, 0xD7A3
# The 19 initial consonants, in Unicode's syllable order, as compatibility jamo (what a keyboard
# types: ㄱ U+3131).
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_ONLY_INITIALS = re.compile(r"[ㄱ-ㅎ\u1100-\u1112]+")
# NFKC (which queries go through) turns compatibility jamo into conjoining initials (U+1100…):
# both spell the same consonants.
_CONJOINING = str.maketrans({chr(0x1100 + i): c for i, c in enumerate(INITIALS)})


def is_chosung(word: str) -> bool:
    """True when a query word is made of Hangul consonant jamo only (ㅁㅅㅁㅈ)."""
    return _ONLY_INITIALS.fullmatch(word) is not None


def consonants(word: str) -> str:
    """A 초성 word in compatibility jamo, however it was normalised."""
    return word.translate(_CONJOINING)


def initials(word: str) -> str:
    """Each Hangul syllable's initial consonant (other characters dropped): 미세먼지 → ㅁㅅㅁㅈ."""
    return "".join(INITIALS[(ord(c) - _FIRST) // 588] for c in word if _FIRST <= ord(c) <= _LAST)


def expand(query: str, vocabulary: dict[str, int], limit: int = 8) -> list[str]:
    """The vocabulary's Hangul words whose initials hold the query's, best first: the whole
    initials, then their start, then anywhere inside; among those, the most common words."""
    query = consonants(query)
    found: list[tuple[int, int, str]] = []
    for word, count in vocabulary.items():
        spelled = initials(word)
        if len(spelled) != len(word) or query not in spelled:
            continue
        rank = 0 if spelled == query else 1 if spelled.startswith(query) else 2
        found.append((rank, -count, word))
    return [w for _, _, w in sorted(found)[:limit]]
