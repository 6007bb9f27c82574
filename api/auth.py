"""Who is calling: an API key or a signed bearer token (JWT), turned into a `Principal`.

Credentials come as `Authorization: Bearer <token or API key>` or `X-API-Key: <API key>`, or,
from the web pages' own scripts, as the session cookie (`gongyu_session`), which on any request
but GET/HEAD/OPTIONS must come with the session's CSRF token in `X-CSRF-Token` (else 403
`csrf`). Any credential failure is a 401 whose body is exactly `{"detail": "invalid"}`: a caller
learns nothing of why. Too many failures in a minute from one address, or naming one key id or
token subject, and the further failures get 429 with `Retry-After` and the same body; a valid
credential is always accepted (`api.ratelimit`).
Tokens are checked against the settings (`GONGYU_TOKEN_*`), so an existing OIDC provider can
issue them: signature, `iss`, `aud` when configured, `exp`, and Gongyu's `agency` and `role`;
every claim read must have its JSON type and a sane range, or the token is refused like any.
"""

from __future__ import annotations

import hmac
import json
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StrictStr, ValidationError

from api.deps import platform_of, sessions_of
from api.ratelimit import RATE_LIMITED, record_failure
from api.scopes import required_scope
from catalog.access.keys import PREFIX, TOKEN
from catalog.access.principal import Principal, Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from sectors.registry import Registry

log = logging.getLogger(__name__)

# Clock skew tolerated between the token issuer and this server.
LEEWAY = timedelta(seconds=30)
MAX_PURPOSE_CHARS = 500
SESSION_COOKIE = "gongyu_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The last second of year 9999: a later time is no date Python (or a session) can hold.
MAX_TIMESTAMP = 253_402_300_799
MAX_SUBJECT_CHARS = 256


class Refusal(BaseModel):
    """An authentication refusal: the same body whatever the reason."""

    detail: Literal["invalid"]


# The answers of `current_principal` besides the route's own: the OpenAPI `responses` of every
# router whose routes authenticate (a dependency cannot document them itself).
AUTH_FAILURES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Refusal,
        "description": "Missing or invalid credentials.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "example": "Bearer"}}},
    },
    429: {"model": Refusal, **RATE_LIMITED},
}


# A JSON number of seconds (RFC 7519's NumericDate may have a fraction), never text or a bool.
Timestamp = Annotated[float, Field(strict=True, ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False)]


class TokenClaims(BaseModel):
    """The claims Gongyu reads from a verified token, each strictly of its JSON type and in
    range: `"exp": "4000000000"` or `1e30` is a bad token, not a number to coerce."""

    sub: StrictStr = Field(min_length=1, max_length=MAX_SUBJECT_CHARS)
    agency: StrictStr
    role: Role
    exp: Timestamp
    nbf: Timestamp | None = None
    iat: Timestamp | None = None


@dataclass(frozen=True)
class Authenticated:
    """A verified credential: whom it stands for and, for a token, when it expires (a session
    made from it may not outlive it)."""

    principal: Principal
    expires_at: datetime | None = None


class Refused(Exception):
    """A credential that failed; `retry_after` is set when it is one failure too many."""

    def __init__(self, retry_after: int | None) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class KeyFile:
    """A token issuer's public keys as read from `GONGYU_TOKEN_KEY_FILE`."""

    pem_key: Any | None = None
    jwks: jwt.PyJWKSet | None = None

    def key_for(self, token: str) -> Any | None:
        """The key that must have signed this token: the PEM key, or the JWKS key its `kid`
        names (the only key when the set holds one and the token names none)."""
        if self.jwks is None:
            return self.pem_key
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            return self.jwks.keys[0] if len(self.jwks.keys) == 1 else None
        return next((k for k in self.jwks.keys if k.key_id == kid), None)


@lru_cache(maxsize=4)
def _read_key_file(path: Path, mtime_ns: int, size: int) -> KeyFile:
    """Parse a PEM public key or certificate, or a JWKS (cached per file version)."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        # A key file holds public keys only: a symmetric (`oct`) key there would let anyone
        # who can read the file sign tokens.
        found = [k for k in json.loads(data)["keys"] if k.get("kty") != "oct"]
        return KeyFile(jwks=jwt.PyJWKSet(found))
    if b"BEGIN CERTIFICATE" in data:
        return KeyFile(pem_key=x509.load_pem_x509_certificate(data).public_key())
    return KeyFile(pem_key=load_pem_public_key(data))


def key_file(path: Path) -> KeyFile:
    """The keys in the file as it is now: an issuer's key rotation needs no restart."""
    stat = path.stat()
    return _read_key_file(path, stat.st_mtime_ns, stat.st_size)


def signing_key(settings: Settings, token: str) -> tuple[Any, list[str]] | None:
    """The key that must have signed the token and the algorithms accepted with it; None when
    bearer tokens are off or no configured key fits."""
    if settings.token_secret:
        return settings.token_secret.get_secret_value(), settings.token_algorithms or ["HS256"]
    if not settings.token_key_file:
        return None
    try:
        keys = key_file(settings.token_key_file)
    except (OSError, ValueError, KeyError, TypeError, jwt.PyJWTError) as exc:
        log.error("bearer tokens refused: cannot read %s: %s", settings.token_key_file, exc)
        return None
    try:
        key = keys.key_for(token)
    except jwt.PyJWTError:  # not even a token's header
        return None
    return None if key is None else (key, settings.token_algorithms or ["RS256"])


def verify_token(settings: Settings, registry: Registry, token: str) -> Authenticated | None:
    """Whom a signed token stands for; None when tokens are off or it fails a check."""
    found = signing_key(settings, token)
    if found is None:
        return None
    key, algorithms = found
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            leeway=LEEWAY,
            options={"require": ["sub", "iss", "exp", *(["aud"] * bool(settings.token_audience))]},
        )
        claims = TokenClaims.model_validate(payload)
    except (jwt.PyJWTError, ValidationError):
        return None
    if registry.agency(claims.agency) is None:
        return None
    principal = Principal(
        subject=claims.sub, agency=claims.agency, role=claims.role, via="token", person=claims.sub
    )
    return Authenticated(principal, datetime.fromtimestamp(claims.exp, UTC))


def authenticate(
    platform: Platform, bearer: str | None, api_key: str | None
) -> Authenticated | None:
    """Whom one request's credentials stand for; None when missing or invalid."""
    if bearer and api_key and bearer != api_key:
        return None  # one credential per request: never guess which one was meant
    # The same key in both headers is one credential (as CKAN's routes take it).
    credential = bearer or api_key
    if not credential:
        return None
    if credential.startswith(PREFIX):
        principal = platform.keys.verify(credential)
        return Authenticated(principal) if principal else None
    if api_key:
        return None  # X-API-Key carries API keys only
    return verify_token(platform.settings, platform.registry, credential)


def presented_id(credential: str | None) -> str | None:
    """Whom a credential claims to be, to count its failures by: an API key's id or a token's
    `sub` (unverified: it only ever counts against failures, never refuses a valid one)."""
    if not credential:
        return None
    if credential.startswith(PREFIX):
        match = TOKEN.fullmatch(credential)
        return f"key:{match['key_id']}" if match else None
    try:
        subject = jwt.decode(credential, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return f"token:{subject[:MAX_SUBJECT_CHARS]}" if isinstance(subject, str) and subject else None


def authenticate_request(
    request: Request, bearer: str | None, api_key: str | None
) -> Authenticated:
    """Whom the request's credentials stand for; a failure is counted (`api.ratelimit`) and
    raised as Refused, with `retry_after` when it is one too many."""
    found = authenticate(platform_of(request), bearer, api_key)
    if found is None:
        raise Refused(record_failure(request, presented_id(bearer or api_key)))
    return found


def session_principal(request: Request) -> Principal | None:
    """The principal of the request's session cookie; None without a live session.

    A state-changing request must also carry the session's CSRF token in `X-CSRF-Token`:
    browsers attach cookies to cross-site requests, but no other site can read the token.
    """
    store = sessions_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = store.get(session_id)
    if session is None or session.mfa_pending:  # a second factor to enrol first
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise HTTPException(403, "csrf")
    return session.principal


def declared_purpose(value: str | None) -> str | None:
    """The purpose a caller declares: UTF-8 or percent-encoded (headers carry bytes), trimmed."""
    if value is None:
        return None
    with suppress(UnicodeError):  # raw UTF-8 bytes arrive decoded as Latin-1
        value = value.encode("latin-1").decode("utf-8")
    return unquote(value).strip()[:MAX_PURPOSE_CHARS] or None


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A signed token (JWT) from the configured issuer, or an API key (`gyk_…`).",
)
_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="An API key (`gyk_…`) from `gongyu keys create`.",
)


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiKey = Annotated[str | None, Depends(_api_key)]
Purpose = Annotated[
    str | None,
    Header(
        alias="X-Gongyu-Purpose",
        description="Why the data is read; recorded in the audit log (percent-encode "
        "non-ASCII text).",
    ),
]
"""The credentials and declared purpose every authenticated route reads (`current_principal`
and the routes that may also let an anonymous reader in)."""


async def current_principal(
    request: Request,
    bearer: Bearer,
    api_key: ApiKey,
    purpose: Purpose = None,
) -> Principal:
    """The authenticated caller; 401 `invalid` when credentials are missing or invalid, 403
    `csrf` when a session cookie comes without its CSRF token on a state-changing request, 403
    `scope: …` when the credential's scopes do not cover the route (`api.scopes`).

    A request with a key or token is judged by it alone; the session cookie counts only
    without one. A failure past the limit is 429 `invalid` with `Retry-After`. Runs on the
    event loop: the key or session lookup is one indexed read (~0.1 ms), cheaper than the
    hand-over to a worker thread it would otherwise take.
    """
    if bearer or api_key:
        try:
            found = authenticate_request(request, bearer.credentials if bearer else None, api_key)
        except Refused as refused:
            if refused.retry_after is not None:
                headers = {"Retry-After": str(refused.retry_after)}
                raise HTTPException(429, "invalid", headers=headers) from None
            principal = None
        else:
            principal = found.principal
    else:
        principal = session_principal(request)
    if principal is None:
        raise HTTPException(401, "invalid", headers={"WWW-Authenticate": "Bearer"})
    needed = required_scope(request)
    if needed is not None and not principal.allows(needed):
        raise HTTPException(403, f"scope: this token may not be used to {needed.value}")
    return principal.model_copy(update={"purpose": declared_purpose(purpose)})


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
