"""Fresh board databases for tests: one set-up for SQLite and PostgreSQL.

The per-test ``board_db`` fixture (tests/conftest.py) and the per-module
fixtures of :mod:`tests.support.api_election` both come here, so that a test's
database is made the same way whatever its scope: on PostgreSQL a new
database, tables made by the owner, the server on the restricted role.
PostgreSQL needs the throw-away server of ``scripts/with-postgres.sh``; without
it the postgres variant fails, on purpose, rather than skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from ballot_server.db import init_db, make_engine, setup_server_role, sqlite_url

POSTGRES_ENV = "EVOTE_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class BoardDatabase:
    """A fresh, initialised board database.

    ``url`` is what the server connects with (on PostgreSQL: the restricted
    server role); ``admin_url`` is the owner's (for tests that must show what
    even the owner cannot do).  On SQLite both are the same file.
    """

    kind: str  # "sqlite" or "postgres"
    url: str
    admin_url: str


def admin_engine(url: str) -> Engine:
    """An autocommit engine on the PostgreSQL server (CREATE/DROP DATABASE)."""
    return create_engine(make_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")


@contextmanager
def fresh_board_database(kind: str, directory: Path, prefix: str = "evote_t_") -> Iterator[BoardDatabase]:
    """A new board database of ``kind`` ("sqlite" or "postgres"), dropped afterwards.

    The SQLite file lives in ``directory``; a PostgreSQL database and its
    server role are named ``prefix`` plus a random suffix.
    """
    if kind == "sqlite":
        url = sqlite_url(str(directory / "board.sqlite"))
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
    name = prefix + secrets.token_hex(6)
    role = name + "_server"
    admin = admin_engine(server)
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
