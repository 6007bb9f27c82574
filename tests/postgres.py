"""A fresh PostgreSQL database per test module on 127.0.0.1:5432 (the scale-out profile).

Skipped, saying why, only when the server cannot be reached; `GONGYU_TEST_POSTGRES` names
another server's maintenance database (CI points it at its service container).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

SERVER = os.environ.get(
    "GONGYU_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """URL of a new empty database `gongyu_test_<random>`, dropped after the module."""
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"gongyu_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(
            f"PostgreSQL at {make_url(SERVER).host}:{make_url(SERVER).port} "
            f"is unreachable: {str(error.orig).strip().splitlines()[0]}"
        )
    try:
        yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # FORCE: engines of the module's platforms may still hold pooled connections.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
