"""The group boundary: every bad point and scalar is refused with the right error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings

from evote.drbg import SeededRng
from evote.errors import InvalidPoint, InvalidScalar
from evote.group import (
    IDENTITY,
    ONE,
    SMALL_ORDER_POINTS,
    ZERO,
    G,
    L,
    P,
    Point,
    Scalar,
    count_operations,
    small_multiple,
)

rng = SeededRng(b"test_group")
scalars = st.integers(min_value=0, max_value=L - 1).map(Scalar.from_int)
nonzero_scalars = st.integers(min_value=1, max_value=L - 1).map(Scalar.from_int)


def test_small_order_points_really_have_small_order() -> None:
    # Independent check of the hard-coded list: 8·T is the identity for each,
    # computed with libsodium's addition, which accepts torsion points.
    for t in SMALL_ORDER_POINTS:
        acc = t
        for _ in range(7):
            acc = bindings.crypto_core_ed25519_add(acc, t)
        assert acc == IDENTITY.raw
    assert len(set(SMALL_ORDER_POINTS)) == 8


@pytest.mark.parametrize("enc", SMALL_ORDER_POINTS, ids=lambda b: b.hex()[:8])
def test_small_order_points_rejected(enc: bytes) -> None:
    with pytest.raises(InvalidPoint):
        Point.from_bytes(enc)


def test_identity_rejected_unless_opted_in() -> None:
    with pytest.raises(InvalidPoint, match="identity"):
        Point.from_bytes(IDENTITY.raw)
    assert Point.from_bytes(IDENTITY.raw, allow_identity=True) is IDENTITY


@pytest.mark.parametrize("torsion", SMALL_ORDER_POINTS[1:], ids=lambda b: b.hex()[:8])
def test_points_with_torsion_component_rejected(torsion: bytes) -> None:
    # A main-subgroup point plus any non-trivial torsion point is on the curve
    # but outside the prime-order subgroup.
    for k in (1, 2, 12345):
        mixed = bindings.crypto_core_ed25519_add(small_multiple(k).raw, torsion)
        with pytest.raises(InvalidPoint, match="prime-order subgroup|small order"):
            Point.from_bytes(mixed)


def test_cve_2025_69277_vector_rejected() -> None:
    # The published shape of the bug: P + (0, -1) passed libsodium's subgroup
    # check because only X was compared after multiplying by L.
    order2 = SMALL_ORDER_POINTS[1]
    vector = bindings.crypto_core_ed25519_add(G.raw, order2)
    with pytest.raises(InvalidPoint, match="prime-order subgroup"):
        Point.from_bytes(vector)
    with pytest.raises(InvalidPoint):
        Point.from_json(Point(vector).to_json())


@pytest.mark.parametrize("y", [P, P + 1, P + 2, 2**255 - 1])
@pytest.mark.parametrize("sign", [0, 1])
def test_non_canonical_encodings_rejected(y: int, sign: int) -> None:
    enc = (y | (sign << 255)).to_bytes(32, "little")
    with pytest.raises(InvalidPoint, match="not canonical"):
        Point.from_bytes(enc)


def test_off_curve_rejected() -> None:
    # y = 2 has no x on edwards25519 (x^2 = (y^2-1)/(d y^2+1) is a non-residue).
    enc = (2).to_bytes(32, "little")
    assert not bindings.crypto_core_ed25519_is_valid_point(enc)
    with pytest.raises(InvalidPoint, match="not on the curve"):
        Point.from_bytes(enc)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_length_points_and_scalars(length: int) -> None:
    with pytest.raises(InvalidPoint):
        Point.from_bytes(bytes(length))
    with pytest.raises(InvalidScalar):
        Scalar.from_bytes(bytes(length))


@pytest.mark.parametrize("n", [L, L + 1, 2**253, 2**256 - 1])
def test_scalars_not_below_L_rejected(n: int) -> None:
    with pytest.raises(InvalidScalar, match=">= L"):
        Scalar.from_bytes(n.to_bytes(32, "little"))
    with pytest.raises(InvalidScalar):
        Scalar.from_json(Scalar(n.to_bytes(32, "little")).to_json())


def test_largest_scalar_accepted() -> None:
    assert Scalar.from_bytes((L - 1).to_bytes(32, "little")).value == L - 1


@settings(max_examples=50, deadline=None)
@given(nonzero_scalars)
def test_point_json_roundtrip(k: Scalar) -> None:
    p = Point.base_mul(k)
    assert Point.from_json(p.to_json()) == p
    assert Point.from_bytes(p.raw) == p


@settings(max_examples=50, deadline=None)
@given(scalars, scalars)
def test_scalar_arithmetic_matches_integers(a: Scalar, b: Scalar) -> None:
    assert (a + b).value == (a.value + b.value) % L
    assert (a - b).value == (a.value - b.value) % L
    assert (a * b).value == (a.value * b.value) % L
    assert (-a).value == (-a.value) % L
    if not a.is_zero():
        assert (a * a.inverse()) == ONE


@settings(max_examples=30, deadline=None)
@given(scalars, scalars)
def test_group_laws(a: Scalar, b: Scalar) -> None:
    pa, pb = Point.base_mul(a), Point.base_mul(b)
    assert pa + pb == Point.base_mul(a + b)
    assert pa - pb == Point.base_mul(a - b)
    assert G * a == pa
    assert pa * b == pb * a  # (a·G)·b = (b·G)·a


def test_identity_is_handled_explicitly() -> None:
    k = Scalar.random(rng)
    assert Point.base_mul(ZERO) == IDENTITY
    assert G * ZERO == IDENTITY
    assert IDENTITY * k == IDENTITY
    assert small_multiple(0) == IDENTITY
    assert G + IDENTITY == G
    assert G - G == IDENTITY
    assert -G + G == IDENTITY


def test_random_scalars_are_nonzero_and_canonical() -> None:
    seen = set()
    for _ in range(200):
        s = Scalar.random(rng)
        assert 0 < s.value < L
        seen.add(s.raw)
    assert len(seen) == 200


def test_random_scalar_uses_full_range() -> None:
    # Rejection sampling keeps 253-bit candidates: the top byte must take
    # values up to 0x10 (L's top byte), not be truncated to a short nonce.
    top = {Scalar.random(rng).raw[31] for _ in range(300)}
    assert max(top) >= 0x0F


def test_count_operations_counts_and_restores() -> None:
    k = Scalar.random(rng)
    with count_operations() as counts:
        Point.base_mul(k) + G * k
    assert counts["scalarmult_base"] == 1
    assert counts["scalarmult"] == 1
    assert counts["add"] == 1
    with count_operations() as again:
        pass
    G * k
    assert sum(again.values()) == 0
