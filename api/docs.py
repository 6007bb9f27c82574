"""`/docs` and `/redoc`: the API's Swagger UI and ReDoc, from the files `fastapi-offline` ships
(no CDN, no web fonts), under the app's content security policy plus exactly one exception: a
page's own inline script (Swagger UI's configuration, written by FastAPI from the app's
settings), admitted by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from api.middleware.headers import POLICY

# Where `FastAPIOffline` mounts the Swagger UI files it ships.
ASSETS = "/static-offline-docs"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def policy_for(html: bytes) -> str:
    """The app's policy, with the page's own inline scripts admitted by their SHA-256."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(html)
    ]
    return POLICY.replace("script-src 'self'", " ".join(["script-src 'self'", *hashes]))


def mount(app: FastAPI) -> None:
    """Add `/docs` and `/redoc` to the app (made with `FastAPIOffline(docs_url=None,
    redoc_url=None)`)."""

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=None,  # the API's schemes are keys and tokens, no OAuth2 flow
        )
        page.headers["Content-Security-Policy"] = policy_for(bytes(page.body))
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = policy_for(bytes(page.body))
        return page
