"""Mixers' signed mixes, the chain of mixes, and the threshold decryption of the
final list: each hostile change is rejected with its own error, then the
honest chain decrypts to the multiset of the ballots' rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.counting import count
from evote.dkg import trustee as dkg_trustee
from evote.drbg import SeededRng
from evote.elgamal import encrypt_random
from evote.encoding import canonical_json, parse_json
from evote.errors import (
    DecryptionError,
    InvalidPoint,
    InvalidShuffle,
    InvalidSignature,
    MixnetError,
    SchemaError,
    TallyError,
)
from evote.group import IDENTITY
from evote.hashing import TAG_MIX_SIGNATURE
from evote.mixdecryption import (
    DecryptedRows,
    RowsPartialDecryption,
    combine_rows,
    partial_decrypt_rows,
    verify_decrypted_rows,
    verify_partial_rows,
)
from evote.mixnet import (
    Mix,
    MixerKey,
    _signed_fields,  # the exact bytes a mixer signs
    check_mixers,
    initial_rows,
    mix,
    verify_mix,
    verify_mix_chain,
)
from evote.shuffle import RowList
from evote.signing import SigningKey

FP = b"\x5a" * 32
Q = 1
_rng = SeededRng(b"test_mixnet")
JOINT, _STATES, _ = dkg_trustee.run_ceremony("mixnet-test", 3, 2, _rng)
SHARES = {s.trustee: s.share for s in _STATES}
KEY = JOINT.joint_key
SIGNERS = [SigningKey.generate(_rng) for _ in range(3)]
MIXERS = [MixerKey(i + 1, s.verify_key) for i, s in enumerate(SIGNERS)]
BALLOTS = [[1, 2, 3, 0], [2, 1, 0, 0], [3, 1, 2, 4], [1, 0, 0, 0], [2, 1, 0, 0]]
INITIAL = RowList.of([[encrypt_random(KEY, m, _rng)[0] for m in row] for row in BALLOTS])


def run_chain(initial: RowList = INITIAL, rng=_rng) -> list[Mix]:
    mixes, current = [], initial
    for mixer, signer in zip(MIXERS, SIGNERS, strict=True):
        posted = mix(FP, KEY, Q, mixer.index, signer, current, rng)
        mixes.append(posted)
        current = posted.rows
    return mixes


MIXES = run_chain()
FINAL = MIXES[-1].rows
PARTIALS = {j: partial_decrypt_rows(FP, Q, j, SHARES[j], FINAL, _rng) for j in SHARES}


def roundtrip(obj, **kw):
    return type(obj).from_json(parse_json(canonical_json(obj.to_json())), **kw)


# -- the chain ----------------------------------------------------------------------


def test_a_mix_signed_by_another_key_is_rejected() -> None:
    forged = mix(FP, KEY, Q, 1, SIGNERS[1], INITIAL, _rng)
    with pytest.raises(InvalidSignature, match="mixer 1: signature on the mix does not verify"):
        verify_mix(FP, KEY, Q, MIXERS[0], INITIAL, forged)


def test_a_resigned_mix_of_another_mixer_fails_its_proof() -> None:
    """Mixer 2 takes mixer 1's honest shuffle and signs it as its own: the
    signature holds, but the proof is bound to mixer 1's index and key."""
    honest = MIXES[0]
    sig = SIGNERS[1].sign(
        TAG_MIX_SIGNATURE,
        _signed_fields(FP, Q, 2, honest.input_digest, honest.rows, honest.proof),
    )
    stolen = replace(honest, mixer=2, signature=sig)
    with pytest.raises(InvalidShuffle) as info:
        verify_mix(FP, KEY, Q, MIXERS[1], INITIAL, stolen)
    assert info.value.detail["check"] == "challenge"


def test_a_mix_of_another_list_is_rejected() -> None:
    other = RowList.of(INITIAL.rows[:4] + INITIAL.rows[:1])
    with pytest.raises(MixnetError, match="shuffled a list other than the one it was given"):
        verify_mix(FP, KEY, Q, MIXERS[0], other, MIXES[0])


def test_mixes_out_of_order_or_missing_are_rejected() -> None:
    with pytest.raises(MixnetError, match="mix by mixer 2, expected mixer 1"):
        verify_mix_chain(FP, KEY, Q, MIXERS, INITIAL, [MIXES[1], MIXES[0], MIXES[2]])
    with pytest.raises(MixnetError, match="2 mixes posted, 3 mixers named"):
        verify_mix_chain(FP, KEY, Q, MIXERS, INITIAL, MIXES[:2])
    with pytest.raises(MixnetError, match="mix for question 1, expected 0"):
        verify_mix_chain(FP, KEY, 0, MIXERS, INITIAL, MIXES)


def test_a_tampered_signed_field_breaks_the_signature() -> None:
    rows = list(MIXES[1].rows.rows)
    rows[0], rows[1] = rows[1], rows[0]
    swapped = replace(MIXES[1], rows=RowList(4, tuple(rows)))
    with pytest.raises(InvalidSignature):
        verify_mix(FP, KEY, Q, MIXERS[1], MIXES[0].rows, swapped)


def test_mixer_list_rules() -> None:
    with pytest.raises(SchemaError, match="numbered 1..2 in order"):
        check_mixers([MIXERS[1], MIXERS[0]])
    with pytest.raises(SchemaError, match="share a key"):
        check_mixers([MIXERS[0], MixerKey(2, MIXERS[0].verify_key)])
    with pytest.raises(SchemaError, match="mixer index must be 1..64"):
        MixerKey(0, MIXERS[0].verify_key)
    assert roundtrip(MIXERS[2]) == MIXERS[2]


def test_the_chain_verifies_after_a_json_round_trip() -> None:
    mixes = [roundtrip(m, width=4, count=5) for m in MIXES]
    assert mixes == MIXES
    assert verify_mix_chain(FP, KEY, Q, MIXERS, INITIAL, mixes) == FINAL


# -- decryption of the final list ------------------------------------------------------------


def test_a_factor_for_the_wrong_ciphertext_is_rejected() -> None:
    p = PARTIALS[1]
    factors = [list(r) for r in p.factors]
    factors[2][1], factors[2][3] = factors[2][3], factors[2][1]
    bad = replace(p, factors=tuple(map(tuple, factors)))
    with pytest.raises(DecryptionError, match="trustee 1: invalid proof for row 2 column 1"):
        verify_partial_rows(FP, Q, JOINT.verification_keys[1], FINAL, bad)


def test_a_partial_for_another_list_is_rejected() -> None:
    earlier = partial_decrypt_rows(FP, Q, 1, SHARES[1], MIXES[0].rows, _rng)
    with pytest.raises(DecryptionError, match="trustee 1: partial decryption is for another list"):
        verify_partial_rows(FP, Q, JOINT.verification_keys[1], FINAL, earlier)


def test_a_tally_context_proof_does_not_pass_here() -> None:
    """Same trustee, same ciphertext, proof bound to another question."""
    other_q = partial_decrypt_rows(FP, Q + 1, 1, SHARES[1], FINAL, _rng)
    moved = replace(other_q, question=Q)
    with pytest.raises(DecryptionError, match="invalid proof for row 0 column 0"):
        verify_partial_rows(FP, Q, JOINT.verification_keys[1], FINAL, moved)


def test_fewer_than_t_valid_partials_cannot_decrypt() -> None:
    with pytest.raises(DecryptionError, match="need 2 valid partial decryptions, have 1"):
        combine_rows(FP, Q, FINAL, [PARTIALS[3]], JOINT, 4)
    wrong_share = partial_decrypt_rows(FP, Q, 2, SHARES[1], FINAL, _rng)
    with pytest.raises(DecryptionError, match="trustee 2: invalid proof"):
        combine_rows(FP, Q, FINAL, [PARTIALS[1], wrong_share], JOINT, 4)


def test_a_value_beyond_the_bound_is_refused() -> None:
    with pytest.raises(DecryptionError, match=r"decrypted value is not in \[0, 3\]"):
        combine_rows(FP, Q, FINAL, PARTIALS.values(), JOINT, 3)


def test_a_wrong_posted_decryption_is_rejected() -> None:
    result = combine_rows(FP, Q, FINAL, PARTIALS.values(), JOINT, 4)
    rows = [list(r) for r in result.rows]
    rows[0][0] = (rows[0][0] + 1) % 5
    bad = replace(result, rows=tuple(map(tuple, rows)))
    with pytest.raises(TallyError, match="row 0 column 0"):
        verify_decrypted_rows(FP, Q, FINAL, PARTIALS.values(), JOINT, bad)


def test_any_t_trustees_decrypt_the_multiset_of_ballots() -> None:
    results = set()
    for pair in ((1, 2), (1, 3), (2, 3)):
        result = combine_rows(FP, Q, FINAL, [PARTIALS[j] for j in pair], JOINT, 4)
        verify_decrypted_rows(FP, Q, FINAL, PARTIALS.values(), JOINT, result)
        results.add(result)
    assert len(results) == 1
    (result,) = results
    assert Counter(result.rows) == Counter(map(tuple, BALLOTS))
    assert roundtrip(result) == result
    assert roundtrip(PARTIALS[2]) == PARTIALS[2]


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(1, 3), seed=st.binary(min_size=4, max_size=4))
def test_mix_then_decrypt_preserves_the_row_multiset(n: int, k: int, seed: bytes) -> None:
    rng = SeededRng(b"mixprop" + seed)
    plain = [tuple(int.from_bytes(rng(1), "big") % (k + 1) for _ in range(k)) for _ in range(n)]
    initial = RowList.of([[encrypt_random(KEY, m, rng)[0] for m in row] for row in plain])
    mixes = run_chain(initial, rng)
    final = verify_mix_chain(FP, KEY, Q, MIXERS, initial, mixes)
    partials = [partial_decrypt_rows(FP, Q, j, SHARES[j], final, rng) for j in (1, 3)]
    result = combine_rows(FP, Q, final, partials, JOINT, k)
    assert Counter(result.rows) == Counter(plain)


def test_decoding_rejects_bad_values() -> None:
    doc = DecryptedRows(Q, FINAL.digest(), ((1, 2, 3, 0),)).to_json()
    doc["rows"][0][1] = True
    with pytest.raises(SchemaError, match=r"decrypted\.rows\[0\]\[1\]: expected a non-negative integer"):
        DecryptedRows.from_json(doc)
    doc = PARTIALS[1].to_json()
    doc["factors"][0][0]["factor"] = IDENTITY.to_json()
    with pytest.raises(InvalidPoint, match=r"factors\[0\]\[0\]: point is the identity"):
        RowsPartialDecryption.from_json(doc)


# -- end to end: ballots -> mixes -> decryption -> count ------------------------------------


def test_ranked_ballots_through_the_mixnet_count_as_their_plaintexts() -> None:
    """Tennessee-shaped ballots (two questions; the ranked one is question 1):
    the count of the decrypted mixed rows is the count of the plaintext rows."""
    rng = SeededRng(b"end-to-end")
    plain = [[1, 2, 3, 4]] * 4 + [[4, 1, 2, 3]] * 3 + [[4, 3, 1, 2]] * 2 + [[4, 3, 2, 1]] * 2
    ballots = [
        [[encrypt_random(KEY, 1, rng)[0]], [encrypt_random(KEY, m, rng)[0] for m in row]]
        for row in plain
    ]
    initial = initial_rows(ballots, 1)
    final = verify_mix_chain(FP, KEY, Q, MIXERS, initial, run_chain(initial, rng))
    partials = [partial_decrypt_rows(FP, Q, j, SHARES[j], final, rng) for j in (2, 3)]
    result = combine_rows(FP, Q, final, partials, JOINT, 4)
    for method in ("irv", "schulze", "borda"):
        assert count(method, result.rows, 4, b"seed").to_json() == count(method, plain, 4, b"seed").to_json()
    with pytest.raises(MixnetError, match="counted ballot 0 has no question 2"):
        initial_rows(ballots, 2)
