"""The pages' words in Korean and English: one message catalogue, a language per request.

Korean is the default; `?lang=en` (or `ko`) on any page switches, and is remembered in a cookie
when the browser says the request came from our own pages or the viewer's own address bar
(`Sec-Fetch-Site`): another site's link may show a page in a language, never change the
viewer's choice. Dataset titles and descriptions are shown as their contracts write them.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, RootModel

from gongyu.ground.yamlfile import safe_load

MESSAGES = Path(__file__).with_name("messages.yaml")
LANG_COOKIE = "gongyu_lang"
# Fetch metadata of a request this site made, or the viewer typed or bookmarked.
OWN_REQUESTS = frozenset({"same-origin", "none"})


class Lang(StrEnum):
    """A language the pages are written in."""

    ko = "ko"
    en = "en"


class Message(BaseModel):
    """One label in both languages (`str.format` fields where it takes values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Catalogue(RootModel[dict[str, Message]]):
    """Every label of the pages, by key."""


@cache
def catalogue() -> dict[str, Message]:
    """The shipped message catalogue (read once)."""
    data = safe_load(MESSAGES.read_text(encoding="utf-8"))
    return Catalogue.model_validate(data).root


class Translator:
    """`t(key, **values)`: a label in one language; an unknown key is a bug (KeyError)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.messages = catalogue()

    def __call__(self, key: str, **values: object) -> str:
        text: str = getattr(self.messages[key], self.lang.value)
        return text.format(**values) if values else text

    def get(self, key: str, default: str) -> str:
        """The label for a key that may have none (e.g. a field name from the service)."""
        return self(key) if key in self.messages else default


def requested_lang(request: Request) -> tuple[Lang, bool]:
    """The request's language and whether it was chosen now (`?lang=`), to be remembered."""
    for value, chosen in (
        (request.query_params.get("lang"), True),
        (request.cookies.get(LANG_COOKIE), False),
    ):
        if value in Lang.__members__:
            return Lang(value), chosen
    return Lang.ko, False


def remembers_lang(request: Request) -> bool:
    """Whether a language chosen in this request may be kept in the cookie: only when the
    browser vouches that no other site sent it (without the header, nothing is remembered)."""
    return request.headers.get("sec-fetch-site") in OWN_REQUESTS
