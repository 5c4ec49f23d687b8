"""The DKG's public algebra: the second generator H, polynomials and their
commitments, Lagrange interpolation, Pedersen's check and the Schnorr proof to base H.

Holds no secret: the trustee side (``evote.dkg.trustee``) evaluates its own
polynomials with these functions, and the verifying side (``evote.dkg.verify``)
checks and rebuilds from public values with the same ones, so both agree by
construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from nacl import bindings

from evote.errors import InvalidProof
from evote.group import IDENTITY, ZERO, G, Point, Scalar
from evote.hashing import (
    CTX_DKG_BLINDING,
    CTX_DKG_COEFFICIENT,
    TAG_PEDERSEN_GENERATOR,
    TAG_SCHNORR_H,
    enc_int,
    enc_str,
    hash_to_scalar,
    tagged_hash,
)
from evote.proofs import SchnorrProof


def _pedersen_generator() -> Point:
    """H = from_uniform(tagged_hash("pedersen-generator", "evote/dkg/H")).

    libsodium's ``crypto_core_ed25519_from_uniform`` maps 32 bytes to the curve
    by Elligator 2 and multiplies by the cofactor 8, so the point lies in the
    prime-order subgroup; :meth:`Point.from_bytes` checks that again and
    rejects the identity.  Nobody knows log_G(H): it is a hash output.
    """
    seed = tagged_hash(TAG_PEDERSEN_GENERATOR, b"evote/dkg/H")
    point = Point.from_bytes(bindings.crypto_core_ed25519_from_uniform(seed))
    if point == G:
        raise AssertionError("the Pedersen generator must not be G")
    return point


H: Point = _pedersen_generator()
"""The second generator of the Pedersen commitments (docs/protocol-trustees.md §5.3)."""


# --------------------------------------------------------------------------
# Polynomials and their commitments (scalar arithmetic by libsodium)
# --------------------------------------------------------------------------


def _eval_polynomial(coefficients: Sequence[Scalar], x: int) -> Scalar:
    """f(x) by Horner's rule; x is a public trustee index."""
    xs = Scalar.from_int(x)
    acc = ZERO
    for a in reversed(coefficients):
        acc = acc * xs + a
    return acc


def _eval_commitments(points: Sequence[Point], x: int) -> Point:
    """Σ_k C_k·x^k, i.e. f(x)·G (or the Pedersen value) computed from commitments alone."""
    xs = Scalar.from_int(x)
    acc = IDENTITY
    for c in reversed(points):
        acc = acc * xs + c
    return acc


def interpolate(points: Sequence[tuple[int, Scalar]]) -> list[Scalar]:
    """The coefficients of the polynomial of degree < len(points) through ``points``.

    Lagrange's basis expanded into coefficients; x values are distinct public
    trustee indices.  Used to rebuild a QUAL dealer's polynomial in public.
    """
    xs = [x for x, _ in points]
    if len(set(xs)) != len(xs):
        raise ValueError("interpolation points must have distinct x")
    out = [ZERO] * len(points)
    for i, (xi, yi) in enumerate(points):
        basis = [Scalar.from_int(1)]
        denom = Scalar.from_int(1)
        for m, xm in enumerate(xs):
            if m == i:
                continue
            sxm = Scalar.from_int(xm)
            shifted = [ZERO, *basis]
            scaled = [c * sxm for c in basis] + [ZERO]
            basis = [a - b for a, b in zip(shifted, scaled, strict=True)]
            denom = denom * (Scalar.from_int(xi) - sxm)
        factor = yi * denom.inverse()
        out = [o + b * factor for o, b in zip(out, basis, strict=True)]
    return out


def _pedersen_ok(pedersen: Sequence[Point], recipient: int, share: Scalar, blinding: Scalar) -> bool:
    """Pedersen's check: s·G + s'·H == Σ_k E_k·j^k."""
    return Point.base_mul(share) + H * blinding == _eval_commitments(pedersen, recipient)


def _coefficient_context(election_id: str, trustee: int, k: int) -> list[bytes]:
    return [CTX_DKG_COEFFICIENT, enc_str(election_id), enc_int(trustee), enc_int(k)]


def _blinding_context(election_id: str, trustee: int, k: int) -> list[bytes]:
    return [CTX_DKG_BLINDING, enc_str(election_id), enc_int(trustee), enc_int(k)]


def _schnorr_h_challenge(ctx: Sequence[bytes], public: Point, commitment: Point) -> Scalar:
    return hash_to_scalar(TAG_SCHNORR_H, *ctx, H.raw, public.raw, commitment.raw)


def verify_schnorr_h(ctx: Sequence[bytes], public: Point, proof: SchnorrProof) -> None:
    """Raise :class:`InvalidProof` unless ``proof`` shows knowledge of log_H(public)."""
    u = H * proof.response - public * proof.challenge
    if _schnorr_h_challenge(ctx, public, u) != proof.challenge:
        raise InvalidProof("Schnorr proof (base H) does not verify")
