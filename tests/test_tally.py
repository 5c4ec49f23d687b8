"""Aggregation and threshold decryption of the tally: correct counts from any t
trustees, never from t−1, and a named error for every bad partial decryption."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import dkg
from evote.dkg import trustee as dkg_trustee
from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, encrypt_random
from evote.encoding import b64encode, canonical_json, parse_json
from evote.errors import DecryptionError, InvalidPoint, SchemaError, TallyError
from evote.group import IDENTITY, G, Point, Scalar
from evote.proofs import DleqProof
from evote.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    aggregate,
    combine,
    lagrange_at_zero,
    partial_decrypt,
    verify_aggregate,
    verify_partial,
    verify_result,
)

EID = "tally-test-election"
FP = b"\x42" * 32
SHAPE = (3, 2)

_rng = SeededRng(b"test_tally")
JOINT, _STATES, _ = dkg_trustee.run_ceremony(EID, 4, 2, _rng)
STATES = {s.trustee: s for s in _STATES}


def encrypt_ballot(key: Point, votes, rng) -> list[list[Ciphertext]]:
    return [[encrypt_random(key, m, rng)[0] for m in q] for q in votes]


VOTES = [(1, [[1, 0, 0], [0, 1]]), (3, [[0, 1, 0], [1, 0]]), (1, [[0, 1, 0], [0, 1]])]
EXPECTED = ((1, 4, 0), (3, 2))
COUNTED = [(w, encrypt_ballot(JOINT.joint_key, v, _rng)) for w, v in VOTES]
TALLY = aggregate(SHAPE, COUNTED)
BOUNDS = [[5] * 3, [5] * 2]
PARTIALS = {j: partial_decrypt(FP, j, s.share, TALLY, _rng) for j, s in STATES.items()}


def roundtrip(obj):
    return type(obj).from_json(parse_json(canonical_json(obj.to_json())))


# -- the threshold property -------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_any_t_trustees_decrypt_and_t_minus_1_cannot(data) -> None:
    n = data.draw(st.integers(1, 7), label="n")
    t = data.draw(st.integers(1, n), label="t")
    rng = SeededRng(data.draw(st.binary(min_size=1, max_size=8), label="seed"))
    joint, states, _ = dkg_trustee.run_ceremony(EID, n, t, rng)
    shares = {s.trustee: s.share for s in states}
    shape = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2), label="shape")
    ballots = data.draw(
        st.lists(
            st.tuples(
                st.integers(1, 3),
                st.tuples(*[st.lists(st.integers(0, 1), min_size=k, max_size=k) for k in shape]),
            ),
            max_size=4,
        ),
        label="ballots",
    )
    counted = [(w, encrypt_ballot(joint.joint_key, votes, rng)) for w, votes in ballots]
    tally = aggregate(shape, iter(counted))
    expected = tuple(
        tuple(sum(w * votes[q][o] for w, votes in ballots) for o in range(k))
        for q, k in enumerate(shape)
    )
    total = sum(w for w, _ in ballots)
    bounds = [[total] * k for k in shape]
    who = data.draw(st.lists(st.sampled_from(range(1, n + 1)), min_size=t, max_size=t, unique=True))
    partials = [partial_decrypt(FP, j, shares[j], tally, rng) for j in who]
    result = combine(FP, tally, partials, joint, bounds)
    assert result.counts == expected
    verify_result(FP, tally, partials, joint, result)
    with pytest.raises(DecryptionError, match=f"need {t} valid partial decryptions, have {t - 1}"):
        combine(FP, tally, partials[:-1], joint, bounds)


def test_combine_uses_any_t_and_ignores_extras() -> None:
    for who in ([1, 2], [3, 4], [4, 1], [1, 2, 3, 4]):
        result = combine(FP, TALLY, [PARTIALS[j] for j in who], JOINT, BOUNDS)
        assert result.counts == EXPECTED
    verify_result(FP, TALLY, PARTIALS.values(), JOINT, Result(EXPECTED))


def test_lagrange_coefficients_interpolate_at_zero() -> None:
    # f(x) = 5 + 7x + 11x^2: f(0) from f(1), f(3), f(4).
    def f(x: int) -> Scalar:
        return Scalar.from_int(5 + 7 * x + 11 * x * x)

    idx = [1, 3, 4]
    acc = Scalar.from_int(0)
    for j in idx:
        acc = acc + lagrange_at_zero(idx, j) * f(j)
    assert acc == Scalar.from_int(5)
    with pytest.raises(ValueError):
        lagrange_at_zero([1, 1, 2], 1)


# -- bad partial decryptions --------------------------------------------------------


def tampered(partial: PartialDecryption, q: int, o: int, **change) -> PartialDecryption:
    shares = [list(row) for row in partial.shares]
    d, proof = shares[q][o]
    shares[q][o] = (change.get("factor", d), change.get("proof", proof))
    return PartialDecryption(partial.trustee, tuple(tuple(r) for r in shares))


def test_wrong_proof_is_named() -> None:
    p = PARTIALS[3]
    d, proof = p.shares[0][1]
    bad = tampered(p, 0, 1, proof=DleqProof(proof.challenge, proof.response + Scalar.from_int(1)))
    with pytest.raises(
        DecryptionError, match=r"^trustee 3: invalid proof for question 0 option 1$"
    ) as exc:
        verify_partial(FP, JOINT.verification_keys[3], TALLY, bad)
    assert exc.value.code == "decryption"
    assert exc.value.detail == {"trustee": 3, "question": 0, "option": 1}
    with pytest.raises(
        DecryptionError,
        match=r"^need 2 valid partial decryptions, have 1 \(trustee 3: invalid proof for question 0 option 1\)$",
    ):
        combine(FP, TALLY, [PARTIALS[1], bad], JOINT, BOUNDS)
    # With enough valid ones besides, the bad one is skipped.
    assert combine(FP, TALLY, [bad, PARTIALS[1], PARTIALS[4]], JOINT, BOUNDS).counts == EXPECTED


def test_factor_from_a_wrong_share_is_rejected() -> None:
    wrong = STATES[2].share + Scalar.from_int(1)
    p = partial_decrypt(FP, 2, wrong, TALLY, _rng)  # proofs are valid for the wrong key
    with pytest.raises(
        DecryptionError, match=r"^trustee 2: invalid proof for question 0 option 0$"
    ):
        verify_partial(FP, JOINT.verification_keys[2], TALLY, p)
    # A correct proof attached to a factor changed afterwards fails too.
    d, _ = PARTIALS[2].shares[1][0]
    bad = tampered(PARTIALS[2], 1, 0, factor=d + G)
    with pytest.raises(DecryptionError, match="trustee 2: invalid proof for question 1 option 0"):
        verify_partial(FP, JOINT.verification_keys[2], TALLY, bad)


def test_swapped_partial_is_rejected() -> None:
    """Trustee 1's valid partial relabelled as trustee 2's (or checked against 2's key)."""
    relabelled = PartialDecryption(2, PARTIALS[1].shares)
    with pytest.raises(DecryptionError, match="trustee 2: invalid proof for question 0 option 0"):
        verify_partial(FP, JOINT.verification_keys[2], TALLY, relabelled)
    with pytest.raises(DecryptionError, match="trustee 1: invalid proof"):
        verify_partial(FP, JOINT.verification_keys[2], TALLY, PARTIALS[1])
    with pytest.raises(DecryptionError, match=r"have 1 \(trustee 2: invalid proof"):
        combine(FP, TALLY, [PARTIALS[1], relabelled], JOINT, BOUNDS)


def test_partial_for_another_election_or_tally_is_rejected() -> None:
    with pytest.raises(DecryptionError, match="trustee 1: invalid proof"):
        verify_partial(b"\x00" * 32, JOINT.verification_keys[1], TALLY, PARTIALS[1])
    other = aggregate(SHAPE, COUNTED[:2])
    with pytest.raises(DecryptionError, match="trustee 1: invalid proof"):
        verify_partial(FP, JOINT.verification_keys[1], other, PARTIALS[1])
    short = PartialDecryption(1, PARTIALS[1].shares[:1])
    with pytest.raises(
        DecryptionError, match="trustee 1: partial decryption does not have the tally's shape"
    ):
        verify_partial(FP, JOINT.verification_keys[1], TALLY, short)


def test_duplicate_trustee_is_rejected() -> None:
    with pytest.raises(DecryptionError, match="^trustee 1: more than one partial decryption$"):
        combine(FP, TALLY, [PARTIALS[1], PARTIALS[2], PARTIALS[1]], JOINT, BOUNDS)


def test_unqualified_trustee_is_named() -> None:
    rng = SeededRng(b"disqualified")
    c = [dkg_trustee.step1_announce(EID, i, 3, 2, rng) for i in (1, 2, 3)]
    anns = [a for _, a in c]
    shares = [dkg_trustee.step2_shares(s, anns, rng) for s, _ in c]
    complaint = dkg.Complaint.create(
        EID, c[0][0].signing_key, accuser=1, accused=3, reason="bad-share"
    )
    # Trustee 3 does not answer and is disqualified in phase 1; it still knows a share.
    comms = [dkg_trustee.step5_reveal(s, rng) for s, _ in c[:2]]
    joint = dkg.verify_ceremony(EID, 3, 2, anns, [complaint], [], comms)
    assert joint.qualified == (1, 2)
    done = {s.trustee: dkg_trustee.finalize(s, anns, shares, [complaint], [], comms)[1] for s, _ in c[:2]}
    tally = aggregate([1], [(1, [[encrypt_random(joint.joint_key, 1, rng)[0]]])])
    p3 = partial_decrypt(FP, 3, Scalar.from_int(1), tally, rng)
    p1 = partial_decrypt(FP, 1, done[1].share, tally, rng)
    with pytest.raises(DecryptionError, match=r"have 1 \(trustee 3: not a qualified trustee\)"):
        combine(FP, tally, [p1, p3], joint, [[1]])
    p2 = partial_decrypt(FP, 2, done[2].share, tally, rng)
    assert combine(FP, tally, [p3, p2, p1], joint, [[1]]).counts == ((1,),)


def test_bound_too_small_is_named() -> None:
    with pytest.raises(
        DecryptionError, match=r"^question 0 option 1: decrypted value is not in \[0, 3\]$"
    ):
        combine(FP, TALLY, [PARTIALS[1], PARTIALS[2]], JOINT, [[5, 3, 5], [5, 5]])
    with pytest.raises(TallyError, match="bounds"):
        combine(FP, TALLY, [PARTIALS[1], PARTIALS[2]], JOINT, [[5, 5, 5]])


# -- results ----------------------------------------------------------------------


def test_verify_result_catches_a_wrong_count() -> None:
    verify_result(FP, TALLY, [PARTIALS[2], PARTIALS[3]], JOINT, Result(EXPECTED))
    with pytest.raises(
        TallyError, match=r"^the posted result is wrong at question 1 option 0 \(2\)$"
    ) as exc:
        verify_result(FP, TALLY, [PARTIALS[2], PARTIALS[3]], JOINT, Result(((1, 4, 0), (2, 3))))
    assert exc.value.code == "tally"
    with pytest.raises(TallyError, match="shape"):
        verify_result(FP, TALLY, PARTIALS.values(), JOINT, Result(((1, 4, 0),)))
    with pytest.raises(DecryptionError, match="need 2"):
        verify_result(FP, TALLY, [PARTIALS[2]], JOINT, Result(EXPECTED))


def test_empty_tally_decrypts_to_zeros() -> None:
    empty = aggregate(SHAPE, iter(()))
    assert all(ct == Ciphertext(IDENTITY, IDENTITY) for row in empty.questions for ct in row)
    assert roundtrip(empty) == empty
    partials = [partial_decrypt(FP, j, STATES[j].share, empty, _rng) for j in (2, 4)]
    for p in partials:
        assert roundtrip(p) == p
        verify_partial(FP, JOINT.verification_keys[p.trustee], empty, p)
    result = combine(FP, empty, partials, JOINT, [[0] * 3, [0] * 2])
    assert result.counts == ((0, 0, 0), (0, 0))
    verify_result(FP, empty, partials, JOINT, result)
    # A non-identity factor for an identity alpha is refused outright.
    bad = tampered(partials[0], 0, 2, factor=G)
    with pytest.raises(
        DecryptionError, match="trustee 2: factor for question 0 option 2 must be the identity"
    ):
        verify_partial(FP, JOINT.verification_keys[2], empty, bad)


# -- aggregation ----------------------------------------------------------------------


def test_weighted_aggregation() -> None:
    result = combine(FP, TALLY, [PARTIALS[1], PARTIALS[4]], JOINT, BOUNDS)
    assert result.counts == EXPECTED  # ballot 2 carries weight 3
    # The same ballots with weight 1 give the unweighted counts.
    plain = aggregate(SHAPE, ((1, b) for _, b in COUNTED))
    partials = [partial_decrypt(FP, j, STATES[j].share, plain, _rng) for j in (1, 2)]
    assert combine(FP, plain, partials, JOINT, BOUNDS).counts == ((1, 2, 0), (1, 2))
    # Weight w is the same as w copies of the ballot.
    copies = aggregate(SHAPE, [COUNTED[0], *[(1, COUNTED[1][1])] * 3, COUNTED[2]])
    assert copies == TALLY


def test_aggregate_streams_from_a_generator() -> None:
    ballot = COUNTED[0][1]
    consumed = 0

    def stream():
        nonlocal consumed
        for _ in range(500):
            consumed += 1
            yield 1, ballot

    tally = aggregate(SHAPE, stream())
    assert consumed == 500
    partials = [partial_decrypt(FP, j, STATES[j].share, tally, _rng) for j in (3, 4)]
    assert combine(FP, tally, partials, JOINT, [[500] * 3, [500] * 2]).counts == (
        (500, 0, 0),
        (0, 500),
    )


@pytest.mark.parametrize("weight", [0, -1, True, 1.5, 2**53])
def test_aggregate_rejects_bad_weights(weight) -> None:
    with pytest.raises(TallyError, match="counted ballot 1: weight must be a positive integer"):
        aggregate(SHAPE, [COUNTED[0], (weight, COUNTED[1][1])])


def test_aggregate_rejects_wrong_shapes() -> None:
    ballot = COUNTED[0][1]
    with pytest.raises(TallyError, match="counted ballot 0: has 1 questions, expected 2"):
        aggregate(SHAPE, [(1, ballot[:1])])
    with pytest.raises(TallyError, match="counted ballot 0: question 1 has 1 options, expected 2"):
        aggregate(SHAPE, [(1, [ballot[0], ballot[1][:1]])])
    with pytest.raises(TallyError, match="needs 1..1024 options"):
        aggregate([3, 0], [])
    with pytest.raises(TallyError, match=r"0\.\.1000 questions"):
        aggregate([1] * 1001, [])


def test_an_election_of_mixed_questions_only_has_an_empty_tally() -> None:
    # Ranked and graded questions are never summed (R-MIX-11): the tally of such an
    # election has no question, and still parses (it fixes the counted set).
    empty = aggregate([], [(1, []), (2, [])])
    assert empty.shape == ()
    assert EncryptedTally.from_json(empty.to_json()).shape == ()
    with pytest.raises(TallyError, match="has 1 questions, expected 0"):
        aggregate([], [(1, [COUNTED[0][1][0]])])


def test_verify_aggregate_catches_a_dropped_or_altered_ballot() -> None:
    verify_aggregate(SHAPE, COUNTED, TALLY)
    with pytest.raises(TallyError, match="question 0 option 0"):
        verify_aggregate(SHAPE, COUNTED[1:], TALLY)
    with pytest.raises(TallyError, match="shape"):
        verify_aggregate((3,), [(w, b[:1]) for w, b in COUNTED], TALLY)


# -- serialisation ----------------------------------------------------------------------


def test_tally_partial_and_result_round_trip_and_are_strict() -> None:
    assert roundtrip(TALLY) == TALLY
    assert roundtrip(PARTIALS[1]) == PARTIALS[1]
    assert roundtrip(Result(EXPECTED)) == Result(EXPECTED)
    with pytest.raises(SchemaError, match="unknown field"):
        EncryptedTally.from_json({**TALLY.to_json(), "count": 3})
    with pytest.raises(SchemaError, match=r"tally.questions\[1\]: expected 1..1024 options"):
        EncryptedTally.from_json({"questions": [[TALLY.questions[0][0].to_json()], []]})
    doc = PARTIALS[1].to_json()
    doc["shares"][0][0]["factor"] = b64encode(b"\x02" + b"\x00" * 31)
    with pytest.raises(InvalidPoint, match=r"partial_decryption.shares\[0\]\[0\]"):
        PartialDecryption.from_json(doc)
    with pytest.raises(SchemaError, match="trustee: must be between 1 and 32"):
        PartialDecryption.from_json({**PARTIALS[1].to_json(), "trustee": 0})
    with pytest.raises(SchemaError, match=r"result.counts\[0\]\[1\]: expected a count"):
        Result.from_json({"counts": [[1, -1]]})
    with pytest.raises(SchemaError, match=r"result.counts\[0\]\[0\]: expected a count"):
        Result.from_json({"counts": [[True]]})
