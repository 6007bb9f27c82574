"""The gate's words in Korean and English: message keys and their values, rendered per language.

A check carries a message key and values (`Phrase`), never only English: `quality/messages.yaml`
holds every key's Korean and English text (`str.format` fields), and `render` gives a check's
message and hint in either language. A value may itself be a `Phrase` (rendered in the same
language) or a list of them (joined with "; "). A check made without a key keeps its English.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from gongyu.ground.yamlfile import safe_load

if TYPE_CHECKING:
    from quality.results import CheckResult

MESSAGES = Path(__file__).with_name("messages.yaml")
SHOWN = 5  # names a message lists before "and N more"
Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")


class Phrase(BaseModel):
    """Words by message key, with the values its text is filled with."""

    model_config = ConfigDict(frozen=True)

    key: str
    params: dict[str, Param] = Field(default_factory=dict)

    @classmethod
    def of(cls, key: str, **params: Param) -> Phrase:
        """`Phrase.of("rows.null", lab="측정소명")`."""
        return cls(key=key, params=params)


Param = str | int | float | Phrase | list[Phrase] | None
Phrase.model_rebuild()


def listed(names: list[str], shown: int = SHOWN) -> Phrase:
    """A few names, then how many more: a report never lists ninety columns."""
    head = ", ".join(names[:shown])
    if len(names) <= shown:
        return Phrase.of("list.all", names=head)
    return Phrase.of("list.some", names=head, more=len(names) - shown)


def fields(text: str) -> set[str]:
    """The `str.format` field names a text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Words(BaseModel):
    """One message in both languages; `*_one` when the `count` value is 1 (English grammar, or a
    Korean sentence that names the single row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)
    ko_one: str | None = None
    en_one: str | None = None

    @model_validator(mode="after")
    def _same_fields(self) -> Words:
        if fields(self.ko) != fields(self.en):
            raise ValueError(f"ko and en use different fields: {self.ko!r} / {self.en!r}")
        ko_one, en_one = self.ko_one or self.ko, self.en_one or self.en
        if fields(ko_one) != fields(en_one):
            raise ValueError(f"ko_one and en_one use different fields: {ko_one!r} / {en_one!r}")
        return self

    def text(self, lang: Lang, one: bool) -> str:
        """The text in `lang`, its single-row form when `one`."""
        chosen = getattr(self, f"{lang}_one") if one else None
        return chosen or getattr(self, lang)


class Catalogue(RootModel[dict[str, Words]]):
    """Every message of the gate, by key."""


@cache
def catalogue() -> dict[str, Words]:
    """The shipped catalogue (read once)."""
    data = safe_load(MESSAGES.read_text(encoding="utf-8"))
    return Catalogue.model_validate(data).root


def _value(value: Param, lang: Lang) -> object:
    if isinstance(value, Phrase):
        return say(value, lang)
    if isinstance(value, list):
        return "; ".join(say(p, lang) for p in value)
    return "" if value is None else value


def say(phrase: Phrase, lang: Lang) -> str:
    """A phrase in `lang`; raises KeyError for an unknown key or a missing value."""
    words = catalogue()[phrase.key]
    text = words.text(lang, phrase.params.get("count") == 1)
    return text.format_map({k: _value(v, lang) for k, v in phrase.params.items()})


def render(result: CheckResult, lang: Lang) -> tuple[str, str]:
    """A check's message and hint in `lang`; its stored English where it has no key (or, after
    a catalogue change, a key or value is missing)."""
    message, hint = result.message, result.hint
    try:
        if result.key:
            message = say(result.phrase(result.key), lang)
        if result.hint_key:
            hint = say(result.phrase(result.hint_key), lang)
    except (KeyError, IndexError, ValueError):
        return result.message, result.hint
    return message, hint


def both(result: CheckResult) -> dict[str, dict[str, str]]:
    """A check's message and hint in every language, for the JSON report."""
    said = {lang: render(result, lang) for lang in LANGS}
    return {lang: {"message": m, "hint": h} for lang, (m, h) in said.items()}
