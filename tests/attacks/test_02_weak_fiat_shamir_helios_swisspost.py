"""Item 2 — weak Fiat–Shamir (Helios 2012; Swiss Post / Scytl 2019).

* Bernhard, Pereira, Warinschi, "How not to prove yourself: pitfalls of the
  Fiat–Shamir heuristic and applications to Helios" (ASIACRYPT 2012): Helios
  hashed only the proof commitments, not the statement (key, ciphertext), so a
  prover could pick the statement after the challenge and "prove" that an
  encryption of 2 holds 0 or 1, or make a decryption proof for a wrong value.
* Haines, Lewis, Pereira, Teague, "How not to prove your election outcome"
  (IEEE S&P 2020, from their 2019 review of the Swiss Post / Scytl sVote
  system): its decryption proofs used the same weak form, letting a cheating
  authority prove a false decryption.

evote's defence: every challenge is ``hash_to_scalar(tag, ctx..., statement...,
commitments...)`` with each field length-prefixed (:mod:`evote.hashing`), and
ctx pins the protocol step, election fingerprint, voter credential, trustee,
question and option.  The range-proof forgery itself lives in
``tests/test_proofs.py`` (reused here, not repeated); this module carries it to
a whole signed ballot, and adds the Schnorr and DLEQ statements and the
injectivity of the transcript encoding.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import dkg
from evote.ballot import EncryptedAnswer, encrypt_ballot, sign_ballot, verify_ballot
from evote.credentials import CredentialList
from evote.dkg import trustee as dkg_trustee
from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, decrypt_to_point, discrete_log, encrypt
from evote.errors import DecryptionError, InvalidProof, InvalidSignature, KeyCeremonyError
from evote.fingerprint import ElectionContext
from evote.group import G, Point, Scalar, small_multiple
from evote.hashing import (
    PROTOCOL,
    TAG_BALLOT_SIGNATURE,
    TAG_DLEQ,
    TAG_SCHNORR,
    hash_to_scalar,
    transcript,
)
from evote.manifest import Manifest
from evote.proofs import (
    DleqProof,
    RangeProof,
    SchnorrProof,
    prove_dleq,
    verify_dleq,
    verify_schnorr,
)
from evote.signing import SigningKey
from evote.tally import EncryptedTally, PartialDecryption, verify_partial
from tests.attacks.adversary import command, failures, forge_board, pairs_of, verify
from tests.recordgen import GeneratedRecord
from tests.test_proofs import forge_with_statement_after_challenge, weak_challenge, weak_verify

rng = SeededRng(b"attack-weak-fiat-shamir")

APPROVAL = Manifest.from_json(
    {
        "election_id": "weak-fs",
        "title": "Approval poll",
        "questions": [
            {
                "id": "approve",
                "title": "Approve any",
                "options": ["Yes to A", "Yes to B"],
                "kind": "choice",
                "min": 0,
                "max": 2,
            }
        ],
    }
)


# --- the weak verifier a broken system would run --------------------------------


def weak_prove_01(key: Point, ct: Ciphertext, m: int, r: Scalar) -> RangeProof:
    """An honest 0/1 proof under the weak challenge (commitments only)."""
    w, c_sim, s_sim = (Scalar.random(rng) for _ in range(3))
    commitments: list[Point] = []
    for v in (0, 1):
        if v == m:
            commitments += [Point.base_mul(w), key * w]
        else:
            shifted = ct.beta - small_multiple(v) if v else ct.beta
            commitments += [
                Point.base_mul(s_sim) - ct.alpha * c_sim,
                key * s_sim - shifted * c_sim,
            ]
    c_real = weak_challenge(commitments) - c_sim
    real = (c_real, w + c_real * r)
    return RangeProof((real, (c_sim, s_sim)) if m == 0 else ((c_sim, s_sim), real))


def weak_verify_ballot(ctx: ElectionContext, ballot) -> None:
    """The ballot check of a weak-Fiat–Shamir system: signature, then weak proofs."""
    ballot.credential.verify(
        TAG_BALLOT_SIGNATURE, [ctx.fingerprint, ballot.content_for_signature()], ballot.signature
    )
    for answer in ballot.answers:
        for ct, proof in zip(answer.choices, answer.proofs, strict=True):
            weak_verify(ctx.joint_key, ct, proof)


def weak_schnorr_challenge(commitment: Point) -> Scalar:
    return hash_to_scalar(TAG_SCHNORR, commitment.raw)


def weak_verify_schnorr(public: Point, proof: SchnorrProof) -> None:
    u = Point.base_mul(proof.response) - public * proof.challenge
    if weak_schnorr_challenge(u) != proof.challenge:
        raise InvalidProof("weak Schnorr proof does not verify")


def weak_dleq_challenge(u: Point, v: Point) -> Scalar:
    return hash_to_scalar(TAG_DLEQ, u.raw, v.raw)


def weak_verify_dleq(x: Point, base: Point, d: Point, proof: DleqProof) -> None:
    s, c = proof.response, proof.challenge
    if weak_dleq_challenge(Point.base_mul(s) - x * c, base * s - d * c) != c:
        raise InvalidProof("weak DLEQ proof does not verify")


# --- a whole ballot ----------------------------------------------------------------


def test_helios_2012_weak_fiat_shamir_overvote_in_a_signed_ballot_is_rejected() -> None:
    """A dishonest trustee who is also a voter prepares proof commitments, takes
    the weak challenge, then picks the election key (it deals the key in a
    1-of-1 ceremony) so that a signed ballot giving option A *two* votes carries
    valid "0 or 1" proofs.  The weak verifier accepts it; verify_ballot rejects
    it at question 0, option 0."""
    key, x, forged_ct, forged_proof = forge_with_statement_after_challenge()
    voter = SigningKey.generate(rng)
    ctx = ElectionContext.build(APPROVAL, key, [[key]], CredentialList.of([voter.verify_key]))
    r1 = Scalar.random(rng)
    honest_ct = encrypt(key, 0, r1)
    answer = EncryptedAnswer((forged_ct, honest_ct), (forged_proof, weak_prove_01(key, honest_ct, 0, r1)))
    ballot = sign_ballot(ctx, voter, [answer])

    weak_verify_ballot(ctx, ballot)  # the broken system counts it ...
    assert discrete_log(decrypt_to_point(x, ballot.answers[0].choices[0]), 10) == 2  # ... as 2 votes
    with pytest.raises(InvalidProof) as info:
        verify_ballot(ctx, ballot)
    assert info.value.detail == {"question": 0, "option": 0}


def test_helios_2012_strong_proofs_of_one_ballot_do_not_pass_the_weak_check_either() -> None:
    """Control: the strong and weak challenges really differ (a strong proof is not
    a weak one), so the rejection above comes from the challenge, nothing else."""
    key = Point.base_mul(Scalar.random(rng))
    voter = SigningKey.generate(rng)
    ctx = ElectionContext.build(APPROVAL, key, [[key]], CredentialList.of([voter.verify_key]))
    ballot, _ = encrypt_ballot(ctx, voter, [[1, 0]], rng)
    verify_ballot(ctx, ballot)
    with pytest.raises(InvalidProof):
        weak_verify_ballot(ctx, ballot)
    # The signature still binds the fingerprint: a ballot for another key fails there first.
    other = ElectionContext.build(APPROVAL, key + G, [[key + G]], ctx.credentials)
    with pytest.raises(InvalidSignature):
        verify_ballot(other, ballot)


# --- Schnorr: trustee key and commitments ------------------------------------------


def test_helios_2012_weak_schnorr_proves_knowledge_of_a_key_nobody_knows() -> None:
    """With the challenge over the commitment only, a trustee can publish a
    coefficient X = c^-1·(s·G − U) for a U whose logarithm it does not know (here
    another trustee's commitment) with a proof the weak check accepts.  The
    strong check (statement and ctx in the hash) rejects it, and so does
    check_commitments, naming the trustee and step 5 (the Feldman reveal)."""
    eid = "weak-fs-dkg"
    victim_state, _ = dkg_trustee.step1_announce(eid, 1, 2, 1, rng)
    unknown = Point.base_mul(victim_state.polynomial[0])  # log known only to trustee 1
    c = weak_schnorr_challenge(unknown)
    s = Scalar.random(rng)
    rogue = (Point.base_mul(s) - unknown) * c.inverse()
    proof = SchnorrProof(c, s)
    weak_verify_schnorr(rogue, proof)  # accepted by the weak check

    ctx = [b"dkg-coefficient", eid.encode(), (2).to_bytes(8, "big"), (0).to_bytes(8, "big")]
    with pytest.raises(InvalidProof, match="Schnorr"):
        verify_schnorr(ctx, rogue, proof)

    key = SigningKey.generate(rng)
    own, announcement = dkg_trustee.step1_announce(eid, 2, 2, 1, rng, signing_key=key)
    # The blinding part is made to fit: B = E − rogue (its proof is the honest one,
    # for another B, as the cheater cannot know log_H of this one).
    honest = dkg_trustee.step5_reveal(own, rng)
    comms = dkg.Commitments.create(
        eid, key, trustee=2, coefficients=(rogue,), proofs=(proof,),
        blindings=(announcement.pedersen[0] - rogue,), blinding_proofs=honest.blinding_proofs)
    with pytest.raises(KeyCeremonyError, match=r"trustee 2, step 5 .*Schnorr proof for coefficient 0"):
        dkg.check_commitments(eid, announcement, comms)


def test_helios_2012_schnorr_proof_copied_from_another_trustee_is_rejected() -> None:
    """Without the ctx (election, trustee index, coefficient index) in the hash, a
    trustee could copy another's coefficient and proof as its own.  The weak check
    accepts the copy; the strong check for the copier's index rejects it."""
    eid = "weak-fs-copy"
    state, _ = dkg_trustee.step1_announce(eid, 1, 2, 1, rng)
    reveal = dkg_trustee.step5_reveal(state, rng)
    coefficient, proof = reveal.coefficients[0], reveal.proofs[0]
    own_ctx = [b"dkg-coefficient", eid.encode(), (1).to_bytes(8, "big"), (0).to_bytes(8, "big")]
    verify_schnorr(own_ctx, coefficient, proof)
    copier_ctx = [b"dkg-coefficient", eid.encode(), (2).to_bytes(8, "big"), (0).to_bytes(8, "big")]
    with pytest.raises(InvalidProof):
        verify_schnorr(copier_ctx, coefficient, proof)


# --- DLEQ: a false partial decryption ------------------------------------------------


def forge_partial(election, tally, trustee: int) -> PartialDecryption:
    """Trustee ``trustee`` proves, under the weak challenge, factors that are NOT
    its share times alpha: D = c^-1·(s·A − V) with V = v·G chosen freely."""
    share = next(s.share for s in election.states if s.trustee == trustee)
    rows = []
    for options in tally.questions:
        row = []
        for ct in options:
            u, v = Scalar.random(rng), Scalar.random(rng)
            c = weak_dleq_challenge(Point.base_mul(u), Point.base_mul(v))
            s = u + c * share
            d = (ct.alpha * s - Point.base_mul(v)) * c.inverse()
            assert d != ct.alpha * share  # a wrong factor ...
            weak_verify_dleq(Point.base_mul(share), ct.alpha, d, DleqProof(c, s))  # ... weakly "proved"
            row.append((d, DleqProof(c, s)))
        rows.append(tuple(row))
    return PartialDecryption(trustee, tuple(rows))


def test_swiss_post_2019_weak_decryption_proof_is_rejected(
    honest: GeneratedRecord, record_copy
) -> None:
    """A trustee posts a partial decryption with wrong factors and weak DLEQ
    proofs.  verify_partial refuses it (DecryptionError naming trustee 1,
    question 0, option 0); replaced on a re-signed board, the verifier names it
    as trustee 1's invalid partial (never used: robust decryption records it as
    evidence, docs/protocol-trustees.md §5.13), and with only t−1 valid partials
    left, combination and result fail."""
    e = honest.election
    pairs = pairs_of(honest.entries)
    at_tally = next(i for i, (k, _) in enumerate(pairs) if k == "tally_posted")
    tally = EncryptedTally.from_json(pairs[at_tally][1]["body"]["tally"])
    forged = forge_partial(e, tally, 1)
    with pytest.raises(DecryptionError) as info:
        verify_partial(e.ctx.fingerprint, e.joint.verification_keys[1], tally, forged)
    assert info.value.detail == {"trustee": 1, "question": 0, "option": 0}

    at = next(
        i for i, (k, p) in enumerate(pairs) if k == "partial_decryption" and p["body"]["trustee"] == 1
    )
    pairs[at] = command(e, "partial_decryption", e.states[0].signing_key, forged.to_json())
    forge_board(record_copy, e, pairs)
    report = verify(record_copy)
    failed = failures(report)
    partials = report.check("partial-decryptions")
    assert "partial-decryptions" not in failed and partials.counts["invalid"] == 1
    assert (f"trustee 1's partial decryption (entry {at}) is invalid and not used: "
            "trustee 1: invalid proof for question 0 option 0") in partials.note
    assert failed["combination"] == "decryption"  # only t−1 valid partials remain
    assert "result" in failed


def test_swiss_post_2019_dleq_statement_is_bound() -> None:
    """The same wrong factor with an honestly computed *strong* proof for the
    right factor does not verify either: D is part of the hashed statement."""
    x = Scalar.random(rng)
    base = Point.base_mul(Scalar.random(rng))
    ctx = [b"decryption", b"\x01" * 32, (1).to_bytes(8, "big"), bytes(8), bytes(8)]
    d, proof = prove_dleq(ctx, x, base, rng)
    verify_dleq(ctx, Point.base_mul(x), base, d, proof)
    with pytest.raises(InvalidProof, match="DLEQ"):
        verify_dleq(ctx, Point.base_mul(x), base, d + G, proof)


# --- the transcript encoding is injective --------------------------------------------


def parse_transcript(data: bytes) -> tuple[bytes, list[bytes]]:
    """Invert :func:`evote.hashing.transcript`.  That an inverse exists on every
    output is what makes the encoding injective."""
    items = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise ValueError("truncated length prefix")
        n = int.from_bytes(data[pos : pos + 8], "big")
        pos += 8
        if len(data) - pos < n:
            raise ValueError("truncated item")
        items.append(data[pos : pos + n])
        pos += n
    if len(items) < 2 or items[0] != PROTOCOL:
        raise ValueError("not an evote transcript")
    return items[1], items[2:]


fields_st = st.lists(st.binary(max_size=40), max_size=8)
tags_st = st.sampled_from([b"schnorr", b"dleq", b"range", b"ballot-signature", b""]) | st.binary(
    max_size=12
)


@settings(max_examples=300, deadline=None)
@given(tags_st, fields_st)
def test_swiss_post_2019_transcript_has_an_inverse(tag: bytes, fields: list[bytes]) -> None:
    assert parse_transcript(transcript(tag, fields)) == (tag, fields)


@settings(max_examples=300, deadline=None)
@given(tags_st, fields_st, tags_st, fields_st)
def test_swiss_post_2019_distinct_field_lists_never_hash_the_same_bytes(
    tag_a: bytes, a: list[bytes], tag_b: bytes, b: list[bytes]
) -> None:
    if (tag_a, a) != (tag_b, b):
        assert transcript(tag_a, a) != transcript(tag_b, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([b"ab", b"c"], [b"a", b"bc"]),  # moved boundary
        ([b"abc"], [b"abc", b""]),  # trailing empty field
        ([b""], []),  # empty field vs none
        ([b"a\x00", b"b"], [b"a", b"\x00b"]),  # a separator byte moved across
        ([b"ballot-option", b"\x00" * 8], [b"ballot-option\x00\x00\x00\x00", b"\x00" * 4]),
    ],
)
def test_swiss_post_2019_classic_concatenation_collisions_are_gone(a, b) -> None:
    """Field lists that plain concatenation confuses get different transcripts."""
    assert b"".join(a) == b"".join(b)
    assert transcript(b"range", a) != transcript(b"range", b)
