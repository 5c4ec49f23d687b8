"""Shared fixtures.

Board database fixtures: every test that takes ``db_url`` (or ``store``) runs
twice, on SQLite and on PostgreSQL.  PostgreSQL needs the throw-away server of
``scripts/with-postgres.sh`` (``make test`` uses it); without it the postgres
variant fails, on purpose, rather than skipping and hiding what it did not
test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from ballot_server.db import init_db, make_engine, setup_server_role, sqlite_url
from ballot_server.store import Store

POSTGRES_ENV = "EVOTE_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class BoardDatabase:
    """A fresh, initialised board database for one test.

    ``url`` is what the server connects with (on PostgreSQL: the restricted
    server role); ``admin_url`` is the owner's (for tests that must show what
    even the owner cannot do).  On SQLite both are the same file.
    """

    kind: str  # "sqlite" or "postgres"
    url: str
    admin_url: str


def _admin_engine(url: str):
    return create_engine(make_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def board_db(request, tmp_path) -> Iterator[BoardDatabase]:
    if request.param == "sqlite":
        url = sqlite_url(str(tmp_path / "board.sqlite"))
        engine = make_engine(url)
        init_db(engine)
        engine.dispose()
        yield BoardDatabase("sqlite", url, url)
        return

    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.fail(
            f"{POSTGRES_ENV} is not set: run the tests inside a PostgreSQL server with "
            "`bash scripts/with-postgres.sh .venv/bin/pytest ...` (or `make test`)",
            pytrace=False,
        )
    name = "evote_t_" + secrets.token_hex(6)
    role = name + "_server"
    admin = _admin_engine(server)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin_url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        owner = make_engine(admin_url)
        init_db(owner)
        owner.dispose()
        url = setup_server_role(admin_url, role, secrets.token_hex(16))
        yield BoardDatabase("postgres", url, admin_url)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture
def db_url(board_db: BoardDatabase) -> str:
    """URL of a fresh board database (SQLite file, or PostgreSQL as the server role)."""
    return board_db.url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A :class:`Store` on the fresh database; closed (and its pool emptied) after the test."""
    engine = make_engine(db_url)
    s = Store(engine)
    yield s
    s.close()
    engine.dispose()
