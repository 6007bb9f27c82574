"""Single sign-on against a real OpenID provider on loopback, followed step by step over HTTP:
claims become the person's agency and roles, and every check of the flow refuses what it should
(state, nonce, PKCE, the ID token's signature, issuer, audience and times, the return path)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import werkzeug.serving
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from pydantic import HttpUrl, ValidationError

from api.app import create_app
from api.auth import SESSION_COOKIE
from api.web import oidc
from api.web.i18n import catalogue
from api.web.oidc import (
    CALLBACK_PATH,
    FLOW_COOKIE,
    FLOW_SECONDS,
    InvalidIdToken,
    UnknownKey,
    providers,
    roles_claim,
    verify_id_token,
)
from catalog.access.principal import Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.oidc_world import (
    CLIENT_ID,
    Provider,
    flow_cookie,
    flow_of,
    provider,
    s256,
    sso_world,
)
from tests.api.web_session import parse, text
from tests.api.world import OWNER, World, free_port

STEWARD = {"agency": OWNER, "roles": ["steward", "analyst"], "name": "김지원"}


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Provider]]:
    with provider() as idp, sso_world(tmp_path_factory.mktemp("sso"), idp.url) as served:
        yield served, idp


def begin(client: httpx.Client, served: World, next_path: str = "/") -> str:
    """Start a sign-in; the provider's authorization address Gongyu sends the browser to."""
    answer = client.get(f"{served.url}/signin/oidc", params={"next": next_path})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def authorize(client: httpx.Client, url: str, sub: str) -> str:
    """Sign in at the provider's form as `sub`; the callback address it sends the browser to."""
    answer = client.post(url, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(served: World, idp: Provider, sub: str, claims: dict[str, Any], next_path: str = "/"):
    """A browser signed in through the provider as `sub` with `claims`, and the last answer."""
    idp.set_claims(sub, claims)
    client = httpx.Client(timeout=30)
    answer = client.get(authorize(client, begin(client, served, next_path), sub))
    return client, answer


def refused_with(answer: httpx.Response, key: str, status: int) -> None:
    """The answer is the error page saying `key`, no session made, the flow cookie dropped."""
    assert answer.status_code == status, answer.text
    assert catalogue()[key].ko in text(parse(answer.text)), answer.text
    assert SESSION_COOKIE not in answer.cookies
    assert any(h.startswith(f"{FLOW_COOKIE}=") for h in answer.headers.get_list("set-cookie"))


def with_flow(client: httpx.Client, change: dict[str, Any]) -> None:
    """Rewrite the browser's flow cookie (what an attacker or a stale tab would bring)."""
    flow = flow_of(client.cookies[FLOW_COOKIE]) | change
    client.cookies.delete(FLOW_COOKIE)
    client.cookies.set(FLOW_COOKIE, flow_cookie(flow), domain="127.0.0.1", path="/signin/oidc")


# The flow, end to end


def test_claims_become_the_persons_agency_and_roles(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    client, answer = sign_in(served, idp, "kim", STEWARD | {"email": "kim@knpa.go.kr"}, "/console")
    with closing(client):
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        # The ledger holds one person for this issuer and subject.
        (person,) = [
            p for p in served.platform.people.list(agency=OWNER) if p.oidc_subject == "kim"
        ]
        assert person.oidc_issuer == idp.url and person.roles == (Role.steward, Role.analyst)
        assert (person.name, person.email, person.mfa_required) == (
            "김지원",
            "kim@knpa.go.kr",
            False,
        )
        home = client.get(f"{served.url}/")
        assert home.status_code == 200
        who = parse(home.text).find(".//span[@class='who']")
        assert who is not None and "데이터 관리자" in text(who), home.text
        (signin,) = served.platform.audit.records(person=person.person_id, kind="signin")
        assert (signin.via, signin.role, signin.outcome) == ("oidc", "steward", "ok")
    # The provider's word is kept up to date at each sign-in: a role taken away is gone.
    client, answer = sign_in(served, idp, "kim", STEWARD | {"roles": "analyst"})
    client.close()
    assert answer.status_code == 303
    assert served.platform.people.get(person.person_id).roles == (Role.analyst,)


def test_the_authorization_request_carries_state_nonce_and_pkce(
    sso: tuple[World, Provider],
) -> None:
    served, idp = sso
    with httpx.Client(timeout=30) as client:
        answer = client.get(f"{served.url}/signin/oidc", params={"next": "/search"})
        assert answer.status_code == 303
        url = urlsplit(answer.headers["location"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{idp.url}/oauth2/authorize"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        flow = flow_of(client.cookies[FLOW_COOKIE])
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["redirect_uri"] == served.url + CALLBACK_PATH
        assert "openid" in query["scope"].split()
        assert (query["state"], query["nonce"]) == (flow["state"], flow["nonce"])
        assert query["code_challenge_method"] == "S256"
        assert query["code_challenge"] == s256(flow["verifier"])
        assert flow["verifier"] not in answer.headers["location"]
        assert flow["next"] == "/search" and len(flow["state"]) >= 43
        (cookie,) = [
            h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{FLOW_COOKIE}=")
        ]
        attributes = cookie.lower()
        assert "httponly" in attributes and "path=/signin/oidc" in attributes
        assert f"max-age={FLOW_SECONDS}" in attributes and "samesite=lax" in attributes
        # Every sign-in starts afresh: no state or verifier is reused.
        client.get(f"{served.url}/signin/oidc")
        assert flow_of(client.cookies[FLOW_COOKIE])["state"] != flow["state"]


def test_the_code_is_traded_with_the_verifier_and_client_secret(
    sso: tuple[World, Provider],
) -> None:
    served, idp = sso
    client, answer = sign_in(served, idp, "lee", STEWARD)
    client.close()
    assert answer.status_code == 303
    exchange = idp.pkce.exchanges[-1]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == served.url + CALLBACK_PATH
    assert len(exchange["code_verifier"]) >= 43
    assert "client_secret" not in exchange  # sent as HTTP Basic, not in the form


def test_sign_out_ends_the_session(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    client, _ = sign_in(served, idp, "park", STEWARD)
    with closing(client):
        home = client.get(f"{served.url}/")
        token = parse(home.text).find(".//form[@id='signout']/input[@name='csrf_token']")
        assert token is not None
        out = client.post(f"{served.url}/signout", data={"csrf_token": token.attrib["value"]})
        assert out.status_code == 303 and out.headers["location"] == "/signin"
        assert client.get(f"{served.url}/").status_code == 303  # back to signing in


def test_sql_through_the_session_is_audited_as_the_person(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    client, _ = sign_in(served, idp, "choi", {"agency": OWNER, "roles": ["analyst"]})
    sql = "SELECT count(*) FROM welfare_safety.cases_public"
    with closing(client):
        meta = parse(client.get(f"{served.url}/console").text).find(".//meta[@name='csrf-token']")
        assert meta is not None
        answer = client.post(
            f"{served.url}/api/v1/sql",
            json={"sql": sql},
            headers={"X-CSRF-Token": meta.attrib["content"]},
        )
        assert answer.status_code == 200, answer.text
    (person,) = [p for p in served.platform.people.list() if p.oidc_subject == "choi"]
    records = served.platform.audit.records(person=person.person_id, kind="sql")
    assert records and all(r.statement == sql for r in records)
    assert {(r.via, r.agency, r.role, r.person) for r in records} == {
        ("oidc", OWNER, "analyst", person.person_id)
    }


# What is refused


def test_a_tampered_state_is_refused(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    idp.set_claims("kang", STEWARD)
    with httpx.Client(timeout=30) as client:
        back = authorize(client, begin(client, served), "kang")
        forged = back.replace("state=", "state=x")
        refused_with(client.get(forged), "oidc.state", 400)


def test_a_callback_without_the_flow_cookie_is_refused(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    idp.set_claims("yoon", STEWARD)
    with httpx.Client(timeout=30) as client:
        back = authorize(client, begin(client, served), "yoon")
    # Another browser (a login-CSRF victim) brings the callback without the flow cookie.
    with httpx.Client(timeout=30) as stranger:
        refused_with(stranger.get(back), "oidc.expired", 400)


def test_a_callback_is_used_once(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    idp.set_claims("jang", STEWARD)
    with httpx.Client(timeout=30) as client:
        back = authorize(client, begin(client, served), "jang")
        cookie = client.cookies[FLOW_COOKIE]
        assert client.get(back).status_code == 303
        client.cookies.set(FLOW_COOKIE, cookie, domain="127.0.0.1", path="/signin/oidc")
        refused_with(client.get(back), "oidc.replayed", 400)


def test_a_stale_flow_is_refused(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    idp.set_claims("lim", STEWARD)
    with httpx.Client(timeout=30) as client:
        back = authorize(client, begin(client, served), "lim")
        with_flow(client, {"started": time.time() - FLOW_SECONDS - 1})
        refused_with(client.get(back), "oidc.expired", 400)


def test_the_code_needs_the_browsers_verifier(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    idp.set_claims("han", STEWARD)
    with httpx.Client(timeout=30) as client:
        back = authorize(client, begin(client, served), "han")
        # The cookie of another sign-in (a stolen code replayed with the thief's own flow).
        with_flow(client, {"verifier": "v" * 86})
        refused_with(client.get(back), "oidc.failed", 400)
    assert idp.pkce.exchanges[-1]["code_verifier"] == "v" * 86


def test_a_nonce_not_sent_is_refused(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    idp.set_claims("oh", STEWARD)
    with httpx.Client(timeout=30) as client:
        back = authorize(client, begin(client, served), "oh")
        with_flow(client, {"nonce": "another-sign-ins-nonce"})
        refused_with(client.get(back), "oidc.invalid_token", 400)


def test_the_provider_saying_no_is_refused(sso: tuple[World, Provider]) -> None:
    served, _ = sso
    with httpx.Client(timeout=30) as client:
        denied = client.post(begin(client, served), data={"action": "deny"})
        assert denied.status_code == 302 and "error=access_denied" in denied.headers["location"]
        # This provider drops the state from its error answer; one without it is refused as
        # any answer this browser did not ask for, one with it says the provider refused.
        refused_with(client.get(denied.headers["location"]), "oidc.state", 400)
        denied = client.post(begin(client, served), data={"action": "deny"})
        state = flow_of(client.cookies[FLOW_COOKIE])["state"]
        answer = client.get(f"{denied.headers['location']}&state={state}")
        refused_with(answer, "oidc.denied", 403)


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil.example", "/\t/evil.example"]
)
def test_sign_in_never_sends_the_browser_elsewhere(
    sso: tuple[World, Provider], target: str
) -> None:
    served, idp = sso
    client, answer = sign_in(served, idp, "seo", STEWARD, target)
    client.close()
    assert answer.status_code == 303 and answer.headers["location"] == "/"


@pytest.mark.parametrize(
    ("claims", "key"),
    [
        ({"agency": "nowhere", "roles": ["analyst"]}, "oidc.unknown_agency"),
        ({"roles": ["analyst"]}, "oidc.unknown_agency"),
        ({"agency": OWNER, "roles": ["admin", "superuser"]}, "oidc.no_role"),
        ({"agency": OWNER}, "oidc.no_role"),
    ],
)
def test_claims_without_an_agency_or_role_are_refused(
    sso: tuple[World, Provider], claims: dict[str, Any], key: str
) -> None:
    served, idp = sso
    sub = f"nobody-{key}-{len(claims)}"
    client, answer = sign_in(served, idp, sub, claims)
    client.close()
    refused_with(answer, key, 403)
    assert not [p for p in served.platform.people.list() if p.oidc_subject == sub]


def test_a_disabled_person_is_refused(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    client, answer = sign_in(served, idp, "shin", STEWARD)
    client.close()
    assert answer.status_code == 303
    (person,) = [p for p in served.platform.people.list() if p.oidc_subject == "shin"]
    served.platform.people.disable(person.person_id)
    client, answer = sign_in(served, idp, "shin", STEWARD)
    client.close()
    refused_with(answer, "oidc.disabled", 403)
    latest = served.platform.audit.records(person=person.person_id, kind="signin")[0]
    assert (latest.outcome, latest.error) == ("denied", "disabled")


def test_the_provider_is_the_configured_one_only(sso: tuple[World, Provider]) -> None:
    served, idp = sso
    with httpx.Client(timeout=30) as client:
        answer = client.get(
            f"{served.url}/signin/oidc",
            params={"next": "/", "issuer": "https://evil.example", "iss": "https://evil.example"},
        )
        assert answer.headers["location"].startswith(f"{idp.url}/oauth2/authorize?")


@pytest.mark.parametrize(
    ("change", "key", "status"),
    [
        ({"oidc_issuer": None}, "oidc.not_configured", 404),
        ({"oidc_issuer": HttpUrl(f"http://127.0.0.1:{free_port()}")}, "oidc.unavailable", 502),
    ],
)
def test_without_a_usable_provider_the_page_says_so(
    sso: tuple[World, Provider], change: dict[str, Any], key: str, status: int
) -> None:
    served, _ = sso
    platform = Platform(served.platform.settings.model_copy(update=change))
    with TestClient(create_app(platform), follow_redirects=False) as client:
        answer = client.get("/signin/oidc", params={"next": "/console"})
        assert answer.status_code == status
        assert catalogue()[key].ko in text(parse(answer.text))
        assert parse(answer.text).find(".//a[@id='signin']").attrib["href"] == (
            "/signin?next=%2Fconsole"
        )
        assert FLOW_COOKIE not in answer.cookies


def test_a_discovery_document_of_another_issuer_is_refused() -> None:
    document = {
        "issuer": "https://evil.example",
        "authorization_endpoint": "https://evil.example/authorize",
        "token_endpoint": "https://evil.example/token",
        "jwks_uri": "https://evil.example/jwks",
    }

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(document).encode()]

    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with pytest.raises(ValueError, match="discovery names the issuer"):
            providers.provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_settings_refuse_a_half_made_or_plain_http_provider() -> None:
    with pytest.raises(ValidationError, match="CLIENT_ID"):
        Settings(oidc_issuer="https://sso.example.go.kr")
    with pytest.raises(ValidationError, match="https"):
        Settings(oidc_issuer="http://sso.example.go.kr", oidc_client_id="gongyu")
    assert Settings(oidc_issuer="http://127.0.0.1:9400", oidc_client_id="gongyu").oidc_issuer


def test_keys_are_read_again_at_most_once_a_minute(
    sso: tuple[World, Provider], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, idp = sso
    provider_doc, keys = providers.provider(idp.url)
    assert provider_doc.issuer == idp.url and keys.keys
    assert providers.refreshed_keys(idp.url) is None  # just read: a forged kid waits
    monkeypatch.setattr(oidc, "KEY_REFRESH_SECONDS", 0.0)
    fresh = providers.refreshed_keys(idp.url)
    assert fresh is not None and fresh.as_dict() == keys.as_dict()


@pytest.mark.parametrize(("read_ago", "signed_in"), [(120.0, True), (0.0, False)])
def test_a_rotated_key_is_read_again_unless_the_keys_are_fresh(
    sso: tuple[World, Provider], monkeypatch: pytest.MonkeyPatch, read_ago: float, signed_in: bool
) -> None:
    served, idp = sso
    found, _ = providers.provider(idp.url)
    retired = RSAKey.generate_key(2048, parameters={"kid": "retired"}, private=True)
    stale = KeySet.import_key_set(KeySet([retired]).as_dict(private=False))
    now = time.monotonic()
    # The catalog last saw the provider's keys before it rotated them.
    monkeypatch.setitem(providers._entries, idp.url, (found, stale, now, now - read_ago))
    client, answer = sign_in(served, idp, f"rotated-{signed_in}", STEWARD)
    client.close()
    if signed_in:
        assert answer.status_code == 303
    else:
        refused_with(answer, "oidc.invalid_token", 400)
    providers.clear()


def test_only_https_or_loopback_addresses_are_called() -> None:
    assert oidc._trusted_url("https://sso.example.go.kr/jwks")
    assert oidc._trusted_url("http://127.0.0.1:9400/jwks")
    for url in ("http://sso.example.go.kr/jwks", "file:///etc/passwd", "ftp://x/"):
        with pytest.raises(ValueError):
            oidc._trusted_url(url)


# The ID token's checks, one by one, on tokens signed here

ISSUER = "https://sso.example.go.kr"
NONCE = "the-nonce-this-sign-in-sent"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
PUBLISHED = KeySet.import_key_set(KeySet([KEY]).as_dict(private=False))


def id_token(key: Any = KEY, header: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "sub": "kim",
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": NONCE,
    } | claims
    body = {k: v for k, v in body.items() if v is not None}  # None: the claim is left out
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, body, key)


def check(raw: str) -> dict[str, Any]:
    return verify_id_token(
        raw, PUBLISHED, issuer=ISSUER, client_id=CLIENT_ID, nonce=NONCE, algorithms=["RS256"]
    )


def test_a_good_id_token_passes() -> None:
    assert check(id_token())["sub"] == "kim"
    assert check(id_token(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))["sub"] == "kim"


def test_an_id_token_signed_by_another_key_is_refused() -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    with pytest.raises(InvalidIdToken, match="signature"):
        check(id_token(impostor))
    # A key id not published, or no key id and the one key failing: the keys are read again
    # (at most once a minute) and the token checked once more before it is refused.
    with pytest.raises(UnknownKey):
        check(id_token(impostor, {"alg": "RS256", "kid": "rotated"}))
    with pytest.raises(UnknownKey):
        check(id_token(impostor, {"alg": "RS256"}))


def test_a_token_naming_no_key_needs_a_provider_with_one() -> None:
    assert check(id_token(header={"alg": "RS256"}))["sub"] == "kim"
    other = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    two = KeySet.import_key_set(KeySet([KEY, other]).as_dict(private=False))
    with pytest.raises(InvalidIdToken, match="names no key"):
        verify_id_token(
            id_token(header={"alg": "RS256"}),
            two,
            issuer=ISSUER,
            client_id=CLIENT_ID,
            nonce=NONCE,
            algorithms=["RS256"],
        )


def test_an_id_token_without_a_public_key_signature_is_refused() -> None:
    secret = OctKey.import_key("a-client-secret-known-to-many-people-32+")
    with pytest.raises(InvalidIdToken, match="algorithm"):
        check(id_token(secret, {"alg": "HS256", "kid": "k1"}))
    header, body = id_token().split(".")[:2]
    with pytest.raises(InvalidIdToken):
        check(f"{header}.{body}.")
    for garbage in ("", "not-a-token", "a.b.c"):
        with pytest.raises(InvalidIdToken):
            check(garbage)


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"aud": "another-client"}, "audience"),
        ({"aud": ["another-client"]}, "audience"),
        ({"aud": None}, "audience"),
        ({"aud": [CLIENT_ID, "other"]}, "authorized party"),
        ({"aud": [CLIENT_ID, "other"], "azp": "other"}, "authorized party"),
        ({"exp": -120}, "expired"),
        ({"exp": None}, "expired"),
        ({"iat": 600}, "future"),
        ({"iat": -FLOW_SECONDS - 600}, "before this sign-in"),
        ({"nonce": "another"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": ""}, "subject"),
    ],
)
def test_each_claim_is_checked(claims: dict[str, Any], why: str) -> None:
    # Times are seconds from the test's own clock: a time fixed when the tests were collected
    # drifts into the past during a long run (a "future" iat stops being one).
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "iat") and v is not None else v for k, v in claims.items()}
    with pytest.raises(InvalidIdToken, match=why):
        check(id_token(**claims))


def test_roles_come_from_a_list_or_a_string() -> None:
    assert roles_claim(["steward", "analyst"]) == (Role.steward, Role.analyst)
    assert roles_claim("analyst, steward analyst") == (Role.analyst, Role.steward)
    assert roles_claim(["admin", 3, "operator"]) == (Role.operator,)
    assert roles_claim(None) == roles_claim({"steward": True}) == ()
