"""`current_principal` over HTTP on loopback: API keys and signed tokens (HS256 secret, RS256
PEM and JWKS key files) accepted; every missing or bad credential a bare 401 `invalid`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from api.app import create_app
from api.auth import CurrentPrincipal
from catalog.access.principal import Principal, Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.world import serve

ISSUER, AUDIENCE = "https://sso.gongyu.example", "gongyu-api"
SECRET = "test-shared-secret-of-at-least-32-characters"
INVALID = {"detail": "invalid"}


def whoami_app(platform: Platform) -> FastAPI:
    """The app with one more route that needs a principal."""
    app = create_app(platform)

    @app.get("/whoami")
    def whoami(principal: CurrentPrincipal) -> Principal:
        return principal

    return app


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    found = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**found, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(**changes: Any) -> dict[str, Any]:
    """Good claims for an analyst of koroad, with changes (None removes a claim)."""
    base = {
        "sub": "kim.analyst@koroad.or.kr",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": 4_000_000_000,
        "iat": 1_700_000_000,
        "agency": "koroad",
        "role": "analyst",
    }
    merged = {**base, **changes}
    return {k: v for k, v in merged.items() if v is not None}


@dataclass
class Servers:
    """One workspace served four ways: HS256 secret, RS256 PEM, RS256 JWKS, no tokens."""

    urls: dict[str, str]
    platform: Platform
    pem_key: rsa.RSAPrivateKey
    jwks_keys: dict[str, rsa.RSAPrivateKey]
    pem_file: Path

    def get(self, mode: str, **headers: str | bytes) -> httpx.Response:
        return httpx.get(f"{self.urls[mode]}/whoami", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("auth")
    pem_key, jwks_keys = rsa_key(), {"2026-a": rsa_key(), "2026-b": rsa_key()}
    pem_file, jwks_file = root / "issuer.pem", root / "jwks.json"
    pem_file.write_bytes(public_pem(pem_key))
    jwks_file.write_text(json.dumps({"keys": [jwk(k, kid) for kid, k in jwks_keys.items()]}))
    common = {"home": root / "ws", "token_issuer": ISSUER, "token_audience": AUDIENCE}
    modes = {
        "hs256": Settings(**common, token_secret=SECRET),
        "pem": Settings(**common, token_key_file=pem_file),
        "jwks": Settings(**common, token_key_file=jwks_file),
        "off": Settings(home=root / "ws"),
    }
    platforms = {mode: Platform(settings) for mode, settings in modes.items()}
    with (
        serve(whoami_app(platforms["hs256"])) as hs256,
        serve(whoami_app(platforms["pem"])) as pem,
        serve(whoami_app(platforms["jwks"])) as jwks,
        serve(whoami_app(platforms["off"])) as off,
    ):
        urls = {"hs256": hs256, "pem": pem, "jwks": jwks, "off": off}
        yield Servers(urls, platforms["off"], pem_key, jwks_keys, pem_file)


def assert_invalid(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == INVALID
    assert response.headers["www-authenticate"] == "Bearer"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_key_in_either_header(servers: Servers) -> None:
    key, token = servers.platform.keys.create("kotsa", Role.steward, "test")
    for headers in (bearer(token), {"X-API-Key": token}):
        response = servers.get("off", **headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "subject": key.key_id,
            "agency": "kotsa",
            "role": "steward",
            "via": "api_key",
            "purpose": None,
            "person": key.person_id,
            "scopes": None,
            "client": None,
        }


def test_purpose_header_reaches_the_principal(servers: Servers) -> None:
    _, token = servers.platform.keys.create("kotsa", Role.analyst)
    purpose = "교통사고 분석 (2026)"
    encoded = servers.get("off", **bearer(token), **{"X-Gongyu-Purpose": quote(purpose)})
    raw = servers.get("off", **bearer(token), **{"X-Gongyu-Purpose": purpose.encode()})
    assert encoded.json()["purpose"] == raw.json()["purpose"] == purpose
    blank = servers.get("off", **bearer(token), **{"X-Gongyu-Purpose": "%20"})
    assert blank.json()["purpose"] is None


def test_missing_garbage_and_revoked_keys_get_401(servers: Servers) -> None:
    key, token = servers.platform.keys.create("kotsa", Role.analyst)
    _, other = servers.platform.keys.create("kotsa", Role.analyst)
    assert_invalid(servers.get("off"))
    assert_invalid(servers.get("off", **bearer("garbage")))
    assert_invalid(servers.get("off", **bearer(token[:-2] + "xx")))
    assert_invalid(servers.get("off", **{"X-API-Key": "garbage"}))
    assert_invalid(servers.get("off", Authorization=f"Basic {token}"))
    assert_invalid(servers.get("off", Authorization="Bearer"))
    assert_invalid(servers.get("off", **bearer(token), **{"X-API-Key": other}))
    # The same key in both headers is one credential, as CKAN's routes take it.
    assert servers.get("off", **bearer(token), **{"X-API-Key": token}).status_code == 200
    servers.platform.keys.revoke(key.key_id)
    assert_invalid(servers.get("off", **bearer(token), **{"X-API-Key": token}))
    assert_invalid(servers.get("off", **bearer(token)))
    assert_invalid(servers.get("off", **{"X-API-Key": token}))


def hs256(**changes: Any) -> str:
    return jwt.encode(claims(**changes), SECRET, algorithm="HS256")


def test_hs256_token_accepted(servers: Servers) -> None:
    response = servers.get("hs256", **bearer(hs256()))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "subject": "kim.analyst@koroad.or.kr",
        "agency": "koroad",
        "role": "analyst",
        "via": "token",
        "purpose": None,
        "person": "kim.analyst@koroad.or.kr",
        "scopes": None,
        "client": None,
    }
    # API keys work beside tokens.
    _, token = servers.platform.keys.create("koroad", Role.operator)
    assert servers.get("hs256", **bearer(token)).json()["role"] == "operator"


BAD_HS256: dict[str, Callable[[], str]] = {
    "expired": lambda: hs256(exp=1_700_000_000),
    "not yet valid": lambda: hs256(nbf=4_000_000_000),
    "wrong issuer": lambda: hs256(iss="https://evil.example"),
    "wrong audience": lambda: hs256(aud="someone-else"),
    "no audience": lambda: hs256(aud=None),
    "no expiry": lambda: hs256(exp=None),
    "no subject": lambda: hs256(sub=None),
    "no issuer": lambda: hs256(iss=None),
    "unknown agency": lambda: hs256(agency="nowhere"),
    "no agency": lambda: hs256(agency=None),
    "unknown role": lambda: hs256(role="admin"),
    "other secret": lambda: jwt.encode(claims(), "another-secret-" * 3, algorithm="HS256"),
    "HS512 not allowed": lambda: jwt.encode(claims(), SECRET * 2, algorithm="HS512"),
    "unsigned": lambda: jwt.encode(claims(), None, algorithm="none"),
    "tampered payload": lambda: _swap_payload(hs256(), claims(role="operator")),
    "not a token": lambda: "eyJhbGciOiJIUzI1NiJ9.garbage.sig",
    # Every claim read must have its JSON type and a sane range: none is coerced.
    "expiry as text": lambda: hs256(exp="4000000000"),
    "expiry past year 9999": lambda: hs256(exp=10**30),
    "expiry as a huge float": lambda: hs256(exp=1e30),
    "not-before as text": lambda: hs256(nbf="1700000000"),
    "issued-at as text": lambda: hs256(iat="1700000000"),
    "subject as a number": lambda: hs256(sub=12345),
    "agency as a list": lambda: hs256(agency=["koroad"]),
}


def _swap_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps(payload).encode()).decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("case", BAD_HS256)
def test_bad_hs256_tokens_get_401(servers: Servers, case: str) -> None:
    assert_invalid(servers.get("hs256", **bearer(BAD_HS256[case]())))


def test_tokens_refused_when_no_token_setting(servers: Servers) -> None:
    assert_invalid(servers.get("off", **bearer(hs256())))


def test_rs256_with_pem_key_file(servers: Servers) -> None:
    good = jwt.encode(claims(role="steward"), servers.pem_key, algorithm="RS256")
    response = servers.get("pem", **bearer(good))
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "steward"
    assert_invalid(servers.get("pem", **{"X-API-Key": good}))  # X-API-Key carries keys only
    stranger = jwt.encode(claims(), rsa_key(), algorithm="RS256")
    assert_invalid(servers.get("pem", **bearer(stranger)))
    expired = jwt.encode(claims(exp=1_700_000_000), servers.pem_key, algorithm="RS256")
    assert_invalid(servers.get("pem", **bearer(expired)))
    # Algorithm confusion: the public key's PEM text used as an HMAC secret.
    confused = _hmac_with(servers.pem_file.read_bytes())
    assert_invalid(servers.get("pem", **bearer(confused)))
    assert_invalid(servers.get("pem", **bearer(hs256())))


def _hmac_with(secret: bytes) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode()).decode()
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{jwt.utils.base64url_encode(signature).decode()}"


def test_rs256_with_jwks_key_file(servers: Servers) -> None:
    for kid, key in servers.jwks_keys.items():
        token = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": kid})
        assert servers.get("jwks", **bearer(token)).status_code == 200
    a, b = servers.jwks_keys["2026-a"], servers.jwks_keys["2026-b"]
    wrong_kid = jwt.encode(claims(), a, algorithm="RS256", headers={"kid": "2026-b"})
    unknown_kid = jwt.encode(claims(), b, algorithm="RS256", headers={"kid": "2025-z"})
    no_kid = jwt.encode(claims(), a, algorithm="RS256")  # two keys: which one is not guessed
    stranger = jwt.encode(claims(), rsa_key(), algorithm="RS256", headers={"kid": "2026-a"})
    wrong_aud = jwt.encode(claims(aud="x"), a, algorithm="RS256", headers={"kid": "2026-a"})
    for token in (wrong_kid, unknown_kid, no_kid, stranger, wrong_aud):
        assert_invalid(servers.get("jwks", **bearer(token)))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"token_secret": SECRET}, "GONGYU_TOKEN_ISSUER is required"),
        ({"token_secret": "short", "token_issuer": ISSUER}, "at least 32 characters"),
        (
            {"token_secret": SECRET, "token_key_file": "k.pem", "token_issuer": ISSUER},
            "not both",
        ),
        (
            {"token_key_file": "k.pem", "token_issuer": ISSUER, "token_algorithms": ["HS256"]},
            "does not fit GONGYU_TOKEN_KEY_FILE",
        ),
        (
            {"token_secret": SECRET, "token_issuer": ISSUER, "token_algorithms": ["none"]},
            "does not fit GONGYU_TOKEN_SECRET",
        ),
    ],
)
def test_half_made_token_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Settings(**settings)
    assert SECRET not in str(raised.value)


def test_schema_documents_401_and_429_on_every_authenticated_operation(tmp_path: Path) -> None:
    schema = create_app(Platform(Settings(home=tmp_path / "ws"))).openapi()
    secured = [
        (f"{method.upper()} {path}", operation["responses"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]
    assert len(secured) > 10
    for name, responses in secured:
        assert {"401", "429"} <= responses.keys(), name
        assert "Retry-After" in responses["429"]["headers"], name
