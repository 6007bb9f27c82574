"""How a page goes out: the Jinja2 environment, its filters, and the HTML response in the
viewer's language (its security headers are the whole app's, `api.middleware.headers`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.deps import platform_of
from api.web.i18n import LANG_COOKIE, Lang, Translator, remembers_lang, requested_lang
from catalog.access.grants import KOREA
from catalog.access.sessions import Session
from sectors.registry import Registry

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
YEAR = 365 * 24 * 3600


def _static_version() -> str:
    """A digest of the shipped assets: their URLs change when they do, so no stale CSS."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


STATIC_VERSION = _static_version()


def _kst(moment: datetime | None) -> str:
    """A time in Korea's zone, to the minute (the catalog stores UTC)."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(KOREA).strftime("%Y-%m-%d %H:%M")


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:,}"


env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt name fails the page's test, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["kst"] = _kst
env.filters["num"] = _number
env.globals["static"] = lambda name: f"/static/{name}?v={STATIC_VERSION}"


class Names:
    """Sector and agency names in the page's language."""

    def __init__(self, registry: Registry, lang: Lang) -> None:
        self.registry = registry
        self.english = lang == Lang.en

    def of(self, thing: Any) -> str:
        """The name of anything with `name` and `name_en` (cards, registry entries)."""
        return thing.name_en if self.english else thing.name

    def agency(self, agency_id: str) -> str:
        """An agency's name; its id when the sectors file no longer has it."""
        found = self.registry.agency(agency_id)
        return self.of(found) if found else agency_id

    def sector(self, sector_id: str) -> str:
        """A sector's name; its id when unknown."""
        found = self.registry.sector(sector_id)
        return self.of(found) if found else sector_id


def _duration(t: Translator) -> Any:
    def duration(delta: timedelta | None) -> str:
        if delta is None:
            return "–"
        days, hours = delta.days, delta.seconds // 3600
        if days and hours:
            return t("duration.days_hours", days=days, hours=hours)
        return t("duration.days", days=days) if days else t("duration.hours", hours=hours)

    return duration


def _lang_href(request: Request) -> Any:
    def lang_href(lang: str) -> str:
        # Relative: a page links only to its own origin.
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return f"{request.url.path}?{urlencode([*params, ('lang', lang)])}"

    return lang_href


def is_https(request: Request) -> bool:
    """Whether the browser reached us over TLS (cookies are then marked Secure)."""
    return request.url.scheme == "https"


def page(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a template for the request's viewer and language."""
    lang, chosen = requested_lang(request)
    t = Translator(lang)
    html = env.get_template(template).render(
        t=t,
        lang=lang.value,
        names=Names(platform_of(request).registry, lang),
        duration=_duration(t),
        lang_href=_lang_href(request),
        path=request.url.path,
        viewer=session.principal if session else None,
        csrf=session.csrf_token if session else None,
        # A session waiting for its second factor reaches nothing but the enrolment: no menu.
        enrolling=bool(session and session.mfa_pending),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = lang.value
    if chosen and remembers_lang(request):
        response.set_cookie(
            LANG_COOKIE,
            lang.value,
            max_age=YEAR,
            httponly=True,
            samesite="lax",
            secure=is_https(request),
        )
    return response


def error_page(request: Request, session: Session | None, status: int, key: str) -> HTMLResponse:
    """The page that says why a page is not shown (message `key`)."""
    return page(request, "error.html", session=session, status=status, code=status, message=key)
