"""Trustee key generation (GJKR): honest ceremonies, cheating dealers, the reveal bound
by Pedersen commitments, public reconstruction, share boxes, and the secrecy of t−1
shares.  Real crypto throughout."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import dkg
from evote.dkg import algebra as dkg_algebra
from evote.dkg import trustee as dkg_trustee
from evote.drbg import SeededRng
from evote.elgamal import encrypt_random
from evote.encoding import b64encode, canonical_json, parse_json
from evote.errors import InvalidPoint, KeyCeremonyError, SchemaError
from evote.group import IDENTITY, SMALL_ORDER_POINTS, Point, Scalar
from evote.proofs import SchnorrProof, prove_schnorr
from evote.signing import SigningKey
from evote.tally import aggregate, combine, lagrange_at_zero, partial_decrypt

EID = "dkg-test-election"
P25519 = 2**255 - 19
# Montgomery u-coordinates of small order (and non-canonical spellings of them).
X25519_SMALL_ORDER = [u.to_bytes(32, "little") for u in (0, 1, P25519 - 1, P25519, P25519 + 1)] + [
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
]
FP = b"\x07" * 32


# -- helpers ------------------------------------------------------------------


def evaluate(coefficients, x: int) -> Scalar:
    """f(x) by Horner, written independently of evote.dkg."""
    acc = Scalar.from_int(0)
    for a in reversed(coefficients):
        acc = acc * Scalar.from_int(x) + a
    return acc


def interpolate(points: list[tuple[int, Scalar]]) -> list[Scalar]:
    """Coefficients of the unique polynomial of degree < len(points) through ``points``."""
    zero = Scalar.from_int(0)
    out = [zero] * len(points)
    for i, (xi, yi) in enumerate(points):
        basis = [Scalar.from_int(1)]
        denom = Scalar.from_int(1)
        for m, (xm, _) in enumerate(points):
            if m == i:
                continue
            # basis *= (x − xm)
            shifted = [zero, *basis]
            scaled = [c * Scalar.from_int(xm) for c in basis] + [zero]
            basis = [a - b for a, b in zip(shifted, scaled, strict=True)]
            denom = denom * (Scalar.from_int(xi) - Scalar.from_int(xm))
        factor = yi * denom.inverse()
        out = [o + b * factor for o, b in zip(out, basis, strict=True)]
    return out


def roundtrip(msg):
    return type(msg).from_json(parse_json(canonical_json(msg.to_json())))


class Ceremony:
    """Phase 1 done honestly, and every trustee's phase-2 reveal ready; tests then
    cheat where they need to."""

    def __init__(self, n: int, t: int, seed: bytes) -> None:
        self.n, self.t = n, t
        self.rng = SeededRng(seed)
        started = [dkg_trustee.step1_announce(EID, i, n, t, self.rng) for i in range(1, n + 1)]
        self.states = {s.trustee: s for s, _ in started}
        self.anns = [a for _, a in started]
        self.shares = [dkg_trustee.step2_shares(s, self.anns, self.rng) for s in self.states.values()]
        self.comms = [dkg_trustee.step5_reveal(s, self.rng) for s in self.states.values()]

    def ann(self, i: int) -> dkg.Announcement:
        return self.anns[i - 1]

    def reveals(self, qualified) -> list[dkg.Commitments]:
        return [c for c in self.comms if c.trustee in set(qualified)]

    def replace_box(self, dealer: int, recipient: int, box: bytes) -> None:
        """The dealer (who holds its own signing key) re-signs a changed shares message."""
        msg = self.shares[dealer - 1]
        boxes = [(j, box if j == recipient else b) for j, b in msg.boxes]
        self.shares[dealer - 1] = dkg.EncryptedShares.create(
            EID, self.states[dealer].signing_key, dealer=dealer, boxes=boxes
        )

    def deal_bad_share(self, dealer: int, recipient: int) -> tuple[Scalar, Scalar]:
        s = self.states[dealer]
        bad = evaluate(s.polynomial, recipient) + Scalar.from_int(1)
        blinding = evaluate(s.blinding, recipient)
        box = dkg_trustee.seal_share(
            EID, dealer, recipient, s.box_secret, self.ann(recipient).box_key, bad, blinding,
            self.rng(24),
        )
        self.replace_box(dealer, recipient, box)
        return bad, blinding

    def receive_all(self) -> dict[int, object]:
        return {i: dkg_trustee.step3_receive(s, self.anns, self.shares) for i, s in self.states.items()}

    def finalize(self, trustees, complaints, answers):
        qualified = dkg.qualified_set(EID, self.n, self.t, self.anns, complaints, answers)
        return {
            i: dkg_trustee.finalize(self.states[i], self.anns, self.shares, complaints, answers,
                            self.reveals(qualified))
            for i in trustees
        }


def decrypts_correctly(joint: dkg.JointKey, states: dict[int, dkg_trustee.TrusteeState], who, rng) -> None:
    """Encrypt votes under the joint key and decrypt them with the trustees in ``who``."""
    votes = [[1, 0, 2], [0, 3, 1]]
    ballot = [[encrypt_random(joint.joint_key, m, rng)[0] for m in q] for q in votes]
    tally = aggregate([3, 3], [(1, ballot)])
    partials = [partial_decrypt(FP, j, states[j].share, tally, rng) for j in who]
    result = combine(FP, tally, partials, joint, [[3] * 3, [3] * 3])
    assert result.counts == ((1, 0, 2), (0, 3, 1))


# -- honest ceremonies ------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_honest_ceremony_is_verifiable_and_any_t_trustees_decrypt(data) -> None:
    n = data.draw(st.integers(1, 7), label="n")
    t = data.draw(st.integers(1, n), label="t")
    rng = SeededRng(data.draw(st.binary(min_size=1, max_size=8), label="seed"))
    joint, states, msgs = dkg_trustee.run_ceremony(EID, n, t, rng)
    assert joint.qualified == tuple(range(1, n + 1))
    assert msgs.complaints == () and msgs.answers == ()
    assert msgs.qualified.qualified == joint.qualified
    again = dkg.verify_ceremony(EID, n, t, reversed(msgs.announcements), (), (),
                                reversed(msgs.commitments))
    assert again == joint
    assert joint.joint_key == sum(
        (c.coefficients[0] for c in msgs.commitments[1:]), msgs.commitments[0].coefficients[0]
    )
    by_index = {s.trustee: s for s in states}
    for j, s in by_index.items():
        assert Point.base_mul(s.share) == joint.verification_keys[j]
        assert s.polynomial == () and s.blinding == ()
    who = data.draw(st.lists(st.sampled_from(range(1, n + 1)), min_size=t, max_size=t, unique=True))
    decrypts_correctly(joint, by_index, who, rng)


def test_t_minus_1_shares_are_consistent_with_every_secret() -> None:
    """Information-theoretic secrecy: for any candidate secret s there is a
    polynomial of degree t−1 through the t−1 known shares and (0, s); only t
    shares pin the secret down."""
    rng = SeededRng(b"it-secrecy")
    n, t = 5, 3
    joint, states, _ = dkg_trustee.run_ceremony(EID, n, t, rng)
    shares = {s.trustee: s.share for s in states}
    known = [(1, shares[1]), (4, shares[4])]  # t − 1 = 2 trustees
    for candidate in (Scalar.random(rng), Scalar.random(rng)):
        g = interpolate([(0, candidate), *known])
        assert len(g) == t  # degree <= t − 1
        assert evaluate(g, 0) == candidate
        for x, y in known:
            assert evaluate(g, x) == y
    # Whereas t shares fix it: the interpolated secret is log_G of the joint key.
    chosen = [1, 4, 5]
    secret = Scalar.from_int(0)
    for j in chosen:
        secret = secret + lagrange_at_zero(chosen, j) * shares[j]
    assert Point.base_mul(secret) == joint.joint_key
    g = interpolate([(0, secret), *known])
    assert evaluate(g, 5) == shares[5]


# -- cheating dealer and complaints ----------------------------------------------


def test_bad_share_complaint_bad_answer_disqualifies_dealer() -> None:
    c = Ceremony(4, 2, b"bad-dealer")
    bad, blinding = c.deal_bad_share(dealer=2, recipient=3)
    outcome = c.receive_all()
    complaints = outcome[3]
    assert isinstance(complaints, list) and len(complaints) == 1
    (complaint,) = complaints
    assert (complaint.accuser, complaint.accused, complaint.reason) == (3, 2, "bad-share")
    assert all(isinstance(outcome[i], dkg_trustee.ReceivedShares) for i in (1, 2, 4))
    dkg.check_complaint(EID, c.anns, complaint)

    # The dealer stands by the bad share it sent: anyone sees it is wrong.
    answer = dkg.ComplaintAnswer.create(
        EID, c.states[2].signing_key, dealer=2, accuser=3, share=bad, blinding=blinding
    )
    with pytest.raises(KeyCeremonyError, match=r"trustee 2, step 4 .*does not match"):
        dkg.check_complaint_answer(EID, c.ann(2), answer)
    assert dkg.qualified_set(EID, 4, 2, c.anns, complaints, [answer]) == (1, 3, 4)
    # Not answering at all is the same verdict.
    assert dkg.qualified_set(EID, 4, 2, c.anns, complaints, []) == (1, 3, 4)

    done = c.finalize((1, 3, 4), complaints, [answer])
    joint = done[1][0]
    assert joint.qualified == (1, 3, 4)
    assert set(joint.verification_keys) == {1, 3, 4}
    assert (
        joint.joint_key
        == c.comms[0].coefficients[0] + c.comms[2].coefficients[0] + c.comms[3].coefficients[0]
    )
    assert all(j == joint for j, _ in done.values())
    assert dkg.verify_ceremony(EID, 4, 2, c.anns, complaints, [answer],
                               c.reveals((1, 3, 4))) == joint
    # A disqualified dealer's reveal is not accepted as part of the ceremony.
    with pytest.raises(KeyCeremonyError, match=r"trustee 2, step 5 .*not in QUAL"):
        dkg.verify_ceremony(EID, 4, 2, c.anns, complaints, [answer], c.comms)
    with pytest.raises(KeyCeremonyError, match="trustee 2, step 7 .*disqualified") as exc:
        c.finalize((2,), complaints, [answer])
    assert exc.value.detail == {"trustee": 2, "step": "finalize"}
    states = {i: s for i, (_, s) in done.items()}
    decrypts_correctly(joint, states, [3, 4], c.rng)
    decrypts_correctly(joint, states, [1, 3], c.rng)


def test_bad_share_answered_correctly_clears_the_complaint() -> None:
    c = Ceremony(4, 3, b"answered")
    c.deal_bad_share(dealer=1, recipient=4)
    complaints = c.receive_all()[4]
    assert [(x.accuser, x.accused) for x in complaints] == [(4, 1)]
    answers = dkg_trustee.step4_answer(c.states[1], c.anns, complaints)
    assert [(a.dealer, a.accuser) for a in answers] == [(1, 4)]
    dkg.check_complaint_answer(EID, c.ann(1), answers[0])
    assert dkg.qualified_set(EID, 4, 3, c.anns, complaints, answers) == (1, 2, 3, 4)
    # Other dealers have nothing to answer.
    assert dkg_trustee.step4_answer(c.states[2], c.anns, complaints) == []
    done = c.finalize((1, 2, 3, 4), complaints, answers)
    joint = done[4][0]
    states = {i: s for i, (_, s) in done.items()}
    # Trustee 4 uses the publicly revealed share in place of the bad box.
    decrypts_correctly(joint, states, [2, 3, 4], c.rng)


def test_false_complaint_against_honest_dealer_is_cleared() -> None:
    c = Ceremony(3, 2, b"false-complaint")
    assert all(isinstance(x, dkg_trustee.ReceivedShares) for x in c.receive_all().values())
    lie = dkg.Complaint.create(
        EID, c.states[3].signing_key, accuser=3, accused=1, reason="bad-share"
    )
    answers = dkg_trustee.step4_answer(c.states[1], c.anns, [lie])
    dkg.check_complaint_answer(EID, c.ann(1), answers[0])
    joint = dkg.verify_ceremony(EID, 3, 2, c.anns, [lie], answers, c.comms)
    assert joint.qualified == (1, 2, 3)
    done = c.finalize((1, 2, 3), [lie], answers)
    decrypts_correctly(joint, {i: s for i, (_, s) in done.items()}, [1, 3], c.rng)


def test_bad_share_without_complaint_stops_the_recipient_at_finalize() -> None:
    c = Ceremony(3, 2, b"silent")
    c.deal_bad_share(dealer=1, recipient=2)
    with pytest.raises(KeyCeremonyError, match=r"trustee 2, step 7 .*dealer 1 is not valid"):
        c.finalize((2,), [], [])
    assert set(c.finalize((1, 3), [], [])) == {1, 3}


def test_a_qual_dealer_that_never_reveals_is_rebuilt_not_dropped() -> None:
    """GJKR: trustee 3 is in QUAL and withholds its reveal.  It stays in QUAL; the
    others publish the shares it dealt them and anyone rebuilds its polynomial.
    With too few published shares the ceremony cannot finish (it does not drop 3)."""
    c = Ceremony(3, 2, b"no-reveal")
    present = c.comms[:2]
    with pytest.raises(KeyCeremonyError, match=r"trustee 3, step 6 .*only 0 of the 2 shares"):
        dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], present)
    assert dkg.unrevealed((1, 2, 3), present) == (3,)
    recs = [r for i in (1, 2)
            for r in dkg_trustee.step6_reconstruct(c.states[i], c.anns, c.shares, [], [3])]
    assert [(r.trustee, r.dealer) for r in recs] == [(1, 3), (2, 3)]
    with pytest.raises(KeyCeremonyError, match="only 1 of the 2 shares"):
        dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], present, recs[:1])
    outcome = dkg.ceremony_outcome(EID, 3, 2, c.anns, [], [], present, recs)
    assert outcome.joint.qualified == (1, 2, 3) and outcome.rebuilt == (3,)
    assert outcome.feldman[3] == c.comms[2].coefficients  # exactly what it would have revealed
    assert outcome.joint == dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], c.comms)
    # A published share that does not match the dealer's commitments is ignored.
    lie = dkg.Reconstruction.create(EID, c.states[1].signing_key, trustee=1, dealer=3,
                                    share=recs[0].share + Scalar.from_int(1),
                                    blinding=recs[0].blinding)
    with pytest.raises(KeyCeremonyError, match=r"trustee 1, step 6 .*does not match"):
        dkg.check_reconstruction(EID, c.ann(1), c.ann(3), lie)
    with pytest.raises(KeyCeremonyError, match="only 1 of the 2 shares"):
        dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], present, [lie, recs[1]])
    # Trustee 3 still holds a working key share.
    done = {i: dkg_trustee.finalize(c.states[i], c.anns, c.shares, [], [], present, recs)[1]
            for i in (1, 2, 3)}
    decrypts_correctly(outcome.joint, done, [1, 3], c.rng)
    decrypts_correctly(outcome.joint, done, [2, 3], c.rng)


def test_too_few_qualified_fails() -> None:
    c = Ceremony(3, 2, b"too-few")
    lies = [dkg.Complaint.create(EID, c.states[1].signing_key, accuser=1, accused=i,
                                 reason="bad-share") for i in (2, 3)]
    with pytest.raises(
        KeyCeremonyError, match=r"only 1 trustees qualified \(\[1\]\), threshold is 2"
    ):
        dkg.qualified_set(EID, 3, 2, c.anns, lies, [])


def test_complaints_must_be_signed_by_the_accuser_and_name_another_trustee() -> None:
    c = Ceremony(3, 2, b"complaints")
    forged = dkg.Complaint.create(
        EID, c.states[1].signing_key, accuser=3, accused=2, reason="missing"
    )
    with pytest.raises(KeyCeremonyError, match=r"trustee 3, step 3 .*signature"):
        dkg.check_complaint(EID, c.anns, forged)
    with pytest.raises(KeyCeremonyError, match=r"trustee 3, step 3"):
        dkg.verify_ceremony(EID, 3, 2, c.anns, [forged], [], c.comms)
    selfish = dkg.Complaint.create(
        EID, c.states[2].signing_key, accuser=2, accused=2, reason="missing"
    )
    with pytest.raises(KeyCeremonyError, match="itself"):
        dkg.check_complaint(EID, c.anns, selfish)


def test_missing_shares_message_yields_a_complaint() -> None:
    c = Ceremony(3, 2, b"missing")
    del c.shares[1]  # dealer 2 never posts step 2
    out = c.receive_all()
    assert [(x.accused, x.reason) for x in out[1]] == [(2, "missing")]
    assert [(x.accused, x.reason) for x in out[3]] == [(2, "missing")]
    assert isinstance(out[2], dkg_trustee.ReceivedShares)


# -- phase 2: the reveal must open the Pedersen commitments ----------------------


def _reveal_of(state: dkg_trustee.TrusteeState, polynomial, blinding, rng) -> dkg.Commitments:
    """A reveal made (with valid proofs) from polynomials of the cheater's choice."""
    fake = dkg_trustee.TrusteeState(
        EID, state.trustee, state.trustees, state.threshold, state.signing_key,
        state.box_secret, tuple(polynomial), tuple(blinding),
        tuple(Point.base_mul(a) + dkg.H * b for a, b in zip(polynomial, blinding, strict=True)))
    return dkg_trustee.step5_reveal(fake, rng)


def test_a_reveal_that_does_not_open_the_announced_commitments_is_rejected() -> None:
    c = Ceremony(3, 2, b"commit")
    for i in (1, 2, 3):
        dkg.check_commitments(EID, c.ann(i), c.comms[i - 1])
    # Trustee 3 tries to change its polynomial after seeing the others' reveals.
    rng = SeededRng(b"late")
    s3 = c.states[3]
    changed = _reveal_of(s3, [Scalar.random(rng) for _ in range(2)], s3.blinding, rng)
    with pytest.raises(KeyCeremonyError, match=r"trustee 3, step 5 .*does not open"):
        dkg.check_commitments(EID, c.ann(3), changed)
    with pytest.raises(KeyCeremonyError, match="does not open"):
        dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], [*c.comms[:2], changed])
    # Reveals offered against another trustee's announcement.
    with pytest.raises(KeyCeremonyError, match="trustee 1, step 5"):
        dkg.check_commitments(EID, c.ann(2), c.comms[0])


def test_the_pedersen_generator_is_the_documented_hash_to_the_group() -> None:
    """H = from_uniform(tagged_hash("pedersen-generator", "evote/dkg/H")), in the
    prime-order subgroup, not G, not the identity; pinned so other verifiers agree."""
    from nacl import bindings

    from evote.hashing import TAG_PEDERSEN_GENERATOR, tagged_hash

    raw = bindings.crypto_core_ed25519_from_uniform(
        tagged_hash(TAG_PEDERSEN_GENERATOR, b"evote/dkg/H"))
    assert dkg.H.raw == raw and bindings.crypto_core_ed25519_is_valid_point(raw)
    assert dkg.H != Point.base_mul(Scalar.from_int(1)) and not dkg.H.is_identity()
    assert b64encode(raw) == "8iMRSx7kYbV4ndTT6Y6nj24a22q9sEiotIVxfW7oYRM"


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("which", ["coefficient", "blinding"])
def test_bad_schnorr_proof_on_any_coefficient_or_blinding_is_rejected(k: int, which: str) -> None:
    c = Ceremony(3, 3, b"schnorr")
    good = c.comms[1]
    field = "proofs" if which == "coefficient" else "blinding_proofs"
    proofs = list(getattr(good, field))
    proofs[k] = SchnorrProof(proofs[k].challenge, proofs[k].response + Scalar.from_int(1))
    parts = {f: getattr(good, f) for f in ("coefficients", "proofs", "blindings",
                                            "blinding_proofs")}
    parts[field] = proofs
    bad = dkg.Commitments.create(EID, c.states[2].signing_key, trustee=2, **parts)
    with pytest.raises(KeyCeremonyError, match=rf"trustee 2, step 5 .*{which} {k} does not verify"):
        dkg.check_commitments(EID, c.ann(2), bad)


def test_rogue_key_is_impossible_the_reveal_is_bound_by_the_pedersen_commitment() -> None:
    """The classic attack: the last trustee sets A_0 = target − Σ others' A_0, after
    seeing them.  It must also give B_0 = E_0 − A_0 with a proof of knowledge of
    log_H(B_0), which it does not have: rejected."""
    c = Ceremony(3, 1, b"rogue")
    s3 = c.states[3]
    target = Point.base_mul(Scalar.from_int(42))
    rogue = target - c.comms[0].coefficients[0] - c.comms[1].coefficients[0]
    blind = c.ann(3).pedersen[0] - rogue
    proof_a = prove_schnorr(dkg_algebra._coefficient_context(EID, 3, 0), Scalar.from_int(42), c.rng)
    proof_b = dkg_trustee.prove_schnorr_h(dkg_algebra._blinding_context(EID, 3, 0), s3.blinding[0], c.rng)
    bad = dkg.Commitments.create(EID, s3.signing_key, trustee=3, coefficients=[rogue],
                                 proofs=[proof_a], blindings=[blind], blinding_proofs=[proof_b])
    with pytest.raises(KeyCeremonyError, match="coefficient 0 does not verify"):
        dkg.check_commitments(EID, c.ann(3), bad)


def test_identity_and_invalid_commitment_points_are_rejected() -> None:
    c = Ceremony(2, 2, b"points")
    doc = c.comms[0].to_json()
    doc["coefficients"][1] = b64encode(IDENTITY.raw)
    with pytest.raises(InvalidPoint, match=r"commitments.coefficients\[1\]: point is the identity"):
        dkg.Commitments.from_json(doc)
    doc["coefficients"][1] = b64encode(SMALL_ORDER_POINTS[4])
    with pytest.raises(InvalidPoint) as exc:
        dkg.Commitments.from_json(doc)
    assert exc.value.code == "invalid_point"
    adoc = c.ann(1).to_json()
    adoc["pedersen"][0] = b64encode(SMALL_ORDER_POINTS[4])
    with pytest.raises(InvalidPoint):
        dkg.Announcement.from_json(adoc)
    m = c.comms[0]
    built = dkg.Commitments(1, (m.coefficients[0], IDENTITY), m.proofs, m.blindings,
                            m.blinding_proofs, b"")
    with pytest.raises(KeyCeremonyError, match="coefficient 1 is the identity"):
        dkg.check_commitments(EID, c.ann(1), built)


# -- share boxes ----------------------------------------------------------------


def test_box_moved_to_another_recipient_fails() -> None:
    c = Ceremony(3, 2, b"boxes")
    s1 = c.states[1]
    for_2 = c.shares[0].box_for(2)
    # Recipient 2 opens its own box.
    s2 = c.states[2]
    dkg_trustee.open_share(EID, 1, 2, s2.box_secret, c.ann(1).box_key, for_2)
    # Trustee 3 cannot open a box made for 2.
    with pytest.raises(KeyCeremonyError, match=r"trustee 1, step 2 .*does not open"):
        dkg_trustee.open_share(EID, 1, 3, c.states[3].box_secret, c.ann(1).box_key, for_2)
    # Box(sk1, pk2) also opens with (sk1, pk2) from the dealer's side: the
    # plaintext's dealer/recipient binding stops it being passed off as 2 -> 1.
    with pytest.raises(KeyCeremonyError, match="not bound"):
        dkg_trustee.open_share(EID, 2, 1, s1.box_secret, c.ann(2).box_key, for_2)
    # Nor can it be replayed in another election.
    with pytest.raises(KeyCeremonyError, match="not bound"):
        dkg_trustee.open_share("another-election", 1, 2, s2.box_secret, c.ann(1).box_key, for_2)
    # Moved by someone without the dealer's key: the message signature breaks.
    moved = dkg.EncryptedShares(1, ((2, for_2), (3, for_2)), c.shares[0].signature)
    with pytest.raises(KeyCeremonyError, match=r"trustee 1, step 2 .*signature"):
        dkg.check_shares(EID, c.ann(1), moved)
    # Moved by the dealer itself, re-signed: the recipient complains.
    c.replace_box(1, 3, for_2)
    dkg.check_shares(EID, c.ann(1), c.shares[0])
    out = c.receive_all()
    assert [(x.accused, x.reason) for x in out[3]] == [(1, "undecryptable")]


def test_tampered_box_does_not_open() -> None:
    c = Ceremony(2, 1, b"tamper")
    box = bytearray(c.shares[0].box_for(2))
    box[-1] ^= 1
    with pytest.raises(KeyCeremonyError, match="does not open"):
        dkg_trustee.open_share(EID, 1, 2, c.states[2].box_secret, c.ann(1).box_key, bytes(box))
    with pytest.raises(KeyCeremonyError, match="does not open"):
        dkg_trustee.open_share(EID, 1, 2, c.states[2].box_secret, c.ann(1).box_key, b"short")


# -- announcements --------------------------------------------------------------


def test_announcement_checks() -> None:
    c = Ceremony(3, 2, b"announce")
    a = c.ann(2)
    dkg.check_announcement(EID, 3, 2, a)
    with pytest.raises(
        KeyCeremonyError, match=r"trustee 2, step 1 .*announces 2 of 3, the election has 3 of 3"
    ):
        dkg.check_announcement(EID, 3, 3, a)
    with pytest.raises(KeyCeremonyError, match=r"trustee 2, step 1 .*signature"):
        dkg.check_announcement("other-election", 3, 2, a)
    for small in X25519_SMALL_ORDER:
        weak = dkg.Announcement.create(
            EID,
            c.states[2].signing_key,
            trustee=2,
            trustees=3,
            threshold=2,
            box_key=small,
            pedersen=a.pedersen,
        )
        with pytest.raises(KeyCeremonyError, match="small order"):
            dkg.check_announcement(EID, 3, 2, weak)
    registered = {i: c.states[i].signing_key.verify_key for i in (1, 2, 3)}
    dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], c.comms, signing_keys=registered)
    impostor = {**registered, 1: SigningKey.generate(SeededRng(b"imp")).verify_key}
    with pytest.raises(KeyCeremonyError, match=r"trustee 1, step 1 .*not the one registered"):
        dkg.verify_ceremony(EID, 3, 2, c.anns, [], [], c.comms, signing_keys=impostor)
    with pytest.raises(
        KeyCeremonyError, match=r"trustee 3, step 1 \(announcement\): no announcement"
    ):
        dkg.verify_ceremony(EID, 3, 2, c.anns[:2], [], [], c.comms)
    with pytest.raises(KeyCeremonyError, match="more than one announcement"):
        dkg.verify_ceremony(EID, 3, 2, [*c.anns, c.anns[0]], [], [], c.comms)
    with pytest.raises(KeyCeremonyError, match="threshold"):
        dkg_trustee.step1_announce(EID, 1, 3, 4, c.rng)
    with pytest.raises(KeyCeremonyError):
        dkg_trustee.step1_announce(EID, 1, 33, 2, c.rng)


def test_a_trustee_refuses_a_board_that_replaced_its_announcement() -> None:
    c = Ceremony(2, 1, b"replaced")
    other, fake = dkg_trustee.step1_announce(EID, 1, 2, 1, SeededRng(b"someone else"))
    with pytest.raises(KeyCeremonyError, match=r"trustee 1, step 1 .*not this trustee's"):
        dkg_trustee.step2_shares(c.states[1], [fake, c.ann(2)], c.rng)


# -- serialisation --------------------------------------------------------------


def test_messages_round_trip_and_are_strict() -> None:
    c = Ceremony(3, 2, b"json")
    c.deal_bad_share(dealer=1, recipient=2)
    complaints = c.receive_all()[2]
    answers = dkg_trustee.step4_answer(c.states[1], c.anns, complaints)
    recs = dkg_trustee.step6_reconstruct(c.states[2], c.anns, c.shares, answers, [3])
    extra = [dkg.Qualified((1, 2, 3)), dkg.Reconstruct((3,))]
    for msg in [*c.anns, *c.comms, *c.shares, *complaints, *answers, *recs, *extra]:
        assert roundtrip(msg) == msg
        doc = msg.to_json()
        with pytest.raises(SchemaError, match="unknown field 'extra'"):
            type(msg).from_json({**doc, "extra": 1})
        key = next(iter(doc))
        with pytest.raises(SchemaError, match=f"missing field '{key}'"):
            type(msg).from_json({k: v for k, v in doc.items() if k != key})
    doc = complaints[0].to_json()
    with pytest.raises(SchemaError, match="complaint.reason: must be one of"):
        dkg.Complaint.from_json({**doc, "reason": "grudge"})
    joint = dkg.verify_ceremony(EID, 3, 2, c.anns, complaints, answers, c.comms)
    assert roundtrip(joint) == joint
    doc = joint.to_json()
    with pytest.raises(SchemaError, match="keys must be exactly the qualified trustees"):
        dkg.JointKey.from_json({**doc, "qualified": [1, 2]})
    with pytest.raises(SchemaError, match="threshold: must be between 1 and 3"):
        dkg.JointKey.from_json({**doc, "threshold": 4})


def test_trustee_state_round_trips_hides_secrets_and_checks_itself() -> None:
    c = Ceremony(2, 2, b"state")
    s = c.states[1]
    assert roundtrip(s) == s
    assert "box_secret" not in repr(s) and s.box_secret.hex()[:8] not in repr(s)
    doc = s.to_json()
    doc["polynomial"] = list(reversed(doc["polynomial"]))
    with pytest.raises(KeyCeremonyError, match="polynomials do not match its commitments"):
        dkg_trustee.TrusteeState.from_json(doc)
    joint, done = dkg_trustee.finalize(s, c.anns, c.shares, [], [], c.comms)
    assert done.share is not None and done.polynomial == () and done.blinding == ()
    assert roundtrip(done) == done
    assert "share" in done.to_json() and "share" not in s.to_json()
    with pytest.raises(KeyCeremonyError, match="already been finalized"):
        dkg_trustee.finalize(done, c.anns, c.shares, [], [], c.comms)


def test_trustee_commitments_in_index_order() -> None:
    c = Ceremony(3, 2, b"fingerprint")
    by = {m.trustee: m.coefficients for m in reversed(c.comms)}
    assert dkg.trustee_commitments(by) == [list(m.coefficients) for m in c.comms]
