"""A fresh PostgreSQL database per test module on 127.0.0.1:5432 (the scale-out profile).

Skipped, saying why, only when the server cannot be reached; `GONGYU_TEST_POSTGRES` names
another server's maintenance database (CI points it at its service container).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench.postgres import scratch_database

SERVER = os.environ.get(
    "GONGYU_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """URL of a new empty database `gongyu_test_<random>`, dropped after the module."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(SERVER, "gongyu_test"))
        except OperationalError as error:
            server = make_url(SERVER)
            pytest.skip(
                f"PostgreSQL at {server.host}:{server.port} "
                f"is unreachable: {str(error.orig).strip().splitlines()[0]}"
            )
        yield url
