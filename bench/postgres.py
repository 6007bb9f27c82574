"""A scratch PostgreSQL database, created empty and dropped afterwards: for the scale-out
benchmark and the tests of the PostgreSQL profile (`tests.postgres`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def scratch_database(server: str, prefix: str) -> Iterator[str]:
    """URL of a new empty database `<prefix>_<random>` beside `server` (a maintenance database's
    URL), dropped afterwards; `OperationalError` when the server cannot be reached."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # FORCE: engines of the platforms that used it may still hold pooled connections.
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
