"""Shared fixtures.

Board database fixtures: every test that takes ``db_url`` (or ``store``) runs
twice, on SQLite and on PostgreSQL.  PostgreSQL needs the throw-away server of
``scripts/with-postgres.sh`` (``make test`` uses it); without it the postgres
variant fails, on purpose, rather than skipping and hiding what it did not
test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ballot_server.db import make_engine
from ballot_server.store import Store
from tests.support.databases import BoardDatabase, fresh_board_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def board_db(request, tmp_path) -> Iterator[BoardDatabase]:
    with fresh_board_database(request.param, tmp_path) as database:
        yield database


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
