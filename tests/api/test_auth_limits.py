"""The failed-sign-in limit over HTTP on loopback, against an attacker holding nothing but a
network path: failures are counted per client address and per credential presented (key id,
token subject), only failures are refused, and the client address comes from
`X-Forwarded-For` only when the connecting peer is one of `GONGYU_TRUSTED_PROXIES`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from api.app import create_app
from catalog.access.principal import Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import form_token
from tests.api.world import serve

LIMIT = 5
ISSUER = "https://sso.gongyu.example"
SECRET = "test-shared-secret-of-at-least-32-characters"
PATH = "/api/v1/catalog/sectors"


@dataclass
class Served:
    """One workspace served twice: straight to clients, and behind a proxy on 127.0.0.1."""

    platform: Platform
    direct: str
    proxied: str

    def key(self) -> str:
        return self.platform.keys.create("kotsa", Role.analyst, "limits")[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root: Path = tmp_path_factory.mktemp("limits")
    common = {
        "home": root / "ws",
        "auth_failures_per_minute": LIMIT,
        "token_secret": SECRET,
        "token_issuer": ISSUER,
    }
    direct = Platform(Settings(**common))
    proxied = Platform(Settings(**common, trusted_proxies=["127.0.0.1"]))
    with serve(create_app(direct)) as direct_url, serve(create_app(proxied)) as proxied_url:
        yield Served(direct, direct_url, proxied_url)


def client(url: str, source: str) -> httpx.Client:
    """A client connecting from `source` (any 127/8 address reaches loopback)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=url, transport=transport, timeout=30)


def bad_key(n: int) -> dict[str, str]:
    """A well-formed API key that does not exist (its own id per `n`)."""
    return {"X-API-Key": f"gyk_{n:016x}_" + "A" * 43}


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def token(subject: str, secret: str = SECRET) -> str:
    claims = {
        "sub": subject,
        "iss": ISSUER,
        "exp": 4_000_000_000,
        "agency": "kotsa",
        "role": "analyst",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def fail_until_limited(c: httpx.Client, headers: list[dict[str, str]]) -> None:
    """Send LIMIT failing requests (each 401), then one more: 429 with `Retry-After`."""
    for sent in headers[:LIMIT]:
        answer = c.get(PATH, headers=sent)
        assert (answer.status_code, answer.json()) == (401, {"detail": "invalid"}), sent
    answer = c.get(PATH, headers=headers[LIMIT])
    assert (answer.status_code, answer.json()) == (429, {"detail": "invalid"})
    assert 1 <= int(answer.headers["Retry-After"]) <= 60


def test_a_flood_of_bad_keys_locks_no_valid_key_out(served: Served) -> None:
    good = served.key()
    with client(served.direct, "127.0.0.21") as c:
        fail_until_limited(c, [bad_key(n) for n in range(LIMIT + 1)])
        assert c.get(PATH, headers=bad_key(99)).status_code == 429
        # Everyone behind this address still gets in with a valid key or token...
        assert c.get(PATH, headers=bearer(good)).status_code == 200
        assert c.get(PATH, headers={"X-API-Key": good}).status_code == 200
        assert c.get(PATH, headers=bearer(token("kim@kotsa.or.kr"))).status_code == 200
        assert c.get("/api/3/action/package_list", headers={"X-API-Key": good}).is_success
        # ...and through the sign-in form, while a bad credential there is still refused.
        form = form_token(c.get("/signin").text, "signin")
        signed = c.post("/signin", data={"credential": good, "csrf_token": form, "next": "/"})
        assert signed.status_code == 303
        c.cookies.clear()
        form = form_token(c.get("/signin").text, "signin")
        refused = c.post("/signin", data={"credential": "gyk_x", "csrf_token": form})
        assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_rotating_x_forwarded_for_does_not_reset_the_limit(served: Served) -> None:
    # Connecting straight (no trusted proxy), X-Forwarded-For is the caller's own words.
    with client(served.direct, "127.0.0.1") as c:
        fail_until_limited(
            c,
            [{**bad_key(100 + n), "X-Forwarded-For": f"198.51.100.{n}"} for n in range(LIMIT + 1)],
        )
    # Nor from a peer that is not the trusted proxy, on the server that has one.
    with client(served.proxied, "127.0.0.22") as c:
        fail_until_limited(
            c,
            [{**bad_key(200 + n), "X-Forwarded-For": f"198.51.100.{n}"} for n in range(LIMIT + 1)],
        )


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(served: Served) -> None:
    with client(served.proxied, "127.0.0.1") as proxy:
        blocked = {"X-Forwarded-For": "203.0.113.7"}
        fail_until_limited(proxy, [{**bad_key(300 + n), **blocked} for n in range(LIMIT + 1)])
        # Another client behind the same proxy is not blocked by the first one's failures.
        other = proxy.get(PATH, headers={**bad_key(399), "X-Forwarded-For": "203.0.113.8"})
        assert other.status_code == 401
        # A chain names the client the trusted proxy saw, not what the client claims.
        chained = proxy.get(
            PATH, headers={**bad_key(398), "X-Forwarded-For": "10.9.9.9, 203.0.113.7"}
        )
        assert chained.status_code == 429


def test_failures_naming_one_key_are_limited_from_any_address(served: Served) -> None:
    good = served.key()
    key_id = good.split("_")[1]
    guesses = [{"X-API-Key": f"gyk_{key_id}_{n:043d}"} for n in range(LIMIT + 2)]
    with client(served.proxied, "127.0.0.1") as proxy:
        # Each guess from its own address: the address limit never trips, the key's does.
        fail_until_limited(
            proxy,
            [{**g, "X-Forwarded-For": f"192.0.2.{n}"} for n, g in enumerate(guesses)],
        )
        # The key's own holder, anywhere, still gets in.
        fresh = {"X-Forwarded-For": "192.0.2.200"}
        assert proxy.get(PATH, headers={**bearer(good), **fresh}).status_code == 200


def test_failures_naming_one_token_subject_are_limited(served: Served) -> None:
    forged = token("victim@kotsa.or.kr", secret="not-the-issuers-secret-" * 2)
    with client(served.proxied, "127.0.0.1") as proxy:
        fail_until_limited(
            proxy,
            [{**bearer(forged), "X-Forwarded-For": f"192.0.2.{100 + n}"} for n in range(LIMIT + 1)],
        )
        valid = {**bearer(token("victim@kotsa.or.kr")), "X-Forwarded-For": "192.0.2.250"}
        assert proxy.get(PATH, headers=valid).status_code == 200
