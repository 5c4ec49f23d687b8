"""Fixtures shared by the attack modules.

``honest`` is one complete, valid election record (real key ceremony,
credentials, ballots with re-votes and an audit, tally, decryption, result),
built once per test process; tests that tamper copy it first (``record_copy``).
``live`` is an open election on a real server app (the Flask test client, so
every request goes through the HTTP layer, its error handlers and the store).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ballot_server import create_app, db
from ballot_server.db import sqlite_url
from tests.attacks.adversary import copy_record, verify
from tests.support.api_election import ApiElection, build_election, server_config
from tests.support.recordgen import GeneratedRecord, build_record


@pytest.fixture(scope="session")
def honest(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRecord:
    gen = build_record(tmp_path_factory.mktemp("honest") / "record", seed=b"attacks")
    report = verify(gen.path)
    assert report.ok, report.failed()  # the baseline every attack starts from
    return gen


@pytest.fixture
def record_copy(honest: GeneratedRecord, tmp_path: Path) -> Path:
    """A private copy of the honest record directory, to tamper with."""
    return copy_record(honest.path, tmp_path / "record")


# --- a live server (SQLite; the engine does not change these rules) -------------------


@pytest.fixture
def server_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        server_config(sqlite_url(str(tmp_path / "board.sqlite")), str(tmp_path / "instance"))
    )
    yield app
    with app.app_context():
        db.get_engine().dispose()


@pytest.fixture
def live(server_app: Flask) -> ApiElection:
    """An open election on a live server: 4 voters with logins, nobody has voted."""
    return build_election(server_app.test_client(), voters=4, seed=b"attacks-live")
