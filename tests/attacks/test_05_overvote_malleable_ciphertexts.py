"""Item 5 — overvotes through malleable ciphertexts.

Exponential ElGamal is homomorphic: whoever builds a ciphertext can put any
exponent in it, and nothing in the ciphertext says "0 or 1".  A ballot that
encrypts 2 for a candidate (or −1 for a rival, i.e. L−1, the same group
element), or marks more options than the question allows, changes the tally
by more than one vote and would be invisible after homomorphic addition.
Cramer, Gennaro and Schoenmakers ("A secure and optimally efficient
multi-authority election scheme", EUROCRYPT 1997) made every homomorphic
ballot prove that it encrypts 0 or 1 for exactly this reason, and Helios and
every system after it do the same; without the proofs (or with a proof that
does not cover the total), one voter can add or subtract arbitrarily many
votes.

evote's defence: each option carries a disjunctive proof over
``question.option_range`` and each question whose total is not implied by
those carries a proof over ``[min, max]`` of the homomorphic sum, all bound to
the voter's credential.  The server refuses a ballot whose proofs fail with
422 invalid_proof naming question and option; the verifier fails the ballots
check at the entry if a server appends one anyway.
"""

from __future__ import annotations

import pytest

from evote.ballot import (
    Ballot,
    BallotSecrets,
    EncryptedAnswer,
    encrypt_ballot,
    option_proof_context,
    sign_ballot,
    sum_proof_context,
    verify_ballot,
)
from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, encrypt, sum_ciphertexts
from evote.errors import InvalidProof
from evote.fingerprint import ElectionContext
from evote.group import G, L, Point, Scalar
from evote.proofs import prove_range
from evote.signing import SigningKey
from tests.attacks.adversary import cut_at, failures, forge_board, pairs_of, verify
from tests.support.api_election import ApiElection
from tests.support.recordgen import GeneratedRecord

rng = SeededRng(b"attack-overvote")


def encrypt_any(key: Point, m: int, r: Scalar) -> Ciphertext:
    """Encrypt any integer exponent (negative ones mod L), as an attacker would."""
    return Ciphertext(Point.base_mul(r), Point.base_mul(Scalar.from_int(m)) + key * r)


def with_values(
    ctx: ElectionContext,
    voter: SigningKey,
    honest: Ballot,
    secrets: BallotSecrets,
    q: int,
    values: dict[int, int],
    *,
    genuine_sum_proof: bool,
    rng,
) -> Ballot:
    """The voter's own ballot with some option ciphertexts replaced by encryptions
    of ``values``; option proofs are kept (they are all the attacker has), the sum
    proof is kept or, when the forged values still add up to an allowed total,
    genuinely recomputed (the attacker knows all its randomness)."""
    question = ctx.manifest.questions[q]
    rs = list(secrets.randomness.values[q])
    chosen = list(secrets.selections[q])
    choices = list(honest.answers[q].choices)
    for o, m in values.items():
        rs[o], chosen[o] = Scalar.random(rng), m
        choices[o] = encrypt_any(ctx.joint_key, m, rs[o])
    sum_proof = honest.answers[q].sum_proof
    if genuine_sum_proof:
        lo, hi = question.sum_range
        total = sum(chosen)
        assert lo <= total <= hi
        total_r = Scalar.from_int(0)
        for r in rs:
            total_r = total_r + r
        sctx = sum_proof_context(ctx.fingerprint, voter.verify_key, ctx.election_id, q)
        sum_proof = prove_range(
            sctx, ctx.joint_key, sum_ciphertexts(choices), total, total_r, lo, hi, rng
        )
    answers = list(honest.answers)
    answers[q] = EncryptedAnswer(tuple(choices), honest.answers[q].proofs, sum_proof)
    return sign_ballot(ctx, voter, answers)


def two_marks(ctx: ElectionContext, voter: SigningKey, honest: Ballot, rng) -> Ballot:
    """Options 0 and 1 both marked on a pick-one question, each with a *genuine*
    0/1 proof; the sum proof claims the total 2 is 1 (the honest prover refuses)."""
    key, q = ctx.joint_key, 0
    rs = [Scalar.random(rng) for _ in range(3)]
    choices, proofs = [], []
    for o, (v, r) in enumerate(zip([1, 1, 0], rs, strict=True)):
        ct = encrypt(key, v, r)
        pctx = option_proof_context(ctx.fingerprint, voter.verify_key, ctx.election_id, q, o)
        choices.append(ct)
        proofs.append(prove_range(pctx, key, ct, v, r, 0, 1, rng))
    total = sum_ciphertexts(choices)
    sctx = sum_proof_context(ctx.fingerprint, voter.verify_key, ctx.election_id, q)
    with pytest.raises(ValueError, match="outside the range"):
        prove_range(sctx, key, total, 2, rs[0] + rs[1] + rs[2], 1, 1, rng)
    lie = prove_range(sctx, key, total, 1, rs[0] + rs[1] + rs[2], 1, 1, rng)
    answers = list(honest.answers)
    answers[0] = EncryptedAnswer(tuple(choices), tuple(proofs), lie)
    return sign_ballot(ctx, voter, answers)


def test_cgs1997_minus_one_and_l_minus_one_are_the_same_attack() -> None:
    """−1 and L−1 are one exponent: a decoder cannot tell them apart, only the proof can."""
    key = Point.base_mul(Scalar.from_int(99))
    r = Scalar.from_int(5)
    assert encrypt_any(key, -1, r) == encrypt(key, L - 1, r) == Ciphertext(r * G, -G + key * r)


# (values replacing the voter's [0, 1, 0] on the pick-one question, sum proof, rejected at)
LIVE_OVERVOTES = {
    "two-for-one-option": ({0: 2}, False, {"question": 0, "option": 0}),
    "minus-one-for-a-rival": ({2: -1}, False, {"question": 0, "option": 2}),
    "L-minus-one-for-a-rival": ({2: L - 1}, False, {"question": 0, "option": 2}),
    # 2 + (−1) + 0 = 1: the total is allowed and its proof genuine; the options are not.
    "two-and-minus-one-total-one": ({0: 2, 1: -1}, True, {"question": 0, "option": 0}),
}


@pytest.mark.parametrize("name", sorted(LIVE_OVERVOTES))
def test_cgs1997_overvote_ciphertexts_are_refused_by_the_server(live: ApiElection, name: str) -> None:
    values, genuine_sum, where = LIVE_OVERVOTES[name]
    ballot, secrets = live.ballot(0, [[0, 1, 0]])
    bad = with_values(
        live.ctx, live.credentials[0], ballot, secrets, 0, values,
        genuine_sum_proof=genuine_sum, rng=live.rng,
    )
    with pytest.raises(InvalidProof) as info:
        verify_ballot(live.ctx, bad)
    assert info.value.detail == where
    size = live.size()
    response = live.cast(bad, login=live.login(0))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["detail"]) == ("invalid_proof", where)
    assert live.size() == size


def test_cgs1997_over_max_sum_is_refused_by_the_server(live: ApiElection) -> None:
    """Two marks on a pick-one question, each with a genuine 0/1 proof: only the
    sum proof can catch it, and it does (422 invalid_proof, question 0)."""
    ballot, _ = live.ballot(0)
    bad = two_marks(live.ctx, live.credentials[0], ballot, live.rng)
    size = live.size()
    response = live.cast(bad, login=live.login(0))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["detail"]) == ("invalid_proof", {"question": 0})
    assert "total" in body["message"]
    assert live.size() == size


# Score question "budget" of the honest record: 0..3 points per option, total 0..4.
RECORD_OVERVOTES = {
    "score-above-max-score": (1, {0: 4}, {"question": 1, "option": 0}),
    "negative-score": (1, {1: -1}, {"question": 1, "option": 1}),
    "score-L-minus-one": (1, {1: L - 1}, {"question": 1, "option": 1}),
    "choice-two": (0, {2: 2}, {"question": 0, "option": 2}),
}


@pytest.mark.parametrize("name", sorted(RECORD_OVERVOTES))
def test_cgs1997_overvote_appended_by_the_server_fails_the_verifier(
    honest: GeneratedRecord, record_copy, name: str
) -> None:
    """A server that appends an overvoting ballot (a colluding voter's, signed
    by its credential) fails the verifier's ballots check at that entry."""
    q, values, where = RECORD_OVERVOTES[name]
    e = honest.election
    voter = e.voters[4]
    ballot, secrets = encrypt_ballot(e.ctx, voter, [[1, 0, 0], [1, 1]], rng)
    bad = with_values(e.ctx, voter, ballot, secrets, q, values, genuine_sum_proof=False, rng=rng)
    with pytest.raises(InvalidProof) as info:
        verify_ballot(e.ctx, bad)
    assert info.value.detail == where
    pairs = cut_at(honest.entries, "election_closed")
    rest = pairs_of(honest.entries)[len(pairs) :]
    forge_board(record_copy, e, [*pairs, ("ballot_cast", {"ballot": bad.to_json()}), *rest])
    report = verify(record_copy)
    assert failures(report) == {"ballots": "invalid_proof"}
    failure = report.check("ballots").first_failure
    assert failure.index == len(pairs)
    assert f"question {where['question']}" in failure.message


def test_cgs1997_score_total_over_max_fails_the_verifier(honest: GeneratedRecord, record_copy) -> None:
    """3 + 3 points where at most 4 may be given in total: each option is in range,
    the sum proof (kept from the honest 1 + 1 ballot) is not, so the ballot fails."""
    e = honest.election
    voter = e.voters[4]
    ballot, _ = encrypt_ballot(e.ctx, voter, [[1, 0, 0], [1, 1]], rng)
    # Genuine option proofs for 3 and 3, so that only the total is wrong.
    key = e.ctx.joint_key
    rs = [Scalar.random(rng) for _ in range(2)]
    choices = tuple(encrypt(key, 3, r) for r in rs)
    proofs = tuple(
        prove_range(option_proof_context(e.ctx.fingerprint, voter.verify_key, e.election_id, 1, o),
                    key, ct, 3, r, 0, 3, rng)
        for o, (ct, r) in enumerate(zip(choices, rs, strict=True))
    )
    answers = list(ballot.answers)
    answers[1] = EncryptedAnswer(choices, proofs, ballot.answers[1].sum_proof)
    bad = sign_ballot(e.ctx, voter, answers)
    with pytest.raises(InvalidProof) as info:
        verify_ballot(e.ctx, bad)
    assert info.value.detail == {"question": 1}
    pairs = cut_at(honest.entries, "election_closed")
    rest = pairs_of(honest.entries)[len(pairs) :]
    forge_board(record_copy, e, [*pairs, ("ballot_cast", {"ballot": bad.to_json()}), *rest])
    report = verify(record_copy)
    assert failures(report) == {"ballots": "invalid_proof"}
    assert "[0, 4]" in report.check("ballots").first_failure.message

