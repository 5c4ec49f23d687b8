"""The verifier against the real ballot server: an election run through the HTTP API.

The election (tests/support/api_election.py) is set up, voted in (with a re-vote and
an audited ballot) and tallied through ``/api/v1`` exactly as the parties do;
then the verifier checks it three ways -- the record archive the server
exports, the live server read page by page, and a voter's receipt and audit
against the live server -- and every check must pass.  The server runs
in-process behind ``httpx.WSGITransport`` (no network).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from evote.ballot import AuditedBallot
from tests.support import api_election
from verifier.audit import verify_audit_file
from verifier.checks import verify_record
from verifier.receipt import verify_receipt
from verifier.record import Record
from verifier.sources import ServerSource, ZipSource

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


@pytest.fixture
def voted(election: api_election.ApiElection):
    """The election after 3 voters voted (one twice), one audit, and the tally."""
    receipt = election.cast_ok(0)
    election.cast_ok(1)
    election.cast_ok(2)
    election.cast_ok(1, [[1 if o == 2 else 0 for o in range(len(q.options))]
                         for q in election.manifest.questions])
    ballot, secrets = election.ballot(3)
    audited = AuditedBallot.from_secrets(ballot, secrets)
    response = election.audit(audited, login=election.login(3))
    assert response.status_code == 201, response.get_json()
    audit_receipt = response.get_json()
    result = election.tally()
    return election, receipt, audited, result, audit_receipt


def live_source(app, election) -> ServerSource:
    return ServerSource("http://testserver", election.election_id,
                        transport=httpx.WSGITransport(app=app), board_key=election.board_key)


def test_exported_record_archive_verifies(voted, tmp_path: Path):
    election, _, _, result, _ = voted
    response = election.client.get(f"{election.url}/record")
    assert response.status_code == 200
    archive = tmp_path / "record.zip"
    archive.write_bytes(response.data)
    report = verify_record(Record.load(ZipSource(archive)))
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != "pass"]
    assert report.check("ballots").counts == {"ballots": 4, "valid": 4, "re-votes": 1}
    assert report.check("audited-ballots").counts["audited"] == 1
    assert [[o.total for o in q.options] for q in report.result] == [
        list(row) for row in result.counts]


def test_live_server_verifies_page_by_page(voted, api_app):
    election, *_ = voted
    report = verify_record(Record.load(live_source(api_app, election)))
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != "pass"]
    assert report.check("consistency").counts["server proofs"] >= 1


def test_receipt_and_audit_against_the_live_server(voted, api_app):
    election, receipt, audited, _, audit_receipt = voted
    report = verify_receipt(Record.load(live_source(api_app, election)), receipt.to_json())
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != "pass"]
    report = verify_receipt(Record.load(live_source(api_app, election)), audit_receipt)
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != "pass"]
    assert "never counted" in report.check("entry-on-board").note
    report = verify_audit_file(Record.load(live_source(api_app, election)),
                               json.loads(json.dumps(audited.to_json())))
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != "pass"]


def test_live_election_in_progress(election, api_app):
    election.cast_ok(0)
    report = verify_record(Record.load(live_source(api_app, election)), in_progress=True)
    assert report.ok, report.failed()
    assert {c.name for c in report.checks if c.status == "skipped"} == {
        "counted-set", "aggregation", "partial-decryptions", "combination", "result"}
