"""Witness cosignatures end to end: receipts, ``evote receipt check``, the record and check 19.

A real election on the real server (``create_app``, SQLite and PostgreSQL)
with a 2-of-3 witness policy in its manifest; three real witnesses
(``cli.witness.Witness``, the code ``evote witness run`` runs, with real keys
from ``evote witness init``) poll it in-process over HTTP (httpx's WSGI
transport) and post their cosignatures.  Ballots are cast, receipts checked,
the election tallied and its record exported with ``checkpoint.txt``;
``evote-verify`` passes and names who cosigned the final board, and fails
check 19 once one of the two final cosignatures is removed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from cli.client import Client
from cli.election import export_record
from cli.receipt import check_receipt
from cli.witness import Witness
from evote.board import Receipt
from evote.checkpoint import Checkpoint, Note, open_checkpoint
from evote.errors import InvalidSignature, WitnessPolicyError
from evote.record import CHECKPOINT_FILE
from tests.support import api_election
from tests.support import witnesses as shared_witnesses
from tests.support.api_election import MANIFEST, build_election
from tests.support.witnesses import NAMES, policy_of, poll, served_record
from verifier.checks import verify_record
from verifier.main import cli as verify_cli
from verifier.record import Record
from verifier.sources import DirectorySource, ServerSource

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election
witnesses = shared_witnesses.witnesses


@pytest.fixture
def http(api_app) -> Iterator[Client]:
    """The CLI's own HTTP client, talking to the test server in-process."""
    with Client("http://localhost", transport=httpx.WSGITransport(app=api_app)) as client:
        yield client


@pytest.fixture
def witnessed(api_client, http, witnesses):
    """An open election with a 2-of-3 policy, and its three witnesses (not yet polled)."""
    policy = policy_of(witnesses)
    e = build_election(api_client, manifest={**MANIFEST, "witnesses": policy.to_json()})
    return e, [Witness(d, http, board_key=e.board_key) for d, _ in witnesses], policy


def test_receipts_records_and_the_verifier_require_the_witnesses(witnessed, http, api_app,
                                                                  tmp_path):
    e, witnesses, policy = witnessed
    eid = e.election_id

    # Before any witness has polled there is no cosigned checkpoint to carry.
    first = e.cast_ok(0)
    assert first.cosigned_checkpoint is None

    poll(witnesses, eid)  # all three cosign the board as it is now
    cosigned_size = e.size()
    second = e.cast_ok(1)
    assert second.cosigned_checkpoint is not None
    cp, note = open_checkpoint(second.cosigned_checkpoint, e.board_key, election=eid)
    assert cp.size == cosigned_size <= second.index  # never includes the ballot itself
    assert Receipt.from_json(second.to_json()) == second  # survives the receipt file

    # Right after casting the witnesses have not seen the ballot: the check says so.
    with pytest.raises(WitnessPolicyError) as err:
        check_receipt(http, second)
    assert "check again" in err.value.message

    poll(witnesses, eid)
    done = check_receipt(http, second)
    assert done.witnesses is not None
    assert done.witnesses.signed == NAMES  # all three cosigned the checkpoint with the ballot
    assert done.witnesses.size > second.index
    assert (done.witnesses.at_cast, done.witnesses.at_cast_size) == (NAMES, cosigned_size)
    assert check_receipt(http, first).witnesses.at_cast is None  # cast before any cosignature

    # A receipt whose attached checkpoint is from another history is refused.
    forged_note = _other_root(second.cosigned_checkpoint)
    tampered = Receipt.from_json({**second.to_json(), "cosigned_checkpoint": forged_note})
    with pytest.raises(InvalidSignature):  # the board's signature no longer verifies
        check_receipt(http, tampered)

    # The election ends; witness 2 is down for the final poll, so exactly the threshold
    # (w0, w1) cosign the final board.
    e.tally()
    poll(witnesses[:2], eid)
    out = tmp_path / "record"
    size, _ = export_record(http, eid, out)
    note_bytes = (out / CHECKPOINT_FILE).read_bytes()
    assert Checkpoint.parse(Note.parse(note_bytes).text).size == size == e.size()

    result = CliRunner().invoke(verify_cli, [str(out), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    check = next(c for c in report["checks"] if c["name"] == "witnesses")
    assert check["number"] == 19 and check["status"] == "pass"
    assert f"cosigned by {NAMES[0]}, {NAMES[1]} (2 of 3 needed)" in check["note"]
    assert NAMES[2] not in check["note"]

    # The live server's record verifies the same way.
    live = ServerSource("http://localhost", eid, board_key=e.board_key,
                        transport=httpx.WSGITransport(app=api_app))
    try:
        assert verify_record(Record.load(live)).check("witnesses").status == "pass"
    finally:
        live.close()

    # Remove w1's cosignature: one of three is below the 2-of-3 policy.
    lines = note_bytes.decode().split("\n")
    (out / CHECKPOINT_FILE).write_text("\n".join(x for x in lines if NAMES[1] not in x))
    report = verify_record(Record.load(DirectorySource(out)))
    failed = report.check("witnesses")
    assert failed.status == "fail" and failed.first_failure.code == "witness_policy"
    assert failed.first_failure.evidence["signed"] == [NAMES[0]]
    assert report.failed() == ["witnesses"]
    result = CliRunner().invoke(verify_cli, [str(out), "--workers", "1", "--quiet"])
    assert result.exit_code == 1 and "witnesses" in result.output


def test_the_record_needs_the_final_checkpoint(witnessed, http, tmp_path):
    e, witnesses, _ = witnessed
    eid = e.election_id
    e.cast_ok(0)
    poll(witnesses, eid)
    early = e.size()
    e.cast_ok(1)

    # The record carries the largest cosigned checkpoint, which is behind the board.
    with served_record(e.client, e.url, tmp_path / "record.zip") as source:
        record = Record.load(source)
        assert Checkpoint.parse(Note.parse(record.checkpoint).text).size == early
        lagging = verify_record(record, in_progress=True).check("witnesses")
        assert lagging.status == "pass", lagging.first_failure
        assert f"in progress: cosigned up to entry {early} of {early + 1}" in lagging.note
        final = verify_record(Record.load(source)).check("witnesses")  # not in progress: fails
        assert final.status == "fail" and final.first_failure.code == "board"

    # Without checkpoint.txt a witnessed election fails check 19.
    out = tmp_path / "dir"
    export_record(http, eid, out)
    note_text = (out / CHECKPOINT_FILE).read_text()
    (out / CHECKPOINT_FILE).unlink()
    missing = verify_record(Record.load(DirectorySource(out))).check("witnesses")
    assert missing.status == "fail" and missing.first_failure.code == "missing_checkpoint"
    skipped = verify_record(Record.load(DirectorySource(out)), in_progress=True).check("witnesses")
    assert skipped.status == "skipped"

    # A checkpoint the board did not sign (another root) fails.
    other = tmp_path / "other"
    shutil.copytree(out, other)
    (other / CHECKPOINT_FILE).write_text(_other_root(note_text))
    forged = verify_record(Record.load(DirectorySource(other))).check("witnesses")
    assert forged.status == "fail" and forged.first_failure.code == "invalid_signature"


def test_elections_without_witnesses_are_unchanged(election, tmp_path):
    receipt = election.cast_ok(0)
    assert receipt.cosigned_checkpoint is None
    assert "cosigned_checkpoint" not in receipt.to_json()
    with served_record(election.client, election.url, tmp_path / "record.zip") as source:
        record = Record.load(source)
        assert record.checkpoint is None
        check = verify_record(record, in_progress=True).check("witnesses")
        assert (check.status, check.note) == ("pass", "no witness policy")


def _other_root(note_text: str) -> str:
    """The same note with the root of another tree (all signatures kept, now invalid)."""
    origin, size, root, rest = note_text.split("\n", 3)
    other = "A" * 43 + "=" if root != "A" * 43 + "=" else "E" * 43 + "="
    return "\n".join([origin, size, other, rest])
