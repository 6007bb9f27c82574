"""`/admin/settings`: every setting in force, its environment variable and its value, with
secrets never shown: a secret reads only as set or not set, and a URL's password is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from api.admin.guard import Operator
from api.web.render import page
from gongyu.ground.settings import Settings

router = APIRouter()
# A setting whose name holds one of these is a secret, unless it names a file (a path is not).
SECRET_WORDS = ("secret", "password", "key", "credential")
HIDDEN = "hidden"


@dataclass(frozen=True)
class Shown:
    """One setting as the page shows it: `value` is None for a secret, `hidden` says whether
    that secret is set."""

    name: str
    env: str
    value: str | None
    hidden: str | None  # "set", "unset", or None when the value is shown
    default: bool


def is_secret(name: str, value: object) -> bool:
    """Whether a setting is a secret: typed as one, or so named and not a file's path."""
    if isinstance(value, SecretStr):
        return True
    if isinstance(value, Path) or name.endswith(("_file", "_dir")):
        return False
    return any(word in name for word in SECRET_WORDS)


def without_password(text: str) -> str:
    """A URL with any password in it replaced by `***` (a database URL included)."""
    try:
        url = make_url(text)
    except ArgumentError:
        url = None
    if url is not None and url.password is not None:
        return url.render_as_string(hide_password=True)
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return without_password(str(value))


def shown(settings: Settings) -> list[Shown]:
    """Every declared setting as the page shows it, in declaration order."""
    out = []
    prefix = str(settings.model_config.get("env_prefix", ""))
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        secret = is_secret(name, value)
        hidden = ("set" if value else "unset") if secret else None
        out.append(
            Shown(
                name=name,
                env=(prefix + name).upper(),
                value=None if secret else _text(value),
                hidden=hidden,
                default=name not in settings.model_fields_set,
            )
        )
    return out


@router.get("/settings", response_class=HTMLResponse)
def settings_page(console: Operator) -> HTMLResponse:
    """The settings in force; secrets only as set or not set."""
    rows = shown(console.platform.settings)
    console.record(rows=len(rows))
    return page(
        console.request, "admin/settings.html", session=console.session, settings=rows, wide=True
    )
