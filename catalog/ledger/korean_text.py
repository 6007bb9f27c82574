"""Korean-aware terms for comparing what agencies write: Kiwi's morphological analysis, with
character bigrams as a fallback.

Kiwi (`kiwipiepy`) splits "모델을 개발했습니다" into 모델/NNG 을/JKO 개발/NNG
하/XSV 었/EP 습니다/EF; the terms kept are nouns, roots, foreign words and the stems of verbs
and adjectives ("낮다"); particles, endings and suffixes are dropped, so "예측 모델을" and
"예측모델로" share their terms. Nouns written together also make a compound term ("미세먼지"
→ 미세, 먼지 and 미세먼지): its parts match a spaced spelling, the compound a joined one.
Character bigrams of each word catch what the analyser splits oddly (new words, typos).
Kiwi is the process's one analyser (`catalog.kiwi`, shared with catalog search): its model comes
from the `kiwipiepy_model` package, nothing is downloaded, and it loads once per process.
"""

from __future__ import annotations

import re
from functools import lru_cache

from catalog.kiwi import kiwi, tokenize

__all__ = ["bigrams", "kiwi", "name_terms", "terms"]

# Kiwi's tags (Sejong's, with -R/-I variants for regular and irregular verbs): what counts.
NOUNS = ("NNG", "NNP")
KEPT = (*NOUNS, "XR", "SL", "SH")
STEMS = ("VV", "VA")
# Words every project description uses: they say nothing about what a project does.
STOP = frozenset(
    {
        "하다", "되다", "있다", "없다", "같다", "않다", "위하다", "통하다", "대하다", "따르다",
        "이다", "보다", "받다", "주다", "가다", "오다", "만들다", "나다", "등", "및", "것", "수",
        "때", "중", "위", "다음", "내", "간", "후", "전", "년", "월", "일", "개", "건", "약",
        "활용",
    }
)  # fmt: skip
WORD = re.compile(r"[0-9A-Za-z\uac00-\ud7a3]+")


def _stem(form: str, tag: str) -> str | None:
    """The term a token stands for, or None when it carries no meaning of its own."""
    base = tag.split("-", 1)[0]
    if base in KEPT:
        term = form.lower()
    elif base in STEMS:
        term = f"{form}다"
    else:
        return None
    return None if term in STOP or (len(term) == 1 and base != "SH") else term


@lru_cache(maxsize=16384)
def terms(text: str) -> tuple[str, ...]:
    """The text's content terms in order, with compounds of adjacent nouns; cached per text."""
    if not text.strip():
        return ()
    tokens = tokenize(text)
    found: list[str] = []
    previous = None  # the previous noun token, while nouns run on without a gap
    for token in tokens:
        term = _stem(token.form, token.tag)
        if term is not None:
            found.append(term)
        noun = token.tag in NOUNS
        if noun and previous is not None and previous.start + previous.len == token.start:
            found.append(previous.form + token.form)
        previous = token if noun else None
    return tuple(found)


@lru_cache(maxsize=16384)
def bigrams(text: str) -> tuple[str, ...]:
    """Character bigrams of each word (a one-letter word stands as itself), lower-cased."""
    found: list[str] = []
    for word in WORD.findall(text.lower()):
        found += [word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)]
    return tuple(found)


@lru_cache(maxsize=16384)
def name_terms(name: str) -> tuple[str, ...]:
    """A column or field name's terms: snake_case and camelCase parts, and Korean terms."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    found = [w.lower() for w in WORD.findall(spaced) if not re.search(r"[\uac00-\ud7a3]", w)]
    hangul = " ".join(w for w in WORD.findall(spaced) if re.search(r"[\uac00-\ud7a3]", w))
    return (*found, *terms(hangul)) if hangul else tuple(found)
