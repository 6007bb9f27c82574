"""Names a Trino client chooses never break a response, over HTTP on loopback: a name that goes
back in a header (`SET SESSION`, `PREPARE`, `USE`, …) holding a line break or other bytes a
header cannot carry is refused with a Trino error, as are session headers naming things with
control characters; values go back percent-encoded, as Trino sends them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from api.app import create_app
from catalog.access.principal import Role
from gongyu.ground.settings import Settings
from gongyu.platform import Platform
from tests.api.world import serve


@dataclass
class Served:
    url: str
    key: str

    def statement(self, sql: str, **headers: str) -> httpx.Response:
        sent = {"Authorization": f"Bearer {self.key}", "X-Trino-Catalog": "gongyu", **headers}
        return httpx.post(f"{self.url}/v1/statement", content=sql.encode(), headers=sent)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    platform = Platform(Settings(home=tmp_path_factory.mktemp("trino-names") / "ws"))
    key = platform.keys.create("kotsa", Role.analyst, "trino")[1]
    with serve(create_app(platform)) as url:
        yield Served(url, key)


@pytest.mark.parametrize(
    "sql",
    [
        'SET SESSION "a\r\nSet-Cookie:x"=1',
        'SET SESSION "a\nb".c = 1',
        'SET SESSION "세션" = 1',
        'RESET SESSION "a\r\nSet-Cookie:x"',
        'PREPARE "p\r\nSet-Cookie:x" FROM SELECT 1',
        'DEALLOCATE PREPARE "p\rq"',
    ],
)
def test_a_name_a_header_cannot_carry_is_a_trino_error(served: Served, sql: str) -> None:
    answer = served.statement(sql)
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    assert not any(name.startswith("x-trino-") for name in answer.headers)
    body = answer.json()
    assert body["stats"]["state"] == "FAILED"
    assert body["error"]["errorName"] == "NOT_SUPPORTED"
    assert body["error"]["errorType"] == "USER_ERROR"


def test_session_headers_with_control_characters_are_a_trino_error(served: Served) -> None:
    # Header values cannot hold a raw line break; a prepared statement's name is
    # percent-encoded in its header, so it can.
    answer = served.statement(
        "EXECUTE p", **{"X-Trino-Prepared-Statement": "p%0D%0ASet-Cookie%3Ax=SELECT+1"}
    )
    body = answer.json()
    assert answer.status_code == 200 and body["stats"]["state"] == "FAILED"
    assert body["error"]["errorName"] == "GENERIC_USER_ERROR"
    assert "control characters" in body["error"]["message"]


def test_values_go_back_percent_encoded(served: Served) -> None:
    answer = served.statement("SET SESSION query_max_run_time = 'a\r\nSet-Cookie: x'")
    assert answer.json()["updateType"] == "SET SESSION"
    assert answer.headers["x-trino-set-session"] == "query_max_run_time=a%0D%0ASet-Cookie%3A+x"
    assert "set-cookie" not in answer.headers
    prepared = served.statement("PREPARE q FROM SELECT 'a\r\nb'")
    assert prepared.headers["x-trino-added-prepare"] == "q=SELECT+%27a%0D%0Ab%27"
