"""``evote election open --booth-sha256`` and ``evote receipt check`` with witnesses,
from the command line against a real ballot server (gunicorn on loopback).

The server serves the real booth bundle; three real witnesses (``cli.witness``)
poll it over HTTP.  Everything a person would type is typed through click's
runner: a wrong pinned booth digest refuses the opening (nothing posted), the
right one opens and is on the board; a witnessed election's ``evote vote``
stores a receipt with the cosigned checkpoint, and ``evote receipt check``
fails until the witnesses have cosigned a checkpoint with the ballot, then
passes and names them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cli import api
from cli.client import Client
from evote.board import Receipt
from evote.payloads import Command
from tests.support.cli_server import fails, invoke, make_election, ok, start_server, vote
from tests.support.witnesses import NAMES, init_witnesses, policy_of, poll_server

BUNDLE = Path(__file__).resolve().parents[2] / "ballot_server" / "static" / "booth.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_server(tmp_path_factory.mktemp("cli-witness-server"))


def opened_body(server, election_id: str):
    with Client(server.url) as client:
        entries = api.fetch_entries(client, election_id)
    return Command.from_entry(entries[-1]).body


def test_open_pins_the_booth_digest(server, tmp_path):
    if not BUNDLE.exists():
        pytest.skip("the booth bundle is not built (make install)")
    served = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()
    e = make_election(server, tmp_path, "cli-booth", open_it=False)
    key = ("--key", e.official)
    bad = invoke(server, "election", "open", e.id, *key, "--booth-sha256", "zz")
    assert bad.exit_code == 2 and "64 hexadecimal digits" in bad.output
    fails(invoke(server, "election", "open", e.id, *key, "--booth-sha256", "ab" * 32),
          "[booth_mismatch]", "ab" * 32, served)
    with Client(server.url) as client:
        assert api.election_info(client, e.id)["phase"] == "setup"  # nothing was posted
    opened = ok(invoke(server, "election", "open", e.id, *key, "--booth-sha256", served.upper()))
    assert f"booth bundle SHA-256 {served} published on the board" in opened.output
    assert opened_body(server, e.id).booth_sha256.hex() == served


def test_receipt_check_names_the_witnesses(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    witnesses = init_witnesses(tmp_path)
    dirs = [d for d, _ in witnesses]
    (tmp_path / "e").mkdir()
    e = make_election(server, tmp_path / "e", "cli-witnessed",
                      extra_manifest={"witnesses": policy_of(witnesses).to_json()})
    poll_server(server.url, dirs, e.id)
    ok(vote(server, e, e.voters[0], "park=1;priorities=1", "--receipt", "r.json"))
    receipt = Receipt.from_json(json.loads(Path("r.json").read_text()))
    assert receipt.cosigned_checkpoint is not None  # stored with the receipt

    fails(invoke(server, "receipt", "check", "r.json"), "[witness_policy]", "check again")
    poll_server(server.url, dirs[1:], e.id)  # w0 is down: w1 and w2 cosign the board with the ballot
    checked = ok(invoke(server, "receipt", "check", "r.json"))
    assert "receipt OK" in checked.output
    assert f"cosigned by {NAMES[1]}, {NAMES[2]} (2 of 3 needed)" in checked.output
    assert f"cosigned by {', '.join(NAMES)}) is the same history" in checked.output
