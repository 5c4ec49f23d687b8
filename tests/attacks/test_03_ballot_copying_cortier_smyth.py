"""Item 3 — ballot copying and replay (Cortier and Smyth, 2011).

Véronique Cortier and Ben Smyth, "Attacking and fixing Helios: an analysis of
ballot secrecy" (CSF 2011; JCS 2013): an attacker re-submits a victim's
ciphertexts (verbatim, or re-randomised, or permuted) as its own ballot;
because Helios's proofs were not bound to the voter, the copy verified, and the
difference it made to the tally revealed the victim's vote.

evote's defences, each tested here against the live server and the verifier:

* every proof's Fiat–Shamir context holds the voter's credential, and the
  ballot is signed by it, so identical ciphertexts under another credential
  fail their proofs (422 invalid_proof), and re-randomised ciphertexts fail
  them too (the proofs hash the ciphertext, and nobody but the victim knows
  the new randomness);
* the server refuses any ciphertext whose alpha (r·G) is already on the board
  (409 duplicate_ciphertext); the one exception, the very same ballot sent
  again by its own login (a lost answer, docs/api.md §5.1), is answered with
  its original receipt and appends nothing, so a replay of a voter's earlier
  ballot after a re-vote changes nothing; a server that appends it anyway
  fails the verifier's unique-ciphertexts check, so it is never silently
  counted.
"""

from __future__ import annotations

import pytest

from evote.ballot import Ballot, EncryptedAnswer, sign_ballot, verify_ballot
from evote.elgamal import Ciphertext
from evote.errors import InvalidProof
from evote.group import Point, Scalar
from tests.attacks.adversary import (
    credential_of,
    cut_at,
    download_record,
    failures,
    forge_board,
    pairs_of,
    verify,
    verify_zip,
)
from tests.support.api_election import ApiElection
from tests.support.recordgen import GeneratedRecord


def rerandomised(ballot: Ballot, key: Point, rng) -> tuple[EncryptedAnswer, ...]:
    """Every ciphertext times an encryption of 0 (fresh alpha), the original proofs kept."""
    out = []
    for answer in ballot.answers:
        cts = []
        for ct in answer.choices:
            r = Scalar.random(rng)
            cts.append(Ciphertext(ct.alpha + Point.base_mul(r), ct.beta + key * r))
        out.append(EncryptedAnswer(tuple(cts), answer.proofs, answer.sum_proof))
    return tuple(out)


def refused(e: ApiElection, response, status: int, code: str, size: int) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == code, body
    assert e.size() == size  # nothing was written
    return body


# --- identical ciphertexts under another credential ------------------------------------


def test_cortier_smyth_2011_identical_ciphertexts_under_another_credential(
    live: ApiElection,
) -> None:
    """Voter 1 (the attacker) copies voter 0's cast ciphertexts and proofs, signs
    them with its own credential and casts them with its own login: refused
    with 422 invalid_proof at question 0, option 0.  Casting voter 0's ballot
    verbatim with the attacker's login is refused by the binding (403), and
    replaying it with voter 0's own login only returns its original receipt
    (200, nothing appended)."""
    victim, _ = live.ballot(0)
    response = live.cast(victim, login=live.login(0))
    assert response.status_code == 201
    size = live.size()

    copy = sign_ballot(live.ctx, live.credentials[1], victim.answers)
    with pytest.raises(InvalidProof) as info:
        verify_ballot(live.ctx, copy)
    assert info.value.detail == {"question": 0, "option": 0}
    body = refused(live, live.cast(copy, login=live.login(1)), 422, "invalid_proof", size)
    assert body["detail"] == {"question": 0, "option": 0}

    refused(live, live.cast(victim, login=live.login(1)), 403, "binding", size)
    replay = live.cast(victim, login=live.login(0))
    assert replay.status_code == 200 and replay.get_json() == response.get_json()
    assert live.size() == size


def test_cortier_smyth_2011_copy_on_the_board_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """A server that appends the copy anyway (it cannot sign for the victim, so
    it uses a colluding voter's credential) fails the verifier's ballots check
    at that entry with invalid_proof; the copy is never counted, so the tally
    is still the honest one."""
    e = honest.election
    pairs = cut_at(honest.entries, "election_closed")
    victim = next(p for k, p in pairs if k == "ballot_cast")
    victim_ballot = Ballot.from_json(victim["ballot"], e.manifest)
    attacker = e.voters[5]
    assert attacker.verify_key != victim_ballot.credential
    copy = sign_ballot(e.ctx, attacker, victim_ballot.answers)
    rest = pairs_of(honest.entries)[len(pairs) :]
    at = len(pairs)
    forge_board(record_copy, e, [*pairs, ("ballot_cast", {"ballot": copy.to_json()}), *rest])
    report = verify(record_copy)
    failed = failures(report)
    assert failed == {"ballots": "invalid_proof"}
    assert report.check("ballots").first_failure.index == at


# --- a re-randomised copy carrying the original proofs ------------------------------------


def test_cortier_smyth_2011_rerandomised_copy_with_the_original_proofs(
    live: ApiElection,
) -> None:
    """The attacker re-randomises the victim's ciphertexts (new alphas, so no
    duplicate check can see the copy) and keeps the victim's proofs: the proofs
    hash the ciphertext and the credential, so the copy is refused with 422
    invalid_proof whether it is signed by the attacker's credential or sent
    under the victim's (whose signature then fails)."""
    victim, _ = live.ballot(0)
    assert live.cast(victim, login=live.login(0)).status_code == 201
    size = live.size()
    answers = rerandomised(victim, live.ctx.joint_key, live.rng)
    new_alphas = {ct.alpha.raw for a in answers for ct in a.choices}
    assert not new_alphas & victim.ciphertext_alphas()  # invisible to a duplicate check

    copy = sign_ballot(live.ctx, live.credentials[1], answers)
    refused(live, live.cast(copy, login=live.login(1)), 422, "invalid_proof", size)
    # Keeping the victim's credential and signature does not help: it no longer signs this.
    forged = Ballot(victim.election_id, victim.credential, answers, victim.signature)
    refused(live, live.cast(forged, login=live.login(1)), 422, "invalid_signature", size)


# --- a replayed earlier ballot after a re-vote ----------------------------------------------


def test_cortier_smyth_2011_replayed_ballot_after_a_revote_is_refused(
    live: ApiElection, tmp_path
) -> None:
    """Voter 0 votes for option 1, then re-votes for option 2.  Replaying the
    first request (same ballot, same login: a network attacker or a dishonest
    front end) appends nothing: it is answered with the first ballot's original
    receipt (200, idempotent casting), the re-vote is what counts, and the live
    server's record verifies."""
    first, _ = live.ballot(0, [[0, 1, 0]])
    second, _ = live.ballot(0, [[0, 0, 1]])
    original = live.cast(first, login=live.login(0))
    assert original.status_code == 201
    assert live.cast(second, login=live.login(0)).status_code == 201
    size = live.size()
    replay = live.cast(first, login=live.login(0))
    assert replay.status_code == 200 and replay.get_json() == original.get_json()
    assert live.size() == size
    result = live.tally()
    assert result.counts == ((0, 0, 1),)
    report = verify_zip(download_record(live, tmp_path / "record.zip"))
    assert report.ok, failures(report)


def test_cortier_smyth_2011_replay_appended_by_the_server_is_not_counted(
    honest: GeneratedRecord, record_copy
) -> None:
    """A server that appends the replayed first ballot after the re-vote (so that
    it, not the re-vote, would count) fails the verifier: unique-ciphertexts at
    the replay, and the posted tally no longer matches what it would count."""
    e = honest.election
    pairs = cut_at(honest.entries, "election_closed")
    by_credential: dict[bytes, list[int]] = {}
    for i, (k, p) in enumerate(pairs):
        if k == "ballot_cast":
            by_credential.setdefault(credential_of(p).raw, []).append(i)
    first, revote = next(v for v in by_credential.values() if len(v) == 2)
    replay = pairs[first]
    rest = pairs_of(honest.entries)[len(pairs) :]
    forge_board(record_copy, e, [*pairs, replay, *rest])
    report = verify(record_copy)
    failed = failures(report)
    assert failed["unique-ciphertexts"] == "duplicate_ciphertext"
    assert report.check("unique-ciphertexts").first_failure.index == len(pairs)
    assert "ballots" not in failed  # the replay is a valid ballot: only the duplicate check sees it
    assert failed["aggregation"] == "tally"
    assert revote > first
