"""Exponential ElGamal: roundtrip, homomorphism, bounded discrete log."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.drbg import SeededRng
from evote.elgamal import (
    ZERO_CIPHERTEXT,
    Ciphertext,
    decrypt_to_point,
    discrete_log,
    encrypt,
    encrypt_random,
    sum_ciphertexts,
)
from evote.errors import DecryptionError, InvalidPoint
from evote.group import IDENTITY, Point, Scalar, small_multiple

rng = SeededRng(b"test_elgamal")
SECRET = Scalar.random(rng)
KEY = Point.base_mul(SECRET)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000))
def test_roundtrip(m: int) -> None:
    ct, _ = encrypt_random(KEY, m, rng)
    assert discrete_log(decrypt_to_point(SECRET, ct), 1000) == m
    assert Ciphertext.from_json(ct.to_json()) == ct


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=8), st.integers(1, 50))
def test_homomorphic_sum_and_weights(ms: list[int], w: int) -> None:
    cts = [encrypt_random(KEY, m, rng)[0] for m in ms]
    total = sum_ciphertexts(cts)
    assert discrete_log(decrypt_to_point(SECRET, total), 20 * 8) == sum(ms)
    scaled = total.scale(Scalar.from_int(w))
    assert discrete_log(decrypt_to_point(SECRET, scaled), 20 * 8 * 50) == w * sum(ms)


def test_encryption_is_deterministic_given_randomness() -> None:
    r = Scalar.random(rng)
    assert encrypt(KEY, 1, r) == encrypt(KEY, 1, r)
    assert encrypt(KEY, 1, r) != encrypt(KEY, 0, r)


def test_vote_of_zero_and_empty_tally() -> None:
    ct, _ = encrypt_random(KEY, 0, rng)
    assert decrypt_to_point(SECRET, ct) == IDENTITY
    assert discrete_log(IDENTITY, 10) == 0
    assert sum_ciphertexts([]) == ZERO_CIPHERTEXT
    # The empty tally is (identity, identity): decodable only by opting in.
    with pytest.raises(InvalidPoint):
        Ciphertext.from_json(ZERO_CIPHERTEXT.to_json())
    assert Ciphertext.from_json(ZERO_CIPHERTEXT.to_json(), allow_identity=True) == ZERO_CIPHERTEXT


def test_discrete_log_bound_is_enforced() -> None:
    assert discrete_log(small_multiple(100), 100) == 100
    with pytest.raises(DecryptionError, match=r"\[0, 99\]"):
        discrete_log(small_multiple(100), 99)
    with pytest.raises(DecryptionError):
        discrete_log(Point.base_mul(Scalar.random(rng)), 10_000)


@pytest.mark.parametrize("bound", [0, 1, 2, 3, 15, 16, 17, 1000])
def test_discrete_log_every_value_near_bound(bound: int) -> None:
    for m in {0, bound // 2, bound}:
        assert discrete_log(small_multiple(m), bound) == m
