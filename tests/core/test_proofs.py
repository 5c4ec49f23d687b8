"""Zero-knowledge proofs: completeness, soundness against tampering, and the
weak-Fiat–Shamir forgery that the strong challenge defeats."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, encrypt, encrypt_random
from evote.errors import InvalidPoint, InvalidProof, InvalidScalar, SchemaError
from evote.group import G, Point, Scalar, small_multiple
from evote.hashing import TAG_RANGE, hash_to_scalar
from evote.proofs import (
    DleqProof,
    RangeProof,
    SchnorrProof,
    prove_dleq,
    prove_range,
    prove_schnorr,
    verify_dleq,
    verify_range,
    verify_schnorr,
)

rng = SeededRng(b"test_proofs")
SECRET = Scalar.random(rng)
KEY = Point.base_mul(SECRET)
CTX = [b"ballot-option", b"\x01" * 32, b"\x02" * 32, b"election", b"\x00" * 8]


def flip(data: bytes, byte: int, bit: int) -> bytes:
    out = bytearray(data)
    out[byte % len(out)] ^= 1 << bit
    return bytes(out)


def mutate_scalar(s: Scalar, byte: int, bit: int) -> Scalar | None:
    """A one-bit change of a scalar's encoding, or None if that leaves [0, L)."""
    try:
        return Scalar.from_bytes(flip(s.raw, byte, bit))
    except InvalidScalar:
        return None


def mutate_point(p: Point, byte: int, bit: int) -> Point | None:
    try:
        return Point.from_bytes(flip(p.raw, byte, bit))
    except InvalidPoint:  # rejected at decoding: never reaches a verifier
        return None


# -- completeness ------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 5), st.integers(0, 5), st.data())
def test_range_proof_verifies_for_every_value_in_range(lo: int, width: int, data) -> None:
    hi = lo + width
    m = data.draw(st.integers(lo, hi))
    ct, r = encrypt_random(KEY, m, rng)
    proof = prove_range(CTX, KEY, ct, m, r, lo, hi, rng)
    verify_range(CTX, KEY, ct, lo, hi, proof)
    assert RangeProof.from_json(proof.to_json(), width=hi - lo + 1) == proof


def test_schnorr_and_dleq_verify_and_roundtrip() -> None:
    proof = prove_schnorr(CTX, SECRET, rng)
    verify_schnorr(CTX, KEY, proof)
    assert SchnorrProof.from_json(proof.to_json()) == proof
    base = Point.base_mul(Scalar.random(rng))
    d, dproof = prove_dleq(CTX, SECRET, base, rng)
    verify_dleq(CTX, KEY, base, d, dproof)
    assert DleqProof.from_json(dproof.to_json()) == dproof


def test_prover_refuses_value_outside_range() -> None:
    ct, r = encrypt_random(KEY, 2, rng)
    with pytest.raises(ValueError, match="outside the range"):
        prove_range(CTX, KEY, ct, 2, r, 0, 1, rng)


# -- soundness: any single-bit change fails ------------------------------------

_ct1, _r1 = encrypt_random(KEY, 1, rng)
_proof1 = prove_range(CTX, KEY, _ct1, 1, _r1, 0, 1, rng)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["c0", "s0", "c1", "s1", "alpha", "beta", "key", "ctx"]),
    st.integers(0, 31),
    st.integers(0, 7),
)
def test_range_proof_fails_after_any_change(field: str, byte: int, bit: int) -> None:
    (c0, s0), (c1, s1) = _proof1.branches
    ct, key, ctx = _ct1, KEY, list(CTX)
    scalars = {"c0": c0, "s0": s0, "c1": c1, "s1": s1}
    if field in scalars:
        changed = mutate_scalar(scalars[field], byte, bit)
        if changed is None:
            return  # rejected at decoding (>= L); tested in test_group
        scalars[field] = changed
    elif field in ("alpha", "beta"):
        changed = mutate_point(getattr(ct, field), byte, bit)
        if changed is None:
            return
        ct = Ciphertext(changed, ct.beta) if field == "alpha" else Ciphertext(ct.alpha, changed)
    elif field == "key":
        changed = mutate_point(KEY, byte, bit)
        if changed is None:
            return
        key = changed
    else:
        ctx[byte % len(ctx)] = flip(ctx[byte % len(ctx)], byte, bit)
    proof = RangeProof(((scalars["c0"], scalars["s0"]), (scalars["c1"], scalars["s1"])))
    with pytest.raises(InvalidProof):
        verify_range(ctx, key, ct, 0, 1, proof)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["c", "s", "x", "base", "d", "ctx"]), st.integers(0, 31), st.integers(0, 7))
def test_dleq_fails_after_any_change(field: str, byte: int, bit: int) -> None:
    base = small_multiple(7)
    d, proof = prove_dleq(CTX, SECRET, base, rng)
    args = {"c": proof.challenge, "s": proof.response, "x": KEY, "base": base, "d": d}
    ctx = list(CTX)
    if field in ("c", "s"):
        changed = mutate_scalar(args[field], byte, bit)
    elif field == "ctx":
        ctx[0] = flip(ctx[0], byte, bit)
        changed = True
    else:
        changed = mutate_point(args[field], byte, bit)
    if changed is None:
        return
    if field != "ctx":
        args[field] = changed
    with pytest.raises(InvalidProof):
        verify_dleq(ctx, args["x"], args["base"], args["d"], DleqProof(args["c"], args["s"]))


def test_schnorr_for_another_key_or_context_fails() -> None:
    proof = prove_schnorr(CTX, SECRET, rng)
    with pytest.raises(InvalidProof):
        verify_schnorr(CTX, KEY + G, proof)
    with pytest.raises(InvalidProof):
        verify_schnorr([*CTX[:-1], b"\x00" * 7 + b"\x01"], KEY, proof)


def test_partial_decryption_with_wrong_share_fails() -> None:
    base = small_multiple(11)
    _, proof = prove_dleq(CTX, SECRET, base, rng)
    wrong_d = base * (SECRET + Scalar.from_int(1))
    with pytest.raises(InvalidProof, match="DLEQ"):
        verify_dleq(CTX, KEY, base, wrong_d, proof)


# -- overvotes through malleable ciphertexts -------------------------------------


@pytest.mark.parametrize("m", [2, -1, "L-1"])
def test_out_of_range_ciphertexts_fail_with_any_proof(m) -> None:
    r = Scalar.random(rng)
    if m == "L-1" or m == -1:
        # -1 and L-1 are the same exponent: beta = -G + r·K.
        bad = Ciphertext(Point.base_mul(r), -G + KEY * r)
    else:
        bad = encrypt(KEY, m, r)
    # A valid proof lifted from an honest ciphertext ...
    with pytest.raises(InvalidProof):
        verify_range(CTX, KEY, bad, 0, 1, _proof1)
    # ... and an honest-prover proof for the wrong range, relabelled.
    for value in (0, 1):
        good, rr = encrypt_random(KEY, value, rng)
        proof = prove_range(CTX, KEY, good, value, rr, 0, 1, rng)
        with pytest.raises(InvalidProof):
            verify_range(CTX, KEY, bad, 0, 1, proof)


def test_wrong_branch_count_is_rejected() -> None:
    with pytest.raises(InvalidProof, match="branches"):
        verify_range(CTX, KEY, _ct1, 0, 2, _proof1)
    with pytest.raises(SchemaError):
        RangeProof.from_json(_proof1.to_json(), width=3)


# -- weak Fiat–Shamir ----------------------------------------------------------


def weak_challenge(commitments: list[Point]) -> Scalar:
    """The broken challenge of Helios 2012 / Swiss Post 2019: commitments only."""
    return hash_to_scalar(TAG_RANGE, *(c.raw for c in commitments))


def weak_verify(key: Point, ct: Ciphertext, proof: RangeProof) -> None:
    commitments: list[Point] = []
    total = None
    for v, (c, s) in enumerate(proof.branches):
        commitments.append(Point.base_mul(s) - ct.alpha * c)
        commitments.append(key * s - (ct.beta - small_multiple(v)) * c)
        total = c if total is None else total + c
    if weak_challenge(commitments) != total:
        raise InvalidProof("weak proof does not verify")


def forge_with_statement_after_challenge() -> tuple[Point, Scalar, Ciphertext, RangeProof]:
    """A dishonest key holder proves "0 or 1" for an encryption of 2.

    Commit first (A_j = a_j·G, B_j = b_j·G), take the weak challenge c, then
    pick the split c0 + c1 = c and the key x so that both branches close:
    a_j·x = b_j + c_j·(2 − v_j).  Only possible because the key and the
    ciphertext are chosen after the challenge.
    """
    a0, b0, a1, b1, rho = (Scalar.random(rng) for _ in range(5))
    two = Scalar.from_int(2)
    c = weak_challenge([Point.base_mul(a0), Point.base_mul(b0), Point.base_mul(a1), Point.base_mul(b1)])
    c0 = (a0 * b1 + a0 * c - a1 * b0) * (two * a1 + a0).inverse()
    c1 = c - c0
    x = (b0 + two * c0) * a0.inverse()
    assert x == (b1 + c1) * a1.inverse()
    key = Point.base_mul(x)
    ct = encrypt(key, 2, rho)
    proof = RangeProof(((c0, a0 + c0 * rho), (c1, a1 + c1 * rho)))
    return key, x, ct, proof


def test_weak_fiat_shamir_forgery_is_rejected() -> None:
    key, x, ct, proof = forge_with_statement_after_challenge()
    # The forgery is real: the weak verifier accepts a ciphertext of 2 ...
    weak_verify(key, ct, proof)
    assert ct.beta - ct.alpha * x == small_multiple(2)
    # ... and the strong challenge, which hashes key, ciphertext, range and
    # context, rejects exactly the same transcript.
    with pytest.raises(InvalidProof, match="range proof does not verify"):
        verify_range(CTX, key, ct, 0, 1, proof)
