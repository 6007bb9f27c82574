"""A real OpenID provider on loopback (`oidc-provider-mock`, authlib's server under Flask) and the
test platform served with single sign-on through it.

The provider signs ID tokens with its own RSA key, serves discovery and JWKS, and lets a test
choose who signs in: its authorize form takes a `sub`, and `PUT /users/<sub>` sets that
person's claims. It does not enforce PKCE (its code grant has no code-challenge extension), so
`Pkce` wraps it with RFC 7636's check at the token endpoint, as production providers do.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import uvicorn
import werkzeug.serving

from api.app import SERVER_OPTIONS, create_app
from api.web.oidc import providers
from tests.api.world import World, build_platform, free_port

CLIENT_ID = "gongyu-test"
CLIENT_SECRET = "a-client-secret"

Environ = dict[str, Any]


class Pkce:
    """WSGI middleware: remembers each code's S256 challenge and refuses its exchange
    without the matching verifier (`invalid_grant`, as RFC 7636 §4.6 says)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.challenges: dict[str, str | None] = {}
        self.exchanges: list[dict[str, str]] = []  # every token request's form, for the tests

    def __call__(self, environ: Environ, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/token":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self.exchanges.append(form)
            challenge = self.challenges.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            if challenge is None or s256(verifier) != challenge:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant", "error_description": "PKCE"}']
            return self.app(environ, start_response)
        if path != "/oauth2/authorize":
            return self.app(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        method = query.get("code_challenge_method", [None])[0]
        challenge = query.get("code_challenge", [None])[0] if method == "S256" else None

        def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            for name, value in headers:
                if name.lower() == "location":
                    code = parse_qs(urlsplit(value).query).get("code", [None])[0]
                    if code:
                        self.challenges[code] = challenge
            return start_response(status, headers, *args)

        return self.app(environ, remember)


def s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Provider:
    """The provider's base URL (its issuer) and its PKCE check."""

    url: str
    pkce: Pkce

    def set_claims(self, sub: str, claims: dict[str, Any]) -> None:
        """The claims the provider vouches for when `sub` signs in."""
        answer = httpx.put(f"{self.url}/users/{sub}", json=claims)
        assert answer.status_code == 204, answer.text


class _Quiet(werkzeug.serving.WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log: the tests read what the provider saw from `Pkce`."""


@contextmanager
def provider() -> Iterator[Provider]:
    """The OpenID provider on a loopback port (nonce required), in a thread of its own."""
    app = oidc_provider_mock.app(require_nonce=True)
    pkce = Pkce(app.wsgi_app)
    app.wsgi_app = pkce  # type: ignore[method-assign]
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}", pkce)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def sso_world(root: Path, issuer: str) -> Iterator[World]:
    """The test platform with single sign-on through `issuer`, served where its public URL says
    (the provider sends browsers back there)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    platform = build_platform(
        root,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        public_url=url,
    )
    providers.clear()  # another module's provider may have had the same address
    config = uvicorn.Config(
        create_app(platform), host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield World(platform=platform, url=url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def flow_of(cookie: str) -> dict[str, Any]:
    """The sign-in a flow cookie holds (state, nonce, verifier, next, started)."""
    return json.loads(base64.urlsafe_b64decode(cookie.encode()))


def flow_cookie(flow: dict[str, Any]) -> str:
    """A flow cookie holding `flow` (to tamper with one)."""
    return base64.urlsafe_b64encode(json.dumps(flow).encode()).decode()
