"""Casting and auditing through the API: every rule has its own status and code,
and a refused ballot leaves the board exactly as it was.

Runs on SQLite and PostgreSQL (the ``db_url`` fixture)."""

from __future__ import annotations

import dataclasses

import pytest

from ballot_server import create_app
from evote.ballot import AuditedBallot, sign_ballot
from evote.board import Receipt
from evote.credentials import CredentialList
from evote.encoding import b64decode, b64encode
from evote.signing import SigningKey
from tests.support import api_election
from tests.support.api_election import ApiElection, build_election, server_config

# The shared fixtures (one database per module, a new election per test).
api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


def refused(e: ApiElection, response, status: int, code: str, size: int) -> None:
    """The answer is the JSON error and the board did not change."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert e.size() == size


# --- the happy path ---------------------------------------------------------------


def test_cast_returns_a_receipt_that_verifies(election: ApiElection) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    response = election.cast(ballot, login=election.login(0))
    assert response.status_code == 201
    receipt = Receipt.from_json(response.get_json())
    receipt.verify(election.board_key)
    assert receipt.index == size
    assert receipt.tracking_code == ballot.tracking_code
    entry = election.entries()[receipt.index]
    receipt.verify_entry(entry)
    assert entry.kind == "ballot_cast"
    assert entry.payload == {"ballot": ballot.to_json()}
    assert election.size() == size + 1


def test_the_board_holds_nothing_about_the_login(election: ApiElection) -> None:
    receipt = election.cast_ok(0)
    entry = election.entries()[receipt.index]
    text = str(entry.to_json())
    voter_id = election.voter_ids[0]
    assert voter_id not in text
    assert election.login(0) not in text
    assert "127.0.0.1" not in text


def test_revoting_keeps_every_ballot_and_the_last_one_counts(election: ApiElection) -> None:
    first = election.cast_ok(0, [[1, 0, 0]])
    second = election.cast_ok(0, [[0, 0, 1]])
    election.cast_ok(1, [[0, 1, 0]])
    assert second.index > first.index
    kinds = [e.kind for e in election.entries()]
    assert kinds.count("ballot_cast") == 3
    result = election.tally()
    assert result.counts == ((0, 1, 1),)
    summary = election.client.get(election.url).get_json()
    assert summary["phase"] == "tallied"
    assert summary["result"] == {"counts": [[0, 1, 1]]}


def test_ballot_lookup_by_tracking_code(election: ApiElection) -> None:
    receipt = election.cast_ok(2)
    found = election.client.get(f"{election.url}/ballots/{receipt.tracking_code}")
    assert found.status_code == 200
    assert found.get_json()["index"] == receipt.index
    for code in ("0000-0000-0000-0000", "AB%00CD", "%C3%A9", "x" * 201):
        missing = election.client.get(f"{election.url}/ballots/{code}")
        assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"


# --- one test per casting rule -----------------------------------------------------


def test_cast_before_the_election_opens_is_wrong_phase(api_client) -> None:
    e = build_election(api_client, stop_before="election_opened")
    size = e.size()
    ballot, _ = e.ballot(0)
    refused(e, e.cast(ballot, login=e.login(0)), 409, "wrong_phase", size)


def test_cast_after_close_is_wrong_phase(election: ApiElection) -> None:
    ballot, _ = election.ballot(0)
    election.close()
    size = election.size()
    refused(election, election.cast(ballot, login=election.login(0)), 409, "wrong_phase", size)


def test_cast_after_close_by_another_worker_is_refused_under_the_lock(
    election: ApiElection, api_app
) -> None:
    """A second app on the same database (another worker) closes the election;
    this app's cached view still says open, and the locked check refuses."""
    election.cast_ok(0)  # warms this app's caches while open
    other = create_app(
        server_config(
            api_app.config["EVOTE_DATABASE_URL"],
            api_app.instance_path,
        )
    )
    closer = dataclasses.replace(election, client=other.test_client())
    closer.close()
    size = election.size()
    ballot, _ = election.ballot(1)
    refused(election, election.cast(ballot, login=election.login(1)), 409, "wrong_phase", size)


def test_cast_without_login_is_unauthenticated(election: ApiElection) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    response = election.cast(ballot, login=None)
    refused(election, response, 401, "unauthenticated", size)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda code: code[:-2] + ("AA" if code[-2:] != "AA" else "AQ"), id="wrong-secret"),
        pytest.param(lambda code: b64encode(b"nobody") + code[code.index(".") :], id="unknown-voter"),
        pytest.param(lambda code: code.replace(".", ""), id="malformed"),
        pytest.param(lambda code: "x", id="garbage"),
    ],
)
def test_cast_with_a_bad_login_code_is_unauthenticated(election: ApiElection, mangle) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    refused(election, election.cast(ballot, login=mangle(election.login(0))), 401, "unauthenticated", size)


def test_cast_with_basic_auth_is_unauthenticated(election: ApiElection) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    response = election.client.post(
        f"{election.url}/ballots",
        json=ballot.to_json(),
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    refused(election, response, 401, "unauthenticated", size)


def test_cast_with_a_credential_not_on_the_list_is_forbidden(election: ApiElection) -> None:
    size = election.size()
    rogue = SigningKey.generate(election.rng)
    # The rogue ballot is made against a context that lists the rogue key, the
    # way a forger would have to; the server checks its own list first.
    assert election.credential_list is not None and election.ctx is not None
    listed = CredentialList.of(
        [*(c.key for c in election.credential_list.entries), rogue.verify_key]
    )
    ctx = dataclasses.replace(election.ctx, credentials=listed)
    forged = dataclasses.replace(election, ctx=ctx, credentials=[rogue])
    ballot, _ = forged.ballot(0)
    refused(election, election.cast(ballot, login=election.login(0)), 403, "bad_credential", size)


def test_a_credential_is_bound_to_the_first_login_that_uses_it(election: ApiElection) -> None:
    election.cast_ok(0)
    size = election.size()
    ballot, _ = election.ballot(0)  # credential 0 again
    refused(election, election.cast(ballot, login=election.login(1)), 403, "binding", size)


def test_a_login_cannot_cast_with_a_second_credential(election: ApiElection) -> None:
    election.cast_ok(0)
    size = election.size()
    ballot, _ = election.ballot(1)  # credential 1, never used
    refused(election, election.cast(ballot, login=election.login(0)), 403, "binding", size)
    # Credential 1 is still free for its own voter: the refused cast bound nothing.
    election.cast_ok(1)


def test_a_ballot_with_a_bad_signature_is_refused(election: ApiElection) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    doc = ballot.to_json()
    sig = bytearray(b64decode(doc["signature"]))
    sig[0] ^= 1
    doc["signature"] = b64encode(bytes(sig))
    refused(election, election.cast(doc, login=election.login(0)), 422, "invalid_signature", size)
    election.cast_ok(0)  # the refused cast did not bind the credential to anyone else


def test_a_ballot_with_a_bad_proof_is_refused(election: ApiElection) -> None:
    """Proofs swapped between options, then signed properly: only the proof is wrong."""
    size = election.size()
    ballot, _ = election.ballot(0)
    answer = ballot.answers[0]
    proofs = (answer.proofs[1], answer.proofs[0], *answer.proofs[2:])
    tampered = dataclasses.replace(answer, proofs=proofs)
    assert election.ctx is not None
    forged = sign_ballot(election.ctx, election.credentials[0], [tampered])
    refused(election, election.cast(forged, login=election.login(0)), 422, "invalid_proof", size)


def test_a_malformed_ballot_is_a_schema_error(election: ApiElection) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    doc = ballot.to_json()
    del doc["answers"]
    refused(election, election.cast(doc, login=election.login(0)), 422, "bad_schema", size)


def test_a_ballot_for_another_election_is_invalid(election: ApiElection) -> None:
    size = election.size()
    ballot, _ = election.ballot(0)
    doc = ballot.to_json()
    doc["election_id"] = "another-poll"
    refused(election, election.cast(doc, login=election.login(0)), 422, "invalid_ballot", size)


def test_the_same_ballot_cast_twice_is_on_the_board_once(election: ApiElection) -> None:
    """A resend is answered with the original receipt (tests/server/test_api_resend.py)."""
    ballot, _ = election.ballot(0)
    first = election.cast(ballot, login=election.login(0))
    assert first.status_code == 201
    size = election.size()
    again = election.cast(ballot, login=election.login(0))
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert election.size() == size


def test_a_ballot_reusing_randomness_inside_itself_is_refused(election: ApiElection) -> None:
    """Two options encrypted with the same randomness (a broken device)."""
    from evote.ballot import BallotRandomness, encrypt_ballot_deterministic
    from evote.group import Scalar

    assert election.ctx is not None
    r = Scalar.random(election.rng)
    randomness = BallotRandomness(((r, r, Scalar.random(election.rng)),))
    ballot = encrypt_ballot_deterministic(
        election.ctx, election.credentials[0], [[1, 0, 0]], randomness, election.rng
    )
    size = election.size()
    refused(
        election, election.cast(ballot, login=election.login(0)), 409, "duplicate_ciphertext", size
    )


# --- audits -----------------------------------------------------------------------


def test_an_audited_ballot_goes_on_the_board_and_can_never_be_cast(election: ApiElection) -> None:
    ballot, secrets = election.ballot(0)
    audited = AuditedBallot.from_secrets(ballot, secrets)
    response = election.audit(audited, login=election.login(0))
    assert response.status_code == 201, response.get_json()
    receipt = Receipt.from_json(response.get_json())
    receipt.verify(election.board_key)
    entry = election.entries()[receipt.index]
    assert entry.kind == "ballot_audited"
    assert entry.payload == {"audited": audited.to_json()}
    size = election.size()
    refused(
        election, election.cast(ballot, login=election.login(0)), 409, "duplicate_ciphertext", size
    )
    # Casting a fresh ballot afterwards works (auditing bound nothing).
    election.cast_ok(0)


def test_an_audit_that_does_not_reencrypt_is_refused(election: ApiElection) -> None:
    ballot, secrets = election.ballot(0, [[1, 0, 0]])
    lie = AuditedBallot(ballot, ((0, 1, 0),), secrets.randomness)
    size = election.size()
    refused(election, election.audit(lie, login=election.login(0)), 422, "audit_mismatch", size)


def test_an_audit_needs_a_login(election: ApiElection) -> None:
    ballot, secrets = election.ballot(0)
    size = election.size()
    response = election.audit(AuditedBallot.from_secrets(ballot, secrets), login=None)
    refused(election, response, 401, "unauthenticated", size)


def test_a_cast_ballot_cannot_be_audited_afterwards(election: ApiElection) -> None:
    """Publishing a counted ballot's randomness would reveal the vote."""
    ballot, secrets = election.ballot(0)
    assert election.cast(ballot, login=election.login(0)).status_code == 201
    size = election.size()
    response = election.audit(AuditedBallot.from_secrets(ballot, secrets), login=election.login(0))
    refused(election, response, 409, "duplicate_ciphertext", size)


# --- rate limit -------------------------------------------------------------------


def test_casting_is_rate_limited_per_address(api_db, tmp_path) -> None:
    app = create_app(
        server_config(api_db, str(tmp_path / "i"), EVOTE_CAST_BURST=2, EVOTE_CAST_RATE=0.6)
    )
    e = build_election(app.test_client())
    e.cast_ok(0)
    e.cast_ok(1)
    size = e.size()
    ballot, _ = e.ballot(2)
    response = e.cast(ballot, login=e.login(2))
    refused(e, response, 429, "rate_limited", size)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["detail"]["retry_after"] == int(response.headers["Retry-After"])
    other = e.cast(ballot, login=e.login(2), environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 201
