"""Single sign-on: OpenID Connect's authorization-code flow with PKCE, against the one identity
provider the settings name (docs/sso.md).

`/signin/oidc` sends the browser to the provider with a fresh state, nonce and PKCE S256
challenge; the three secrets and the page to return to wait in an HttpOnly cookie of this flow's
own (ten minutes, this path only). `/signin/oidc/callback` checks the state against that cookie
(each state once), trades the code and the PKCE verifier for tokens at the provider's token
endpoint (a server-side call), checks the ID token (signature by the provider's published keys,
issuer, audience, expiry, issue time, nonce), maps its claims to the person's agency and roles
and opens a session. The provider's addresses and keys come from its discovery document under
the configured issuer only, never from anything a request carries.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
import threading
import time
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, ValidationError

from api.deps import platform_of
from api.web.render import is_https, page
from api.web.session import local_path, open_session
from catalog.access.audit import AuditKind, Outcome
from catalog.access.keys import UnknownAgency
from catalog.access.principal import Role
from catalog.people.people import PersonConflict
from gongyu.ground.settings import LOOPBACK, Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

FLOW_COOKIE = "gongyu_oidc"
FLOW_PATH = "/signin/oidc"
CALLBACK_PATH = "/signin/oidc/callback"
FLOW_SECONDS = 600  # from leaving for the provider to coming back
LEEWAY_SECONDS = 60  # clock drift allowed between the provider and the catalog
HTTP_TIMEOUT_SECONDS = 10.0
METADATA_SECONDS = 3600.0  # how long a discovery document and its keys are kept
KEY_REFRESH_SECONDS = 60.0  # at most one key refetch a minute, however many unknown `kid`s
MAX_DOCUMENT_BYTES = 1_000_000
# Signatures only by the provider's published public keys: never `none`, never an HMAC (a
# shared secret would let anyone holding the client secret sign ID tokens).
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
WORDED = {400, 403, 404}  # statuses the error page has a title of their own for


class SignInFailed(Exception):
    """The sign-in is refused: the page's HTTP status and the message key that says why."""

    def __init__(self, status: int, key: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.key = key


class InvalidIdToken(ValueError):
    """The ID token is not one the provider issued for this sign-in."""


class UnknownKey(InvalidIdToken):
    """The ID token names a signing key the provider's key set does not (yet) hold."""


class Provider(BaseModel):
    """What the catalog uses of the provider's discovery document."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None
    id_token_signing_alg_values_supported: tuple[str, ...] = ("RS256",)

    @property
    def algorithms(self) -> list[str]:
        """The signature algorithms an ID token may use: the provider's, asymmetric only."""
        return sorted(ALGORITHMS.intersection(self.id_token_signing_alg_values_supported))


def issuer_of(settings: Settings) -> str:
    """The configured issuer as compared: without a trailing slash (a URL setting gains one)."""
    assert settings.oidc_issuer is not None
    return str(settings.oidc_issuer).rstrip("/")


def _same_issuer(a: object, b: str) -> bool:
    return isinstance(a, str) and a.rstrip("/") == b


def _trusted_url(url: str) -> str:
    """`url` if the catalog may call it: HTTPS, or HTTP to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return url
    raise ValueError(f"not an https:// address: {url!r}")


def _get_json(url: str) -> dict[str, Any]:
    """A JSON document from the provider (no redirects followed, size bounded)."""
    with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False) as client:
        response = client.get(_trusted_url(url), headers={"Accept": "application/json"})
    response.raise_for_status()
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url} returned more than {MAX_DOCUMENT_BYTES} bytes")
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return body


class ProviderCache:
    """The provider's discovery document and key set, fetched on first use and kept an hour;
    keyed by the configured issuer, so no request can point the catalog elsewhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # issuer -> (provider, its keys, when the document was read, when the keys were)
        self._entries: dict[str, tuple[Provider, KeySet, float, float]] = {}

    def provider(self, issuer: str) -> tuple[Provider, KeySet]:
        """The provider's metadata and keys, read again once they are an hour old."""
        with self._lock:
            entry = self._entries.get(issuer)
            now = time.monotonic()
            if entry is None or now - entry[2] > METADATA_SECONDS:
                document = _get_json(f"{issuer}/.well-known/openid-configuration")
                provider = Provider.model_validate(document)
                # OpenID Connect Discovery §4.3: a document for another issuer is not this one's.
                if not _same_issuer(provider.issuer, issuer):
                    raise ValueError(f"discovery names the issuer {provider.issuer!r}")
                for url in (provider.authorization_endpoint, provider.token_endpoint):
                    _trusted_url(url)
                entry = (provider, self._keys(provider), now, now)
                self._entries[issuer] = entry
            return entry[0], entry[1]

    def refreshed_keys(self, issuer: str) -> KeySet | None:
        """The key set read again (the provider rotated its keys), or None when it was read
        less than a minute ago: forged key ids cannot make the catalog hammer the provider."""
        with self._lock:
            entry = self._entries.get(issuer)
            now = time.monotonic()
            if entry is None or now - entry[3] < KEY_REFRESH_SECONDS:
                return None
            keys = self._keys(entry[0])
            self._entries[issuer] = (entry[0], keys, entry[2], now)
            return keys

    def clear(self) -> None:
        """Forget every provider (the next sign-in reads them again)."""
        with self._lock:
            self._entries.clear()

    @staticmethod
    def _keys(provider: Provider) -> KeySet:
        document = _get_json(provider.jwks_uri)
        # Private or symmetric keys have no place in a published key set: they are left out.
        public = [k for k in document.get("keys", []) if isinstance(k, dict) and "d" not in k]
        return KeySet.import_key_set({"keys": [k for k in public if k.get("kty") != "oct"]})


providers = ProviderCache()


def verify_id_token(
    raw: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: list[str],
    now: float | None = None,
) -> dict[str, Any]:
    """The ID token's claims once its signature (by one of `keys`, with an allowed asymmetric
    algorithm), issuer, audience, authorized party, expiry, issue time and nonce are checked."""
    try:
        header = jws.extract_compact(raw.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeEncodeError) as e:
        raise InvalidIdToken(f"not a signed JWT: {e}") from e
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS or algorithm not in algorithms:
        raise InvalidIdToken(f"signature algorithm {algorithm!r} is not accepted")
    kid = header.get("kid")
    if kid is None and len(keys.keys) != 1:
        # Core §10.1: a provider publishing several keys names the one that signed.
        raise InvalidIdToken("the token names no key, and the provider publishes several")
    try:
        key = keys.keys[0] if kid is None else keys.get_by_kid(kid)
    except (JoseError, ValueError, TypeError) as e:
        raise UnknownKey(f"no published key {kid!r}") from e
    try:
        claims = jwt.decode(raw, key, algorithms=[algorithm]).claims
    except BadSignatureError as e:
        if kid is None:  # the provider's one key may have been replaced since it was read
            raise UnknownKey("the provider's key does not verify the token") from e
        raise InvalidIdToken(f"bad signature: {e}") from e
    except (JoseError, ValueError) as e:
        raise InvalidIdToken(f"bad signature: {e}") from e
    moment = time.time() if now is None else now
    if not _same_issuer(claims.get("iss"), issuer):
        raise InvalidIdToken(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise InvalidIdToken(f"audience {audience!r} does not name this client")
    # Core §3.1.3.7: a token for several audiences must say which party it was issued to.
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise InvalidIdToken(f"authorized party {claims.get('azp')!r} is not this client")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int | float) or moment > expires + LEEWAY_SECONDS:
        raise InvalidIdToken("the token has expired")
    if not isinstance(issued, int | float) or issued > moment + LEEWAY_SECONDS:
        raise InvalidIdToken("the token is issued in the future")
    if moment - issued > FLOW_SECONDS + LEEWAY_SECONDS:
        raise InvalidIdToken("the token was issued before this sign-in began")
    sent = claims.get("nonce")
    if not (isinstance(sent, str) and hmac.compare_digest(sent.encode(), nonce.encode())):
        raise InvalidIdToken("the nonce is not the one this sign-in sent")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidIdToken("the token names no subject")
    return claims


def roles_claim(value: object) -> tuple[Role, ...]:
    """Gongyu roles from a claim (a list, or a space- or comma-separated string), in the
    claim's order, each once; names Gongyu does not know are ignored."""
    if isinstance(value, str):
        names: list[object] = value.replace(",", " ").split()
    elif isinstance(value, list):
        names = value
    else:
        return ()
    known = [Role(n) for n in names if isinstance(n, str) and n in Role.__members__]
    return tuple(dict.fromkeys(known))


class Flow(BaseModel):
    """A sign-in under way, kept in the browser's flow cookie until the provider sends it back."""

    model_config = ConfigDict(frozen=True)

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    def cookie(self) -> str:
        """The flow as the cookie's value (URL-safe base64 of its JSON)."""
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode()

    @classmethod
    def of(cls, value: str | None) -> Flow | None:
        """The flow a cookie holds; None when it holds none."""
        if not value or len(value) > 2000:
            return None
        try:
            return cls.model_validate_json(base64.urlsafe_b64decode(value.encode()))
        except (ValueError, ValidationError):
            return None


def _client(settings: Settings) -> OAuth2Client:
    secret = settings.oidc_client_secret
    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=" ".join(dict.fromkeys(["openid", *settings.oidc_scopes.split()])),
        redirect_uri=settings.public_url.rstrip("/") + CALLBACK_PATH,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_SECONDS,
        follow_redirects=False,
    )


def _forget_flow(response: Response, request: Request) -> Response:
    response.delete_cookie(
        FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=is_https(request)
    )
    return response


def _refused(request: Request, failed: SignInFailed, next_path: str = "/") -> Response:
    """The page saying why the sign-in failed, with a link to try again; the flow forgotten."""
    title = (
        f"errorpage.title_{failed.status}" if failed.status in WORDED else "errorpage.title_other"
    )
    response = page(
        request,
        "error_status.html",
        session=None,
        status=failed.status,
        code=failed.status,
        title=title,
        message=failed.key,
        incident=None,
        signin_href=f"/signin?{urlencode({'next': next_path})}",
    )
    return _forget_flow(response, request)


def _settings(request: Request) -> Settings:
    settings = platform_of(request).settings
    if settings.oidc_issuer is None or not settings.oidc_client_id:
        raise SignInFailed(404, "oidc.not_configured", "single sign-on is not configured")
    return settings


def _provider(issuer: str) -> tuple[Provider, KeySet]:
    try:
        return providers.provider(issuer)
    except (httpx.HTTPError, ValueError, JoseError) as e:
        raise SignInFailed(502, "oidc.unavailable", f"identity provider unusable: {e}") from e


@router.get(FLOW_PATH)
def begin(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    """Send the browser to the identity provider, to come back to `next` (a path here)."""
    next_path = local_path(next)
    try:
        settings = _settings(request)
        provider, _ = _provider(issuer_of(settings))
    except SignInFailed as failed:
        log.warning("single sign-on not started: %s", failed)
        return _refused(request, failed, next_path)
    flow = Flow(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),  # 86 characters: RFC 7636 asks for 43 to 128
        next=next_path,
        started=time.time(),
    )
    with _client(settings) as client:
        url, _ = client.create_authorization_url(
            provider.authorization_endpoint,
            state=flow.state,
            code_verifier=flow.verifier,
            nonce=flow.nonce,
        )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        flow.cookie(),
        max_age=FLOW_SECONDS,
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back, never on a subrequest
        secure=is_https(request),
    )
    return response


def _finish(request: Request, settings: Settings, flow: Flow) -> Response:
    """Trade the code for tokens, check the ID token, and open the person's session."""
    query = request.query_params
    if error := query.get("error"):
        raise SignInFailed(403, "oidc.denied", f"the provider answered {error[:100]!r}")
    code = query.get("code")
    if not code:
        raise SignInFailed(400, "oidc.failed", "the provider sent no code")
    issuer = issuer_of(settings)
    provider, keys = _provider(issuer)
    with _client(settings) as client:
        try:
            tokens = client.fetch_token(
                provider.token_endpoint,
                grant_type="authorization_code",
                code=code[:2000],
                code_verifier=flow.verifier,
            )
        except (OAuthError, httpx.HTTPError, ValueError) as e:
            raise SignInFailed(400, "oidc.failed", f"the token endpoint refused: {e}") from e
    raw = tokens.get("id_token")
    if not isinstance(raw, str):
        raise SignInFailed(400, "oidc.failed", "the token endpoint returned no ID token")
    check = {
        "issuer": issuer,
        "client_id": settings.oidc_client_id or "",
        "nonce": flow.nonce,
        "algorithms": provider.algorithms,
    }
    try:
        try:
            claims = verify_id_token(raw, keys, **check)
        except UnknownKey:
            fresh = providers.refreshed_keys(issuer)
            if fresh is None:
                raise
            claims = verify_id_token(raw, fresh, **check)
    except (httpx.HTTPError, JoseError, ValueError) as e:  # InvalidIdToken among them
        raise SignInFailed(400, "oidc.invalid_token", f"ID token refused: {e}") from e
    return _signed_in(request, settings, issuer, claims, flow.next)


def _signed_in(
    request: Request, settings: Settings, issuer: str, claims: dict[str, Any], next_path: str
) -> Response:
    """The person the claims name, provisioned or brought up to date, signed in."""
    agency = claims.get(settings.oidc_agency_claim)
    roles = roles_claim(claims.get(settings.oidc_roles_claim))
    subject = claims["sub"]
    if not isinstance(agency, str) or not agency:
        raise SignInFailed(403, "oidc.unknown_agency", f"{subject}: no agency claim")
    if not roles:
        raise SignInFailed(403, "oidc.no_role", f"{subject}: no Gongyu role in the claims")
    name = claims.get("name") or claims.get("preferred_username") or subject
    email = claims.get("email")
    platform = platform_of(request)
    try:
        person = platform.people.from_oidc(
            issuer,
            subject,
            agency,
            roles,
            str(name),
            email if isinstance(email, str) else None,
        )
    except UnknownAgency as e:
        raise SignInFailed(403, "oidc.unknown_agency", f"{subject}: {e}") from e
    except PersonConflict as e:
        raise SignInFailed(403, "oidc.failed", f"{subject}: {e}") from e
    principal = person.principal(person.roles[0], "oidc")
    if not person.active:
        platform.audit.append(
            principal, AuditKind.signin, "sign-in: oidc", outcome=Outcome.denied, error="disabled"
        )
        raise SignInFailed(403, "oidc.disabled", f"{person.person_id} is disabled")
    platform.audit.append(principal, AuditKind.signin, "sign-in: oidc")
    response = open_session(request, principal, next_path, roles=person.roles)
    return _forget_flow(response, request)


@router.get(CALLBACK_PATH)
def callback(request: Request) -> Response:
    """Where the identity provider sends the browser back: finish the sign-in, or say why not."""
    flow = Flow.of(request.cookies.get(FLOW_COOKIE))
    next_path = local_path(flow.next) if flow else "/"
    try:
        settings = _settings(request)
        sent = request.query_params.get("state", "")
        if flow is None or not 0 <= time.time() - flow.started <= FLOW_SECONDS:
            raise SignInFailed(400, "oidc.expired", "no sign-in under way in this browser")
        if not hmac.compare_digest(sent.encode(), flow.state.encode()):
            raise SignInFailed(400, "oidc.state", "the state is not this browser's")
        if not platform_of(request).challenges.spend(
            "oidc", flow.state, FLOW_SECONDS + LEEWAY_SECONDS
        ):
            raise SignInFailed(400, "oidc.replayed", "the state was already used")
        return _finish(request, settings, flow)
    except SignInFailed as failed:
        log.warning("single sign-on refused: %s", failed)
        return _refused(request, failed, next_path)
