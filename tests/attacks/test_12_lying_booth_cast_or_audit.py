"""Item 12 — a compromised booth that encrypts a different choice.

The voter cannot see inside a ciphertext, so a booth (browser, app, malware on
the voter's machine) can encrypt a choice other than the one it displays and
still produce perfectly valid proofs.  During Estonia's 2011 parliamentary
election a student, Paavo Pihelgas, showed a proof-of-concept that could
change a voter's i-vote on the voter's own computer undetected, and filed a
complaint; Estonia's answer (from 2013) was a vote verification app.  Benaloh's cast-or-audit challenge
("Simple verifiable elections", EVT 2006; "Ballot casting assurance via
voter-initiated poll station auditing", EVT 2007), used by Helios and Belenios,
makes such a booth take a gamble: it must commit to the ballot (its tracking
code) before it knows whether the voter will cast it or audit it; an audited
ballot reveals its randomness and anyone can re-encrypt the claimed choices.
The Estonian and Swiss systems faced the same "malicious client" threat and
answered with verification apps and return codes.

evote's defence: an audited ballot carries the claimed selections and the
randomness; :func:`evote.ballot.verify_audit` re-encrypts each option and
raises :class:`~evote.errors.AuditMismatch` naming the first option that
differs (server: 422 audit_mismatch; ``evote-verify audit``: check 3 fails);
an audited ballot's ciphertexts can never be cast afterwards (409
duplicate_ciphertext; verifier: never-cast and unique-ciphertexts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from evote.ballot import (
    AuditedBallot,
    Ballot,
    BallotRandomness,
    encrypt_ballot_deterministic,
    verify_audit,
    verify_ballot,
)
from evote.drbg import SeededRng
from evote.errors import AuditMismatch
from evote.fingerprint import ElectionContext
from evote.signing import SigningKey
from tests.attacks.adversary import download_record, failures, verify_zip
from tests.support.api_election import ApiElection
from verifier.main import cli as verify_cli


@dataclass
class LyingBooth:
    """A booth that shows the voter's choice and encrypts ``secret_choice`` instead.

    Everything it produces is cryptographically valid: the ballot verifies, the
    proofs verify, the signature is the voter's.  When asked to audit, it
    reveals the real randomness but claims the voter's choice.
    """

    ctx: ElectionContext
    credential: SigningKey
    secret_choice: list[list[int]]
    rng: SeededRng

    def encrypt(self, shown_choice: list[list[int]]) -> tuple[Ballot, AuditedBallot]:
        randomness = BallotRandomness.random(self.ctx.manifest, self.rng)
        ballot = encrypt_ballot_deterministic(
            self.ctx, self.credential, self.secret_choice, randomness, self.rng
        )
        claimed = tuple(tuple(row) for row in shown_choice)
        return ballot, AuditedBallot(ballot, claimed, randomness)


VOTER_CHOICE = [[1, 0, 0]]  # "North"
BOOTH_CHOICE = [[0, 0, 1]]  # what the booth really encrypts: "East"


def test_estonia_2011_lying_booth_is_exposed_by_the_audit(live: ApiElection) -> None:
    """The audit re-encrypts the claimed choice with the revealed randomness and
    finds the first option that differs: AuditMismatch at question 0, option 0."""
    booth = LyingBooth(live.ctx, live.credentials[0], BOOTH_CHOICE, live.rng)
    ballot, audited = booth.encrypt(VOTER_CHOICE)
    verify_ballot(live.ctx, ballot)  # the ballot alone gives nothing away
    with pytest.raises(AuditMismatch) as info:
        verify_audit(live.ctx, audited)
    assert info.value.detail == {"question": 0, "option": 0}
    assert "encrypt the revealed value 1" in info.value.message


def test_estonia_2011_lying_booth_audit_is_refused_by_the_server(live: ApiElection) -> None:
    booth = LyingBooth(live.ctx, live.credentials[0], BOOTH_CHOICE, live.rng)
    _, audited = booth.encrypt(VOTER_CHOICE)
    size = live.size()
    response = live.audit(audited, login=live.login(0))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["detail"]) == ("audit_mismatch", {"question": 0, "option": 0})
    assert live.size() == size


def test_estonia_2011_lying_booth_fails_evote_verify_audit(live: ApiElection, tmp_path) -> None:
    """The voter takes the booth's audit file to a second device: ``evote-verify
    audit`` exits 1 with check 3 (re-encryption) failed, code audit_mismatch."""
    booth = LyingBooth(live.ctx, live.credentials[0], BOOTH_CHOICE, live.rng)
    _, audited = booth.encrypt(VOTER_CHOICE)
    live.cast_ok(1)
    record = download_record(live, tmp_path / "record.zip")
    audit_file = tmp_path / "audit.json"
    audit_file.write_text(json.dumps(audited.to_json()))
    result = CliRunner().invoke(
        verify_cli, ["audit", str(audit_file), "--source", str(record), "--json"]
    )
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert checks["re-encryption"]["status"] == "fail"
    assert checks["re-encryption"]["first_failure"]["code"] == "audit_mismatch"
    assert checks["election-context"]["status"] == "pass"


def test_estonia_2011_lying_booth_cannot_invent_randomness_for_the_shown_choice(
    live: ApiElection,
) -> None:
    """Claiming the shown choice with any other randomness fails too: finding r'
    with r'·G = alpha and 1·G + r'·K = beta would mean solving a discrete log."""
    booth = LyingBooth(live.ctx, live.credentials[0], BOOTH_CHOICE, live.rng)
    ballot, _ = booth.encrypt(VOTER_CHOICE)
    for attempt in range(3):
        invented = BallotRandomness.random(live.manifest, SeededRng(bytes([attempt])))
        with pytest.raises(AuditMismatch):
            verify_audit(live.ctx, AuditedBallot(ballot, ((1, 0, 0),), invented))


def test_estonia_2011_honest_audit_then_cast_of_the_same_ballot_is_refused(
    live: ApiElection, tmp_path
) -> None:
    """A booth cannot audit a ballot to build trust and then cast that same
    (now public) ballot: its ciphertexts are refused with 409
    duplicate_ciphertext, the voter re-encrypts to cast, and ``evote-verify
    audit`` on the honest audit passes every check including never-cast."""
    honest = LyingBooth(live.ctx, live.credentials[0], VOTER_CHOICE, live.rng)
    ballot, audited = honest.encrypt(VOTER_CHOICE)
    verify_audit(live.ctx, audited)
    assert live.audit(audited, login=live.login(0)).status_code == 201
    size = live.size()
    response = live.cast(ballot, login=live.login(0))
    assert (response.status_code, response.get_json()["code"]) == (409, "duplicate_ciphertext")
    assert live.size() == size
    live.cast_ok(0, VOTER_CHOICE)

    record = download_record(live, tmp_path / "record.zip")
    assert verify_zip(record, in_progress=True).ok, failures(verify_zip(record, in_progress=True))
    audit_file = tmp_path / "audit.json"
    audit_file.write_text(json.dumps(audited.to_json()))
    result = CliRunner().invoke(verify_cli, ["audit", str(audit_file), "--source", str(record),
                                             "-q"])
    assert result.exit_code == 0, result.output
