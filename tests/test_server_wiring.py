"""How the server app is put together (ballot_server/__init__.py, context.py).

* Importing a part of the server (its storage, its rules) must not load the
  web app: Flask and the blueprints are imported by ``create_app`` only.
* One URL converter checks the election id of every route (API, witness
  checkpoints, booth pages); its length limit is ``evote.commands``'s.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ballot_server import create_app, db
from ballot_server.booth_assets import EXTENSION, BoothAssets
from evote.commands import MAX_ELECTION_ID
from tests.api_election import server_config

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_storage_and_the_rules_loads_no_web_app() -> None:
    code = (
        "import ballot_server.store, ballot_server.service, ballot_server.models, "
        "ballot_server.auth, ballot_server.config, ballot_server.ratelimit, "
        "ballot_server.booth_assets, sys; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug') "
        "or m in ('ballot_server.api', 'ballot_server.context', 'ballot_server.booth_pages', "
        "'ballot_server.site', 'ballot_server.witness_api')); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(server_config(f"sqlite:///{tmp_path}/board.db", str(tmp_path / "instance")))
    # A stand-in for the built bundle: the booth page renders for any well-formed id.
    app.extensions[EXTENSION] = BoothAssets("sha384-js", "sha384-css", "00" * 32)
    yield app
    with app.app_context():
        db.get_engine().dispose()


LONGEST = "a" * MAX_ELECTION_ID
BAD_IDS = ["a" * (MAX_ELECTION_ID + 1), "City-Poll", "-poll", "_poll", "poll!", "po\x00ll"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/api/v1/elections/{}"),
        ("GET", "/api/v1/elections/{}/entries/0"),
        ("POST", "/api/v1/elections/{}/ballots"),
        ("GET", "/api/v1/elections/{}/checkpoint"),
        ("POST", "/api/v1/elections/{}/checkpoint/cosignatures"),
        ("GET", "/booth/{}"),
        ("GET", "/booth/{}/"),
        ("POST", "/booth/{}/login"),
    ],
)
def test_an_id_that_could_never_exist_is_no_election_on_every_route(
    app: Flask, method: str, template: str, bad: str
) -> None:
    answer = app.test_client().open(template.format(bad), method=method)
    assert answer.status_code == 404
    assert answer.json == {"code": "not_found", "message": f"no election {bad!r}"}


def test_the_longest_id_passes_the_converter(app: Flask) -> None:
    client = app.test_client()
    assert client.get(f"/booth/{LONGEST}").status_code == 200  # the page, for any well-formed id
    unknown = client.get(f"/api/v1/elections/{LONGEST}")  # then the service: not on this board
    assert unknown.status_code == 404 and unknown.json["code"] == "not_found"


def test_a_wrong_method_is_still_405_whatever_the_id(app: Flask) -> None:
    for election_id in (LONGEST, "a" * (MAX_ELECTION_ID + 1)):
        answer = app.test_client().delete(f"/api/v1/elections/{election_id}")
        assert answer.status_code == 405 and answer.json["code"] == "method_not_allowed"
