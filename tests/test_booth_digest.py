"""The booth bundle's SHA-256 on the board (issue 6): ``election_opened.booth_sha256``.

The server refuses an opening that names another bundle than the one it
serves (and writes nothing); ``evote election open`` publishes the served
digest, or refuses when the official's pinned build differs; the booth's
``election.json`` returns the board's value; a record with it verifies and
the verifier reports it.  The app here serves a stand-in bundle with a known
digest, so the tests do not depend on the real bundle being built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask

from ballot_server import create_app, db
from ballot_server.booth_assets import EXTENSION, load_assets
from cli.client import Client
from cli.election import booth_digest, open_election
from evote.encoding import b64decode, b64encode
from evote.errors import BoothMismatch, SchemaError
from evote.payloads import Command, ElectionOpened
from tests import api_election
from tests.api_election import build_election, server_config
from tests.witnesses import served_record
from verifier.checks import verify_record
from verifier.record import Record

api_db = api_election.api_db

BUNDLE = b"/* a stand-in booth bundle */\n"
SERVED = hashlib.sha256(BUNDLE).digest()


@pytest.fixture(scope="module")
def booth_app(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    static = tmp_path_factory.mktemp("static")
    (static / "booth.js").write_bytes(BUNDLE)
    (static / "booth.css").write_bytes(b"body{}\n")
    app = create_app(server_config(api_db, str(tmp_path_factory.mktemp("instance"))))
    app.extensions[EXTENSION] = load_assets(static)
    yield app
    with app.app_context():
        db.get_engine().dispose()


@pytest.fixture
def client(booth_app):
    return booth_app.test_client()


@pytest.fixture
def http(booth_app) -> Iterator[Client]:
    with Client("http://localhost", transport=httpx.WSGITransport(app=booth_app)) as c:
        yield c


@pytest.fixture
def ready(client):
    """An election with everything but the opening on the board."""
    return build_election(client, stop_before="election_opened")


def opened(e) -> ElectionOpened:
    entry = e.entries()[-1]
    assert entry.kind == "election_opened"
    return Command.from_entry(entry).body


def test_the_server_accepts_the_digest_of_the_bundle_it_serves(ready, client):
    e = ready
    assert client.get("/booth/assets.json").get_json()["booth_sha256"] == SERVED.hex()
    body = {"fingerprint": b64encode(e.ctx.fingerprint), "booth_sha256": b64encode(SERVED)}
    e.ok("election_opened", e.official, body)
    assert opened(e).booth_sha256 == SERVED
    data = client.get(f"/booth/{e.election_id}/election.json").get_json()
    assert b64decode(data["booth_sha256"], length=32) == SERVED


def test_the_server_refuses_another_digest_and_writes_nothing(ready, client):
    e = ready
    size = e.size()
    other = hashlib.sha256(b"another bundle").digest()
    body = {"fingerprint": b64encode(e.ctx.fingerprint), "booth_sha256": b64encode(other)}
    response = e.post("election_opened", e.official, body)
    assert response.status_code == 422
    error = response.get_json()
    assert error["code"] == "booth_mismatch"
    assert error["detail"] == {"posted": other.hex(), "served": SERVED.hex()}
    assert e.size() == size
    assert client.get(e.url).get_json()["phase"] == "setup"
    short = {"fingerprint": b64encode(e.ctx.fingerprint), "booth_sha256": b64encode(b"x" * 31)}
    assert e.post("election_opened", e.official, short).status_code in (400, 422)
    assert e.size() == size
    # Without a digest the opening publishes none (older clients), and is accepted.
    e.ok("election_opened", e.official, {"fingerprint": b64encode(e.ctx.fingerprint)})
    assert opened(e).booth_sha256 is None
    data = client.get(f"/booth/{e.election_id}/election.json").get_json()
    assert data["booth_sha256"] is None


def test_the_payload_round_trips_and_is_strict():
    fp = bytes(range(32))
    assert ElectionOpened.from_json({"fingerprint": b64encode(fp)}).to_json() == {
        "fingerprint": b64encode(fp)}
    both = {"fingerprint": b64encode(fp), "booth_sha256": b64encode(SERVED)}
    assert ElectionOpened.from_json(both).to_json() == both
    with pytest.raises(SchemaError):
        ElectionOpened.from_json({**both, "booth": b64encode(SERVED)})
    with pytest.raises(SchemaError):
        ElectionOpened(fp, b"short")


def test_cli_open_publishes_the_served_digest(ready, http):
    e = ready
    assert booth_digest(http) == SERVED
    fingerprint, booth = open_election(http, e.official, e.election_id)
    assert fingerprint == e.ctx.fingerprint and booth == SERVED
    assert opened(e).booth_sha256 == SERVED


def test_cli_open_refuses_when_the_pinned_build_differs(ready, http):
    e = ready
    size = e.size()
    mine = hashlib.sha256(b"the bundle I built").digest()
    with pytest.raises(BoothMismatch) as err:
        open_election(http, e.official, e.election_id, booth_sha256=mine)
    assert err.value.detail == {"pinned": mine.hex(), "served": SERVED.hex()}
    assert e.size() == size  # nothing posted
    open_election(http, e.official, e.election_id, booth_sha256=SERVED)
    assert opened(e).booth_sha256 == SERVED


def test_a_record_with_the_digest_verifies_and_reports_it(ready, http, tmp_path: Path):
    e = ready
    open_election(http, e.official, e.election_id)
    e.cast_ok(0)
    e.cast_ok(1)
    e.tally()
    with served_record(e.client, e.url, tmp_path / "record.zip") as source:
        report = verify_record(Record.load(source))
    assert report.ok, report.failed()
    assert f"booth bundle SHA-256 {SERVED.hex()} published at opening" in report.check(
        "manifest").note


def test_a_server_without_a_booth_publishes_no_digest(bare_app, tmp_path):
    app = bare_app
    app.extensions[EXTENSION] = None
    c = app.test_client()
    e = build_election(c, stop_before="election_opened")
    with Client("http://localhost", transport=httpx.WSGITransport(app=app)) as http:
        assert booth_digest(http) is None
        with pytest.raises(BoothMismatch):
            booth_digest(http, SERVED)  # pinned, but nothing served to compare
        open_election(http, e.official, e.election_id)
    assert opened(e).booth_sha256 is None
    assert c.get("/booth/assets.json").status_code == 503


@pytest.fixture
def bare_app(api_db: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(server_config(api_db, str(tmp_path / "instance")))
    yield app
    with app.app_context():
        db.get_engine().dispose()
