"""Exponential ElGamal over the prime-order subgroup of edwards25519.

.. warning:: hazmat layer.  Encryption here proves nothing about what was
   encrypted; ballots must go through :mod:`evote.ballot`, which attaches the
   proofs.

A message m is encrypted as (alpha, beta) = (r·G, m·G + r·K) under the election
key K.  Multiplying ciphertexts (adding points) adds messages, so a tally is the
component-wise sum of ballots; scaling by a public weight w multiplies the
message by w.  Decryption yields m·G, and m is recovered by a bounded discrete
logarithm, which is why only small messages (0/1 votes, small scores and their
sums) are ever encrypted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evote.encoding import Fields
from evote.errors import DecryptionError
from evote.group import IDENTITY, G, Point, Rng, Scalar, small_multiple


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """An exponential ElGamal ciphertext (alpha, beta) = (r·G, m·G + r·K)."""

    alpha: Point
    beta: Point

    @classmethod
    def from_json(cls, obj: Any, path: str = "ciphertext", *, allow_identity: bool = False) -> Ciphertext:
        """Decode and validate.  ``allow_identity`` only for aggregates that the
        caller recomputes itself (an empty tally is (identity, identity))."""
        f = Fields(obj, path, required=("alpha", "beta"))
        return cls(
            Point.from_json(f.raw("alpha"), allow_identity=allow_identity),
            Point.from_json(f.raw("beta"), allow_identity=allow_identity),
        )

    def to_json(self) -> dict:
        return {"alpha": self.alpha.to_json(), "beta": self.beta.to_json()}

    def __add__(self, other: Ciphertext) -> Ciphertext:
        """Homomorphic addition: encrypts the sum of the two messages."""
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)

    def scale(self, k: Scalar) -> Ciphertext:
        """Encrypts k times the message (used for public voter weights)."""
        return Ciphertext(self.alpha * k, self.beta * k)


#: The encryption of 0 with randomness 0: the neutral element for sums.
ZERO_CIPHERTEXT = Ciphertext(IDENTITY, IDENTITY)


def encrypt(key: Point, m: int, r: Scalar) -> Ciphertext:
    """Deterministic encryption of the small integer ``m`` with explicit randomness ``r``.

    Exposed so that audited ballots can be re-encrypted from their revealed
    randomness and so that test vectors reproduce byte for byte.
    """
    return Ciphertext(Point.base_mul(r), small_multiple(m) + key * r)


def encrypt_random(key: Point, m: int, rng: Rng) -> tuple[Ciphertext, Scalar]:
    """Encrypt with fresh uniform randomness; returns the randomness for the proofs."""
    r = Scalar.random(rng)
    return encrypt(key, m, r), r


def sum_ciphertexts(cts: list[Ciphertext]) -> Ciphertext:
    """Homomorphic sum; the sum of nothing is the encryption of 0."""
    acc = ZERO_CIPHERTEXT
    for ct in cts:
        acc = acc + ct
    return acc


def decrypt_to_point(secret: Scalar, ct: Ciphertext) -> Point:
    """m·G from a ciphertext and the whole secret key (tests and audits only;
    real elections decrypt by threshold, see :mod:`evote.tally`)."""
    return ct.beta - ct.alpha * secret


def discrete_log(point: Point, bound: int) -> int:
    """Find m in [0, bound] with m·G == point, by baby-step giant-step.

    Costs about 2·sqrt(bound) point additions.  The bound comes from the
    election (total weight of counted ballots, times the top score), so a wrong
    decryption is reported instead of searched for forever.
    """
    if bound < 0:
        raise DecryptionError("discrete-log bound must be non-negative")
    step = max(1, math.isqrt(bound) + 1)
    baby: dict[bytes, int] = {}
    acc = IDENTITY
    for j in range(step):
        baby.setdefault(acc.raw, j)
        acc = acc + G
    giant = -small_multiple(step)
    gamma = point
    for i in range(step + 1):
        j = baby.get(gamma.raw)
        if j is not None:
            m = i * step + j
            if m <= bound:
                return m
            break
        gamma = gamma + giant
    raise DecryptionError(f"decrypted value is not in [0, {bound}]")
