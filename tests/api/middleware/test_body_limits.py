"""Request bodies are counted while they stream, over HTTP on loopback: a chunked body without
`Content-Length` (or with one that lies) is cut off at its route's limit, so the app never reads,
spools or parses more than that, whatever the client keeps sending."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import create_app
from api.web.i18n import catalogue
from api.web.steward import FORM_OVERHEAD
from catalog.access.principal import Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.web_session import form_token, parse, sign_in, text
from tests.api.world import serve

MIB = 1024**2
DELIVERY_LIMIT = 1 * MIB  # the red team's demo setting
REQUEST_LIMIT = 64 * 1024
SENT = 24 * MIB  # what the client offers: far past either limit
CHUNK = 64 * 1024
# What the server may hand the app in the one read that passes the limit (uvicorn buffers up
# to 64 KiB before it pauses the socket, plus one transport read of up to 256 KiB).
ONE_READ = 512 * 1024
DATASET = "kotsa_car_inspection_centers"  # kotsa's
TOO_LARGE = catalogue()["error.too_large"].ko  # the page says why, in the viewer's language


class BytesRead:
    """The app, and how many request body bytes it has read from the server (per path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                path = scope["path"]
                self.read[path] = self.read.get(path, 0) + len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@dataclass
class Served:
    platform: Platform
    url: str
    app: BytesRead


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = Settings(
        home=tmp_path_factory.mktemp("bodies") / "ws",
        max_delivery_bytes=DELIVERY_LIMIT,
        max_request_bytes=REQUEST_LIMIT,
    )
    platform = Platform(settings)
    app = BytesRead(create_app(platform))
    with serve(app) as url:  # type: ignore[arg-type]
        yield Served(platform, url, app)


def endless(prefix: bytes = b"", suffix: bytes = b"") -> Iterator[bytes]:
    """`prefix`, SENT bytes in chunks, `suffix`: a body httpx sends chunked (no length)."""
    yield prefix
    for _ in range(SENT // CHUNK):
        yield b"x" * CHUNK
    yield suffix


def test_a_chunked_upload_is_cut_off_at_the_limit(served: Served) -> None:
    key = served.platform.keys.create("kotsa", Role.steward, "uploads")[1]
    with closing(sign_in(served.url, key)) as steward:
        token = form_token(steward.get("/steward").text, "upload")
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\n{DATASET}\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            'name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        answer = steward.post(
            "/steward/upload",
            content=endless(head, f"\r\n--{boundary}--\r\n".encode()),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    read = served.app.read["/steward/upload"]
    assert read <= DELIVERY_LIMIT + FORM_OVERHEAD + ONE_READ, f"{read:,} bytes read"
    assert answer.status_code == 413
    assert TOO_LARGE in text(parse(answer.text).find(".//section[@class='problem']"))
    assert served.platform.deliveries.list(DATASET) == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/statement", {"X-Trino-Catalog": "gongyu"}),
        ("/api/v1/sql", {"Content-Type": "application/json"}),
        ("/signin", {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
)
def test_every_other_body_is_cut_off_at_the_request_limit(
    served: Served, path: str, headers: dict[str, str]
) -> None:
    key = served.platform.keys.create("kotsa", Role.analyst, "bodies")[1]
    answer = httpx.post(
        served.url + path,
        content=endless(b'{"sql": "SELECT 1 -- ' if "sql" in path else b"SELECT 1 -- "),
        headers={**headers, "Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert answer.status_code == 413
    assert "over the limit" in answer.text and "한도" in answer.text
    assert served.app.read[path] <= REQUEST_LIMIT + ONE_READ


def test_a_declared_oversize_upload_gets_the_page_unread(served: Served) -> None:
    key = served.platform.keys.create("kotsa", Role.steward, "declared")[1]
    with closing(sign_in(served.url, key)) as steward:
        before = served.app.read.get("/steward/upload", 0)
        token = form_token(steward.get("/steward").text, "upload")
        answer = steward.post(
            "/steward/upload",
            data={"csrf_token": token, "dataset": DATASET},
            files={"file": ("big.csv", b"x" * (DELIVERY_LIMIT + FORM_OVERHEAD), "text/csv")},
        )
    assert answer.status_code == 413
    assert TOO_LARGE in text(parse(answer.text).find(".//section[@class='problem']"))
    assert served.app.read.get("/steward/upload", 0) == before
