"""Trino pages held for clients are bounded for the whole process (`api.trino.buffer`): a
producer waits for room, gives up when its statement ends, and a page that could never fit
fails its statement with an error naming the setting."""

from __future__ import annotations

import threading
from pathlib import Path

from api.trino.buffer import PageBuffer
from tests.api.world import OTHER_SECTOR, world


def test_a_producer_waits_for_room_and_gives_up_when_its_statement_ends() -> None:
    buffer = PageBuffer(100)
    assert buffer.reserve(60, lambda: False)
    ended = threading.Event()
    got: list[bool] = []
    waiting = threading.Thread(target=lambda: got.append(buffer.reserve(60, ended.is_set)))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()  # 60 + 60 > 100: it waits
    buffer.release(60)
    waiting.join(5)
    assert got == [True]
    stopped = threading.Thread(target=lambda: got.append(buffer.reserve(60, ended.is_set)))
    stopped.start()
    ended.set()  # its statement ended while it waited
    stopped.join(5)
    assert got == [True, False]
    assert not buffer.reserve(101, lambda: False)  # larger than the whole buffer


def test_a_page_larger_than_the_buffer_fails_its_statement(tmp_path: Path) -> None:
    # One row of 40 values of 60 kB (one value built once, shown 40 times): a page of 2.4 MB,
    # over a 2 MiB buffer.
    wide = ", ".join(f"s AS c{i}" for i in range(40))
    with world(tmp_path, trino_buffer_bytes=2 * 1024**2) as w:
        body = w.trino(
            OTHER_SECTOR, f"WITH t AS (SELECT repeat('x', 60000) AS s) SELECT {wide} FROM t"
        )
        error = body["error"]
        assert error["errorName"] == "EXCEEDED_LOCAL_MEMORY_LIMIT"
        assert "GONGYU_TRINO_BUFFER_BYTES" in error["message"]
        assert w.trino(OTHER_SECTOR, "SELECT count(*) FROM cases_public")["data"] == [[40]]
